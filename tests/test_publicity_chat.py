"""Publicity in chat, end to end: the bot runs against the sandbox over HTTP.

Composing with /post, progress with pause/resume buttons, the "read" button, tracked
links through the bot's own web server, /articles and /stats article.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import running_bot
from bot.broadcaster import Broadcaster
from bot.config import Settings
from bot.sandbox.client import SandboxClient
from bot.sandbox.config import SandboxConfig
from bot.sandbox.server import RunningSandbox, run_sandbox
from bot.views.audience import OpenCb, UnitCb
from bot.views.publicity import BroadcastCb, PostCb
from quizzes.participants import GrantKind
from quizzes.publicity import Audience, BroadcastAction
from storage.models import ParticipantRow
from storage.models_publicity import ArticleRow, BroadcastRow, ChannelPostRow, LinkClickRow
from storage.repositories import Repositories
from tests.factories import World, build_world
from tests.publicity_factories import add_people, make_article, status_counts

ADMIN = 1
COORDINATOR = 2


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    # A staff member's chat gets several messages in a row here; the per-chat limit is
    # not what these tests are about (the broadcaster's own tests keep it on).
    async with run_sandbox(SandboxConfig(per_chat_burst=30)) as running:
        yield running


@pytest.fixture
async def world(session_factory: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(session_factory)


def settings_for(sandbox: RunningSandbox, database_url: str, **extra: object) -> Settings:
    return Settings(
        bot_token=sandbox.config.token,
        bot_api_url=sandbox.url,
        database_url=database_url,
        admin_ids=frozenset({ADMIN}),
        listen_port=free_port(),
        **extra,  # type: ignore[arg-type]
    )


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 15.0) -> Any:
    """Poll ``check`` until it returns something truthy."""
    async with asyncio.timeout(timeout):
        while True:
            result = await check()
            if result:
                return result
            await asyncio.sleep(0.05)


async def message_where(
    client: SandboxClient, chat_id: int, predicate: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    async def find() -> dict[str, Any] | None:
        for message in reversed(await client.messages(chat_id)):
            if predicate(message):
                return message
        return None

    found: dict[str, Any] = await eventually(find)
    return found


def button_texts(message: dict[str, Any]) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [button["text"] for row in markup.get("inline_keyboard", []) for button in row]


async def press(client: SandboxClient, user_id: int, message: dict[str, Any], text: str) -> str:
    query = await client.press_button(user_id, message["message_id"], text)
    answer = await client.wait_for_callback_answer(query)
    return str(answer.get("text") or "")


async def add_staff(
    session_factory: async_sessionmaker[AsyncSession], world: World, sandbox: RunningSandbox
) -> None:
    school = world.schools["胡杨河市第一中学"]
    await add_people(session_factory, [ADMIN], school.id, "teacher")
    await add_people(session_factory, [COORDINATOR], school.id, "teacher")
    async with session_factory() as session:
        repo = Repositories.over(session)
        coordinator = await repo.participants.by_telegram_id(COORDINATOR)
        assert coordinator is not None
        await repo.grants.grant(coordinator.id, GrantKind.COORDINATOR, school.id, ADMIN)
        await session.commit()
    for telegram_id in (ADMIN, COORDINATOR):
        sandbox.sandbox.register_user(telegram_id, started=True)


async def test_progress_controls_reads_links_and_figures(
    sandbox: RunningSandbox,
    database_url: str,
    world: World,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    client = sandbox.client
    people = list(range(3000, 3012))
    await add_staff(session_factory, world, sandbox)
    await add_people(session_factory, people, world.classes["七年级1班"].id)
    for telegram_id in people:
        sandbox.sandbox.register_user(telegram_id, started=True)
    link = "https://example.org/constitution-day"
    article = await make_article(
        session_factory, audience=Audience(frozenset({world.classes["七年级1班"].id})), link=link
    )
    settings = settings_for(sandbox, database_url, broadcast_rate=6.0, broadcast_concurrency=2)
    async with running_bot(settings, migrate=False) as app:
        broadcaster = app.services["broadcaster"]
        assert isinstance(broadcaster, Broadcaster)
        broadcast = await broadcaster.start_broadcast(
            article.id, created_by=ADMIN, locale="zh-CN", progress_chat_id=ADMIN
        )
        progress = await message_where(client, ADMIN, lambda m: "正在推送" in m.get("text", ""))
        assert button_texts(progress) == ["⏸ 暂停", "⏹ 取消推送"]

        # Someone else cannot pause it, even with a forged press.
        pause = BroadcastCb(id=broadcast.id, action=BroadcastAction.PAUSE).pack()
        query = await client.press(
            people[0], progress["message_id"], pause, chat_id=ADMIN, forge=True
        )
        answer = await client.wait_for_callback_answer(query)
        assert "只有发起推送的人或管理员" in answer["text"]

        assert await press(client, ADMIN, progress, "⏸ 暂停") == "已暂停"
        paused = await message_where(client, ADMIN, lambda m: "已暂停推送" in m.get("text", ""))
        assert button_texts(paused) == ["▶️ 继续", "⏹ 取消推送"]
        settled = await status_counts(session_factory, broadcast.id)
        await asyncio.sleep(1.0)
        assert await status_counts(session_factory, broadcast.id) == settled
        assert settled.get("pending", 0) > 0  # paused before the end

        assert await press(client, ADMIN, paused, "▶️ 继续") == "已继续推送"
        done = await message_where(client, ADMIN, lambda m: "推送完成" in m.get("text", ""))
        assert f"已送达 {len(people)}" in done["text"] and button_texts(done) == []
        assert await status_counts(session_factory, broadcast.id) == {"sent": len(people)}

        # Reading: once per person, a toast either way.
        reader = people[0]
        [delivered] = await client.messages(reader)
        assert delivered["text"].startswith("宪法宣传周")
        assert await press(client, reader, delivered, "✅ 已阅读") == "已记录，谢谢阅读！"
        assert await press(client, reader, delivered, "✅ 已阅读") == "你已经标记过已读了。"

        # The tracked link: counted once per person, redirected every time.
        url = delivered["reply_markup"]["inline_keyboard"][1][0]["url"]
        assert url.startswith(f"http://127.0.0.1:{settings.listen_port}/r/")
        async with aiohttp.ClientSession() as http:
            for _ in range(2):
                async with http.get(url, allow_redirects=False) as response:
                    assert response.status == 302
                    assert response.headers["Location"] == link
            async with http.get(url[:-3] + "xyz", allow_redirects=False) as response:
                assert response.status == 404
        async with session_factory() as session:
            clicks = list(await session.scalars(select(LinkClickRow)))
        assert [(c.article_id, c.clicks) for c in clicks] == [(article.id, 2)]

        # Figures by school, for the bureau.
        await client.send_text(ADMIN, f"/stats article {article.id}")
        stats = await message_where(client, ADMIN, lambda m: "各校" in m.get("text", ""))
        assert f"胡杨河市第一中学：送达 {len(people)} · 已读 1 · 点击 1" in stats["text"]
        await client.send_text(people[1], f"/stats article {article.id}")
        refused = await message_where(client, people[1], lambda m: "text" in m)
        assert "各校" not in refused["text"]

        # /articles lists what a person received and shows it again.
        await client.send_text(reader, "/articles")
        listing = await message_where(client, reader, lambda m: "最近收到" in m.get("text", ""))
        assert button_texts(listing) == ["宪法宣传周"]
        await press(client, reader, listing, "宪法宣传周")
        again = await message_where(
            client,
            reader,
            lambda m: (
                m.get("text", "").startswith("宪法宣传周")
                and m["message_id"] > delivered["message_id"]
            ),
        )
        assert button_texts(again) == ["✅ 已阅读", "🔗 阅读原文"]


async def test_composing_a_post_in_chat(
    sandbox: RunningSandbox,
    database_url: str,
    world: World,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    client = sandbox.client
    first_school, other_school = world.schools["胡杨河市第一中学"], world.schools["一三一团中学"]
    students = list(range(4000, 4006))
    others = list(range(4100, 4103))
    await add_staff(session_factory, world, sandbox)
    await add_people(session_factory, students, world.classes["七年级2班"].id)
    await add_people(session_factory, others, other_school.id)
    for telegram_id in students + others:
        sandbox.sandbox.register_user(telegram_id, started=True)
    settings = settings_for(sandbox, database_url, broadcast_rate=50.0)
    async with running_bot(settings, migrate=False):
        # Too long for one message: the reason, before anything is stored or sent.
        await client.send_text(ADMIN, "/post")
        await message_where(client, ADMIN, lambda m: "请发送要推送的文章" in m.get("text", ""))
        await client.send_text(ADMIN, "长文\n" + "字" * 4094)
        refused = await message_where(client, ADMIN, lambda m: "文章太长" in m.get("text", ""))
        assert "4098" in refused["text"] and "4096" in refused["text"]

        # The admin posts to everyone, with a tracked link and a test send first.
        await client.send_text(ADMIN, "法治进校园\n宪法是国家的根本法。\nhttps://example.org/law")
        themes = await message_where(client, ADMIN, lambda m: "主题" in m.get("text", ""))
        await press(client, ADMIN, themes, "宪法")
        preview = await message_where(
            client, ADMIN, lambda m: m.get("text", "").startswith("法治进校园")
        )
        assert preview["text"] == "法治进校园\n\n宪法是国家的根本法。"
        assert preview["entities"][0]["type"] == "bold"
        assert button_texts(preview) == ["✅ 已阅读", "🔗 阅读原文"]
        kinds = await message_where(client, ADMIN, lambda m: "推送给谁" in m.get("text", ""))
        await press(client, ADMIN, kinds, "全体订阅者")
        roles = await message_where(client, ADMIN, lambda m: "哪些身份" in m.get("text", ""))
        await press(client, ADMIN, roles, "下一步 »")
        when = await message_where(client, ADMIN, lambda m: "什么时候" in m.get("text", ""))
        await press(client, ADMIN, when, "立即推送")
        summary = await message_where(client, ADMIN, lambda m: "请确认" in m.get("text", ""))
        assert "全体订阅者" in summary["text"] and "人数：11" in summary["text"]
        assert await press(client, ADMIN, summary, "先发给我测试") == "测试消息已发给你。"
        await message_where(
            client,
            ADMIN,
            lambda m: (
                m.get("text", "").startswith("法治进校园")
                and m["message_id"] > preview["message_id"]
            ),
        )
        await press(client, ADMIN, summary, "✅ 确认推送")
        await message_where(client, ADMIN, lambda m: "推送完成" in m.get("text", ""))
        for telegram_id in students + others:
            [received] = await client.messages(telegram_id)
            assert received["text"].startswith("法治进校园")

        # A coordinator reaches only their own school, and only who they choose.
        await client.send_text(COORDINATOR, "/post")
        await message_where(client, COORDINATOR, lambda m: "请发送" in m.get("text", ""))
        await client.send_text(COORDINATOR, "致学生\n本周五宪法晨读。")
        themes = await message_where(client, COORDINATOR, lambda m: "主题" in m.get("text", ""))
        await press(client, COORDINATOR, themes, "宪法")
        kinds = await message_where(client, COORDINATOR, lambda m: "推送给谁" in m.get("text", ""))
        assert button_texts(kinds) == ["全校（胡杨河市第一中学）", "按班级选择", "« 返回", "取消"]
        await press(client, COORDINATOR, kinds, "全校（胡杨河市第一中学）")
        roles = await message_where(client, COORDINATOR, lambda m: "哪些身份" in m.get("text", ""))
        await press(client, COORDINATOR, roles, "学生")
        roles = await message_where(client, COORDINATOR, lambda m: "✅ 学生" in button_texts(m))
        await press(client, COORDINATOR, roles, "下一步 »")
        when = await message_where(client, COORDINATOR, lambda m: "什么时候" in m.get("text", ""))
        await client.send_text(COORDINATOR, "2099-01-01 08:00")
        summary = await message_where(client, COORDINATOR, lambda m: "请确认" in m.get("text", ""))
        assert first_school.name in summary["text"] and "学生" in summary["text"]
        assert "人数：6" in summary["text"] and "2099-01-01 08:00" in summary["text"]
        await press(client, COORDINATOR, summary, "✅ 确认推送")
        await message_where(client, COORDINATOR, lambda m: "已安排在" in m.get("text", ""))
    async with session_factory() as session:
        scheduled = await session.scalar(select(ArticleRow).where(ArticleRow.title == "致学生"))
        broadcasts = list(await session.scalars(select(BroadcastRow)))
        teachers = await session.scalar(
            select(ParticipantRow.blocked_at).where(ParticipantRow.telegram_id == COORDINATOR)
        )
    assert scheduled is not None and scheduled.status == "scheduled"
    assert scheduled.theme == "constitution"
    assert scheduled.audience == {"units": [first_school.id], "roles": ["student"]}
    assert sorted(b.test_send for b in broadcasts) == [False, True]
    assert teachers is None
    del when


CHANNEL = -1_009_876_543_210


async def test_classes_the_channel_toggle_and_stats_usage(
    sandbox: RunningSandbox,
    database_url: str,
    world: World,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    client = sandbox.client
    school = world.schools["胡杨河市第一中学"]
    class_1, class_2 = world.classes["七年级1班"], world.classes["七年级2班"]
    elsewhere = world.classes["三年级1班"]  # another school's class
    in_1, in_2 = list(range(5000, 5003)), list(range(5100, 5104))
    await add_staff(session_factory, world, sandbox)
    await add_people(session_factory, in_1, class_1.id)
    await add_people(session_factory, in_2, class_2.id)
    await add_people(session_factory, [5200], elsewhere.id)
    for telegram_id in [*in_1, *in_2, 5200]:
        sandbox.sandbox.register_user(telegram_id, started=True)
    sandbox.sandbox.create_channel(CHANNEL, "第七师普法")
    settings = settings_for(sandbox, database_url, publicity_channel=str(CHANNEL))
    async with running_bot(settings, migrate=False):
        # A coordinator narrows the post to one class of their school; no channel toggle.
        await client.send_text(COORDINATOR, "/post")
        await message_where(client, COORDINATOR, lambda m: "请发送" in m.get("text", ""))
        await client.send_text(COORDINATOR, "七年级2班家长会\n周五下午三点。")
        themes = await message_where(client, COORDINATOR, lambda m: "主题" in m.get("text", ""))
        await press(client, COORDINATOR, themes, "其他")
        kinds = await message_where(client, COORDINATOR, lambda m: "推送给谁" in m.get("text", ""))
        await press(client, COORDINATOR, kinds, "按班级选择")
        classes = await message_where(
            client, COORDINATOR, lambda m: "胡杨河市第一中学的班级" in m.get("text", "")
        )
        assert button_texts(classes) == ["七年级1班", "七年级2班", "« 返回", "下一步 »", "取消"]
        # A forged button naming another school's class, or that school, is refused.
        for forged in (
            UnitCb(unit=elsewhere.id),
            OpenCb(school=world.schools["一三七团第一小学"].id),
        ):
            query = await client.press(
                COORDINATOR, classes["message_id"], forged.pack(), forge=True
            )
            answer = await client.wait_for_callback_answer(query)
            assert "只能选择自己负责的学校" in answer["text"]
        await press(client, COORDINATOR, classes, "七年级2班")
        classes = await message_where(
            client, COORDINATOR, lambda m: "✅ 七年级2班" in button_texts(m)
        )
        await press(client, COORDINATOR, classes, "下一步 »")
        roles = await message_where(client, COORDINATOR, lambda m: "哪些身份" in m.get("text", ""))
        await press(client, COORDINATOR, roles, "下一步 »")
        when = await message_where(client, COORDINATOR, lambda m: "什么时候" in m.get("text", ""))
        await press(client, COORDINATOR, when, "立即推送")
        summary = await message_where(client, COORDINATOR, lambda m: "请确认" in m.get("text", ""))
        assert "胡杨河市第一中学 · 七年级2班" in summary["text"] and "人数：4" in summary["text"]
        assert button_texts(summary) == ["✅ 确认推送", "先发给我测试", "« 返回", "取消"]
        query = await client.press(
            COORDINATOR, summary["message_id"], PostCb(action="channel").pack(), forge=True
        )
        assert "频道" not in str((await client.wait_for_callback_answer(query)).get("text"))
        await press(client, COORDINATOR, summary, "✅ 确认推送")
        await message_where(client, COORDINATOR, lambda m: "推送完成" in m.get("text", ""))
        for telegram_id in in_2:
            [received] = await client.messages(telegram_id)
            assert received["text"].startswith("七年级2班家长会")
        assert all(sandbox.sandbox.bot_messages(t) == [] for t in [*in_1, 5200])
        assert sandbox.sandbox.bot_messages(CHANNEL) == []

        # The admin also posts to the channel: the toggle shows only with a channel set.
        await client.send_text(ADMIN, "/post")
        await message_where(client, ADMIN, lambda m: "请发送" in m.get("text", ""))
        await client.send_text(ADMIN, "宪法晨读\n每周一早上。\nhttps://example.org/read")
        themes = await message_where(client, ADMIN, lambda m: "主题" in m.get("text", ""))
        await press(client, ADMIN, themes, "宪法")
        kinds = await message_where(client, ADMIN, lambda m: "推送给谁" in m.get("text", ""))
        await press(client, ADMIN, kinds, "按学校选择")
        schools = await message_where(client, ADMIN, lambda m: "请选择学校" in m.get("text", ""))
        await press(client, ADMIN, schools, school.name)
        schools = await message_where(
            client, ADMIN, lambda m: f"✅ {school.name}" in button_texts(m)
        )
        await press(client, ADMIN, schools, "下一步 »")
        roles = await message_where(client, ADMIN, lambda m: "哪些身份" in m.get("text", ""))
        await press(client, ADMIN, roles, "下一步 »")
        when = await message_where(client, ADMIN, lambda m: "什么时候" in m.get("text", ""))
        await press(client, ADMIN, when, "立即推送")
        summary = await message_where(client, ADMIN, lambda m: "请确认" in m.get("text", ""))
        assert "☐ 同时发布到频道" in button_texts(summary) and "频道" not in summary["text"]
        await press(client, ADMIN, summary, "☐ 同时发布到频道")
        summary = await message_where(
            client, ADMIN, lambda m: "☑️ 同时发布到频道" in button_texts(m)
        )
        assert f"频道：同时发布到 {CHANNEL}" in summary["text"]
        await press(client, ADMIN, summary, "✅ 确认推送")
        done = await message_where(
            client, ADMIN, lambda m: "《宪法晨读》推送完成" in m.get("text", "")
        )
        assert f"频道 {CHANNEL}：已发布" in done["text"] and "已送达 9" in done["text"]
        [post] = sandbox.sandbox.bot_messages(CHANNEL)
        assert post["text"].startswith("宪法晨读") and button_texts(post) == ["🔗 阅读原文"]

        # The channel's readers are anonymous: their clicks are counted, not their people.
        url = post["reply_markup"]["inline_keyboard"][0][0]["url"]
        async with aiohttp.ClientSession() as http:
            for _ in range(2):
                async with http.get(url, allow_redirects=False) as response:
                    assert response.status == 302
                    assert response.headers["Location"] == "https://example.org/read"
        async with session_factory() as session:
            read_id = await session.scalar(
                select(ArticleRow.id).where(ArticleRow.title == "宪法晨读")
            )
            assert not list(await session.scalars(select(LinkClickRow)))
        await client.send_text(ADMIN, f"/stats article {read_id}")
        figures = await message_where(
            client, ADMIN, lambda m: m.get("text", "").startswith("《宪法晨读》")
        )
        assert "频道帖子里的链接：被点击 2 次" in figures["text"]

        # /stats alone or unknown: the figures there are; /stats lecture still reaches
        # the lectures' handler.
        async def answer_to(text: str) -> str:
            before = len(await client.messages(ADMIN))
            await client.send_text(ADMIN, text)
            await client.wait_for_messages(ADMIN, before + 1)
            await asyncio.sleep(0.2)  # and nothing more
            answers = (await client.messages(ADMIN))[before:]
            assert len(answers) == 1, answers
            return str(answers[0]["text"])

        for text in ("/stats", "/stats foo", "/stats@pufa_sandbox_bot"):
            usage = await answer_to(text)
            assert usage.startswith("可以查看的统计") and "/qstats" in usage
            assert "/stats article" in usage and "/stats lecture" in usage
        assert await answer_to("/stats lecture 999") == "没有编号为 999 的公开课。"
        assert await answer_to("/stats article") == "用法：/stats article 文章编号"
        await client.send_text(in_1[0], "/stats")
        refused = await message_where(client, in_1[0], lambda m: "text" in m)
        assert "可以查看的统计" not in refused["text"]
    async with session_factory() as session:
        articles = {a.title: a for a in await session.scalars(select(ArticleRow))}
        channel_posts = list(await session.scalars(select(ChannelPostRow)))
    assert articles["七年级2班家长会"].audience == {"units": [class_2.id], "roles": []}
    assert not articles["七年级2班家长会"].to_channel and articles["宪法晨读"].to_channel
    assert [(p.chat, p.status) for p in channel_posts] == [(str(CHANNEL), "sent")]
