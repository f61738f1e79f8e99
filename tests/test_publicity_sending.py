"""The broadcaster against Telegram's limits: the sandbox over HTTP, or scripted failures."""

from __future__ import annotations

import asyncio
import contextlib
import io
import shutil
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import SendMessage, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import Chat, Message
from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.broadcaster import Broadcaster
from bot.publicity_jobs import publish_article
from bot.sandbox.config import SandboxConfig
from bot.sandbox.server import RunningSandbox, run_sandbox
from bot.services import ServiceContext
from quizzes.publicity import ArticleStatus, Audience, BroadcastState
from storage.database import create_engine, create_session_factory
from storage.models import ParticipantRow
from storage.models_publicity import ArticleRow, ChannelPostRow, DeliveryRow
from storage.publicity import PublicityRepository
from tests.factories import World, build_world
from tests.publicity_factories import add_people, broadcaster_for, make_article, status_counts

ADMIN = 1


@pytest.fixture
async def world(session_factory: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(session_factory)


@pytest.fixture
async def sqlite_factory(
    tmp_path: Path, sqlite_template: Path
) -> AsyncIterator[tuple[str, async_sessionmaker[AsyncSession]]]:
    """For behaviour that does not depend on the database (Telegram's answers): SQLite."""
    path = tmp_path / "pufa.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite+aiosqlite:///{path}"
    engine = create_engine(url)
    yield url, create_session_factory(engine)
    await engine.dispose()


@contextlib.asynccontextmanager
async def sandbox_with(**limits: Any) -> AsyncIterator[RunningSandbox]:
    async with run_sandbox(SandboxConfig(**limits)) as running:
        running.sandbox.register_user(ADMIN, started=True)
        yield running


def messages_per_chat(sandbox: RunningSandbox, chats: range | list[int]) -> Counter[int]:
    counts: Counter[int] = Counter()
    for chat_id in chats:
        chat = sandbox.sandbox.chats.get(chat_id)
        counts[chat_id] = len(chat.bot_messages) if chat else 0
    return counts


async def test_broadcast_to_thousands_within_the_limits(
    database_url: str, session_factory: async_sessionmaker[AsyncSession], world: World
) -> None:
    """12,000 recipients on PostgreSQL (2,000 on SQLite), 2% of whom blocked the bot,
    with Telegram's limits on: every delivery is accounted for and no 429 is provoked."""
    total = 12_000 if database_url.startswith("postgresql") else 2_000
    people = range(100_000, 100_000 + total)
    blocked = set(people[::50])
    await add_people(session_factory, people, world.classes["七年级1班"].id)
    article = await make_article(session_factory, link="https://example.org/law")
    # The sandbox allows 1,000/s in bulk; the broadcaster keeps just under it.
    async with sandbox_with(global_per_s=1000.0, global_burst=1000) as sandbox:
        for telegram_id in people:
            sandbox.sandbox.register_user(telegram_id, started=True)
        for telegram_id in blocked:
            sandbox.sandbox.block(telegram_id)
        broadcaster = broadcaster_for(
            sandbox.url,
            sandbox.config.token,
            database_url,
            session_factory,
            rate=950.0,
            concurrency=32,
        )
        await broadcaster.start()
        try:
            broadcast = await broadcaster.start_broadcast(
                article.id, created_by=ADMIN, locale="zh-CN", progress_chat_id=ADMIN
            )
            finished = await broadcaster.wait_until_finished(broadcast.id, timeout=120)
        finally:
            await broadcaster.stop()
        stats = await sandbox.client.stats()
        received = messages_per_chat(sandbox, people)
        [progress] = await sandbox.client.messages(ADMIN)

    assert finished.state is BroadcastState.DONE and broadcast.total == total
    assert await status_counts(session_factory, broadcast.id) == {
        "sent": total - len(blocked),
        "blocked": len(blocked),
    }
    assert stats["status_429"] == 0
    assert {chat for chat, n in received.items() if n != 1} == blocked
    assert all(received[chat] == 0 for chat in blocked)
    async with session_factory() as session:
        marked = set(
            await session.scalars(
                select(ParticipantRow.telegram_id).where(ParticipantRow.blocked_at.is_not(None))
            )
        )
        unsent = await session.scalar(
            select(DeliveryRow.id).where(
                DeliveryRow.status == "sent", DeliveryRow.message_id.is_(None)
            )
        )
    assert marked == blocked and unsent is None
    assert "推送完成" in progress["text"]
    assert f"已送达 {total - len(blocked)}" in progress["text"]
    assert f"已屏蔽 {len(blocked)}" in progress["text"]
    assert progress["reply_markup"] is None  # no pause button on a finished broadcast


async def test_a_429_stops_everyone_and_the_delivery_is_retried(
    sqlite_factory: tuple[str, async_sessionmaker[AsyncSession]],
) -> None:
    database_url, session_factory = sqlite_factory
    world = await build_world(session_factory)
    people = range(500, 540)
    await add_people(session_factory, people, world.classes["七年级1班"].id)
    article = await make_article(session_factory)
    # The broadcaster is told it may send 500/s; Telegram allows 20/s: 429s follow.
    async with sandbox_with(global_per_s=20.0, global_burst=10) as sandbox:
        for telegram_id in people:
            sandbox.sandbox.register_user(telegram_id, started=True)
        broadcaster = broadcaster_for(
            sandbox.url,
            sandbox.config.token,
            database_url,
            session_factory,
            rate=500.0,
            concurrency=8,
        )
        await broadcaster.start()
        try:
            broadcast = await broadcaster.start_broadcast(
                article.id, created_by=ADMIN, locale="zh-CN", progress_chat_id=None
            )
            await broadcaster.wait_until_finished(broadcast.id, timeout=60)
        finally:
            await broadcaster.stop()
        stats = await sandbox.client.stats()
        received = messages_per_chat(sandbox, people)
    assert stats["status_429"] > 0
    assert set(received.values()) == {1}
    assert await status_counts(session_factory, broadcast.id) == {"sent": len(people)}
    async with session_factory() as session:
        attempts = list(await session.scalars(select(DeliveryRow.attempts)))
    assert sum(attempts) == len(people) + stats["status_429"]


class ScriptedSession(BaseSession):
    """Answers sendMessage per chat from a script: ``ok`` or an exception to raise."""

    def __init__(self, script: dict[int, list[str]]) -> None:
        super().__init__()
        self.script = script
        self.calls: Counter[int] = Counter()

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        assert isinstance(method, SendMessage)
        chat_id = int(method.chat_id)
        self.calls[chat_id] += 1
        steps = self.script.get(chat_id, ["ok"])
        step = steps[min(self.calls[chat_id], len(steps)) - 1]
        if step == "500":
            raise TelegramServerError(method, "Internal Server Error")
        if step == "net":
            raise TelegramNetworkError(method, "Request timeout error")
        if step == "400":
            raise TelegramBadRequest(method, "Bad Request: chat not found")
        if step == "403":
            raise TelegramForbiddenError(method, "Forbidden: user is deactivated")
        if step == "429":
            raise TelegramRetryAfter(method, "Too Many Requests: retry after 1", 1)
        message = Message(
            message_id=1000 + chat_id,
            date=datetime.now(UTC),
            chat=Chat(id=chat_id, type="private"),
            text=method.text,
        )
        return message  # type: ignore[return-value]

    async def close(self) -> None:
        return None

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:  # pragma: no cover
        yield b""


async def test_each_kind_of_failure_is_decided_on_its_own(
    sqlite_factory: tuple[str, async_sessionmaker[AsyncSession]],
) -> None:
    database_url, session_factory = sqlite_factory
    world = await build_world(session_factory)
    people = list(range(1, 21))
    await add_people(session_factory, people, world.classes["七年级1班"].id)
    article = await make_article(session_factory)
    script = {
        1: ["500", "500", "ok"],  # recovers within the attempts
        2: ["net", "net", "net"],  # gives up after three
        3: ["400"],
        4: ["403"],
        5: ["429", "ok"],
    }
    session = ScriptedSession(script)
    bot = Bot("42:TEST-token", session=session)
    broadcaster = broadcaster_for(
        "http://127.0.0.1:9",
        "42:TEST-token",
        database_url,
        session_factory,
        bot=bot,
        rate=1000.0,
        concurrency=4,
        max_attempts=3,
        backoff_s=0.01,
    )
    await broadcaster.start()
    try:
        broadcast = await broadcaster.start_broadcast(
            article.id, created_by=ADMIN, locale="zh-CN", progress_chat_id=None
        )
        await broadcaster.wait_until_finished(broadcast.id, timeout=30)
    finally:
        await broadcaster.stop()
    async with session_factory() as db:
        rows = {
            row.chat_id: row
            for row in await db.scalars(
                select(DeliveryRow).where(DeliveryRow.broadcast_id == broadcast.id)
            )
        }
        deactivated = await db.scalar(
            select(ParticipantRow.blocked_at).where(ParticipantRow.telegram_id == 4)
        )
    assert (rows[1].status, rows[1].attempts, rows[1].message_id) == ("sent", 3, 1001)
    assert (rows[2].status, rows[2].attempts) == ("failed", 3)
    assert rows[2].error is not None and "TelegramNetworkError" in rows[2].error
    assert (rows[3].status, rows[3].error) == ("failed", "Bad Request: chat not found")
    assert (rows[4].status, rows[4].error) == ("blocked", "Forbidden: user is deactivated")
    assert deactivated is not None
    assert (rows[5].status, rows[5].attempts) == ("sent", 2)
    assert all(rows[chat].status == "sent" for chat in range(6, 21))
    assert session.calls[5] == 2 and session.calls[2] == 3


async def test_two_broadcasters_on_one_database_never_send_the_same_delivery(
    database_url: str, session_factory: async_sessionmaker[AsyncSession], world: World
) -> None:
    people = range(700_000, 700_800)
    await add_people(session_factory, people, world.classes["七年级1班"].id)
    article = await make_article(session_factory)
    async with sandbox_with(enforce_limits=False) as sandbox:
        for telegram_id in people:
            sandbox.sandbox.register_user(telegram_id, started=True)
        first, second = (
            broadcaster_for(
                sandbox.url,
                sandbox.config.token,
                database_url,
                session_factory,
                rate=300.0,  # claims of 300 rows: each gets its share of 800
                concurrency=16,
                claimer=f"{name}:1:abc",
            )
            for name in ("host-a", "host-b")
        )
        async with session_factory() as session:
            repo = PublicityRepository(session)
            broadcast = await repo.start_broadcast(
                article.id, created_by=ADMIN, locale="zh-CN", progress_chat_id=ADMIN
            )
            await repo.commit()
        await first.start()
        await second.start()
        try:
            await first.wait_until_finished(broadcast.id, timeout=60)
        finally:
            await first.stop()
            await second.stop()
        received = messages_per_chat(sandbox, people)
        progress_messages = await sandbox.client.messages(ADMIN)
    assert set(received.values()) == {1}
    async with session_factory() as session:
        senders = Counter(await session.scalars(select(DeliveryRow.claimed_by)))
    assert set(senders) == {"host-a:1:abc", "host-b:1:abc"}
    assert sum(senders.values()) == len(people)
    assert len(progress_messages) == 1  # one progress message, whoever edits it


def tiny_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


async def test_a_cover_is_uploaded_once_then_sent_by_file_id(
    sqlite_factory: tuple[str, async_sessionmaker[AsyncSession]],
) -> None:
    database_url, session_factory = sqlite_factory
    world = await build_world(session_factory)
    people = range(800, 806)
    await add_people(session_factory, people, world.classes["七年级1班"].id)
    article = await make_article(session_factory, photo_bytes=tiny_png())
    async with sandbox_with() as sandbox:
        for telegram_id in people:
            sandbox.sandbox.register_user(telegram_id, started=True)
        broadcaster = broadcaster_for(
            sandbox.url, sandbox.config.token, database_url, session_factory, concurrency=4
        )
        await broadcaster.start()
        try:
            broadcast = await broadcaster.start_broadcast(
                article.id, created_by=ADMIN, locale="zh-CN", progress_chat_id=None
            )
            await broadcaster.wait_until_finished(broadcast.id, timeout=30)
        finally:
            await broadcaster.stop()
        file_ids = {
            (await sandbox.client.messages(chat))[0]["photo"][0]["file_id"] for chat in people
        }
        uploads = len(sandbox.sandbox.files)
    async with session_factory() as session:
        stored = await session.get(ArticleRow, article.id)
    assert stored is not None and file_ids == {stored.photo_file_id}
    assert uploads == 1


async def test_scheduled_articles_go_out_by_job_or_by_the_broadcasters_own_loop(
    database_url: str, session_factory: async_sessionmaker[AsyncSession], world: World
) -> None:
    people = range(900, 905)
    await add_people(session_factory, people, world.classes["七年级1班"].id)
    past = datetime.now(UTC) - timedelta(minutes=2)
    async with session_factory() as session:
        repo = PublicityRepository(session)
        by_job, by_loop = [
            await repo.create_article(
                title=title,
                body="x",
                author_id=ADMIN,
                audience=Audience(),
                publish_at=past,
                status=ArticleStatus.SCHEDULED,
            )
            for title in ("by job", "by loop")
        ]
        await repo.commit()
    async with sandbox_with() as sandbox:
        for telegram_id in people:
            sandbox.sandbox.register_user(telegram_id, started=True)
        broadcaster = broadcaster_for(
            sandbox.url,
            sandbox.config.token,
            database_url,
            session_factory,
            publish_fallback_s=None,
        )
        # The scheduler's job publishes its article, however often it runs.
        await publish_article(broadcaster_context(broadcaster), by_job.id)
        await publish_article(broadcaster_context(broadcaster), by_job.id)
        await broadcaster.start()
        try:
            async with session_factory() as session:
                [job_broadcast] = await PublicityRepository(session).active_broadcasts()
            await broadcaster.wait_until_finished(job_broadcast.id, timeout=30)
        finally:
            await broadcaster.stop()
        # Without a job, the broadcaster's loop publishes what is overdue.
        fallback = broadcaster_for(
            sandbox.url,
            sandbox.config.token,
            database_url,
            session_factory,
            publish_fallback_s=60.0,
        )
        await fallback.start()
        try:
            async with asyncio.timeout(30):
                while True:
                    if await article_status(session_factory, by_loop.id) == "published":
                        break
                    await asyncio.sleep(0.05)
            async with session_factory() as session:
                active = await PublicityRepository(session).active_broadcasts()
            for broadcast in active:
                await fallback.wait_until_finished(broadcast.id, timeout=30)
        finally:
            await fallback.stop()
        received = messages_per_chat(sandbox, people)
    assert set(received.values()) == {2}


def broadcaster_context(broadcaster: Broadcaster) -> ServiceContext:
    return ServiceContext(
        broadcaster.settings,
        broadcaster.session_factory,
        Bot("42:TEST-token"),
        broadcaster.translator,
    )


async def article_status(
    session_factory: async_sessionmaker[AsyncSession], article_id: int
) -> str | None:
    async with session_factory() as session:
        return await session.scalar(select(ArticleRow.status).where(ArticleRow.id == article_id))


# ---------------------------------------------------------------------- the channel

CHANNEL = -1_001_234_567_890


def buttons_of(message: dict[str, Any]) -> list[dict[str, str]]:
    markup = message.get("reply_markup") or {}
    return [button for row in markup.get("inline_keyboard", []) for button in row]


async def channel_rows(
    session_factory: async_sessionmaker[AsyncSession], broadcast_id: int
) -> list[ChannelPostRow]:
    async with session_factory() as session:
        return list(
            await session.scalars(
                select(ChannelPostRow).where(ChannelPostRow.broadcast_id == broadcast_id)
            )
        )


async def test_the_channel_gets_the_article_once_with_its_link_only(
    database_url: str, session_factory: async_sessionmaker[AsyncSession], world: World
) -> None:
    """Two broadcasters share the work; the channel (addressed by @username) gets one
    post, with the tracked link and no "read" button, and counts as nobody's delivery."""
    people = range(710_000, 710_030)
    await add_people(session_factory, people, world.classes["七年级1班"].id)
    article = await make_article(session_factory, link="https://example.org/law", to_channel=True)
    async with sandbox_with(enforce_limits=False) as sandbox:
        sandbox.sandbox.create_channel(CHANNEL, "第七师普法", "pufa_news")
        for telegram_id in people:
            sandbox.sandbox.register_user(telegram_id, started=True)
        first, second = (
            broadcaster_for(
                sandbox.url,
                sandbox.config.token,
                database_url,
                session_factory,
                channel="@pufa_news",
                claimer=f"{name}:1:abc",
            )
            for name in ("host-a", "host-b")
        )
        async with session_factory() as session:
            repo = PublicityRepository(session)
            broadcast = await repo.start_broadcast(
                article.id,
                created_by=ADMIN,
                locale="zh-CN",
                progress_chat_id=ADMIN,
                channel="@pufa_news",
            )
            await repo.commit()
        await first.start()
        await second.start()
        try:
            finished = await first.wait_until_finished(broadcast.id, timeout=60)
            await asyncio.sleep(0.3)  # both had time to look again
        finally:
            await first.stop()
            await second.stop()
        posts = await sandbox.client.messages(CHANNEL)
        [progress] = await sandbox.client.messages(ADMIN)
        received = messages_per_chat(sandbox, people)

    assert finished.state is BroadcastState.DONE
    [post] = posts
    assert (
        post["text"].startswith("宪法宣传周") and post["message"]["sender_chat"]["id"] == CHANNEL
    )
    [link] = buttons_of(post)
    assert "callback_data" not in link and link["text"] == "🔗 阅读原文"
    token = link["url"].rsplit("/r/", 1)[1]
    assert token.startswith(f"{article.id}.0.")  # tracked as the channel, nobody's click
    assert set(received.values()) == {1}
    # The deliveries are people only: the figures cannot count the channel.
    assert await status_counts(session_factory, broadcast.id) == {"sent": len(people)}
    async with session_factory() as session:
        figures = await PublicityRepository(session).figures_by_school(article.id)
    assert figures[-1].delivered == len(people)
    [row] = await channel_rows(session_factory, broadcast.id)
    assert (row.status, row.message_id, row.chat, row.attempts) == (
        "sent",
        post["message_id"],
        "@pufa_news",
        1,
    )
    assert "推送完成" in progress["text"] and "频道 @pufa_news：已发布" in progress["text"]


async def test_a_channel_post_lost_in_a_crash_is_posted_once_after_the_restart(
    sqlite_factory: tuple[str, async_sessionmaker[AsyncSession]],
) -> None:
    database_url, session_factory = sqlite_factory
    world = await build_world(session_factory)
    people = range(720, 724)
    await add_people(session_factory, people, world.classes["七年级1班"].id)
    article = await make_article(session_factory, to_channel=True)
    async with session_factory() as session:
        repo = PublicityRepository(session)
        broadcast = await repo.start_broadcast(
            article.id,
            created_by=ADMIN,
            locale="zh-CN",
            progress_chat_id=None,
            channel=str(CHANNEL),
        )
        # A sender claimed the post, then died before Telegram answered.
        [claimed] = await repo.claim_channel_posts(
            "far-host:1:gone", datetime.now(UTC) - timedelta(hours=1)
        )
        await repo.commit()
    assert claimed.broadcast_id == broadcast.id
    async with sandbox_with() as sandbox:
        sandbox.sandbox.create_channel(CHANNEL, "第七师普法")
        for telegram_id in people:
            sandbox.sandbox.register_user(telegram_id, started=True)
        for _life in range(2):  # a restart, then another one: still one post
            broadcaster = broadcaster_for(
                sandbox.url,
                sandbox.config.token,
                database_url,
                session_factory,
                channel=str(CHANNEL),
                lease_s=60.0,
            )
            await broadcaster.start()
            try:
                await broadcaster.wait_until_finished(broadcast.id, timeout=30)
            finally:
                await broadcaster.stop()
        posts = await sandbox.client.messages(CHANNEL)
    assert len(posts) == 1 and buttons_of(posts[0]) == []  # no link: no buttons at all
    [row] = await channel_rows(session_factory, broadcast.id)
    assert row.status == "sent" and row.message_id == posts[0]["message_id"]


@pytest.mark.parametrize(
    ("admin", "member", "reason"),
    [
        (False, True, "Bad Request: need administrator rights in the channel chat"),
        (False, False, "Forbidden: bot is not a member of the channel chat"),
    ],
)
async def test_a_refusing_channel_is_reported_and_never_stops_the_broadcast(
    sqlite_factory: tuple[str, async_sessionmaker[AsyncSession]],
    admin: bool,
    member: bool,
    reason: str,
) -> None:
    database_url, session_factory = sqlite_factory
    world = await build_world(session_factory)
    people = range(730, 736)
    await add_people(session_factory, people, world.classes["七年级1班"].id)
    article = await make_article(session_factory, to_channel=True, photo_bytes=tiny_png())
    async with sandbox_with() as sandbox:
        sandbox.sandbox.create_channel(CHANNEL, "第七师普法", admin=admin, member=member)
        for telegram_id in people:
            sandbox.sandbox.register_user(telegram_id, started=True)
        broadcaster = broadcaster_for(
            sandbox.url,
            sandbox.config.token,
            database_url,
            session_factory,
            channel=str(CHANNEL),
            concurrency=2,
        )
        await broadcaster.start()
        try:
            broadcast = await broadcaster.start_broadcast(
                article.id, created_by=ADMIN, locale="zh-CN", progress_chat_id=ADMIN
            )
            finished = await broadcaster.wait_until_finished(broadcast.id, timeout=30)
        finally:
            await broadcaster.stop()
        [progress] = await sandbox.client.messages(ADMIN)
        received = messages_per_chat(sandbox, people)
        in_channel = sandbox.sandbox.bot_messages(CHANNEL)
    assert finished.state is BroadcastState.DONE
    assert set(received.values()) == {1} and in_channel == []
    assert await status_counts(session_factory, broadcast.id) == {"sent": len(people)}
    [row] = await channel_rows(session_factory, broadcast.id)
    assert (row.status, row.error, row.attempts) == ("failed", reason, 1)
    assert f"频道 {CHANNEL}：未能发布（{reason}）" in progress["text"]
    assert f"已送达 {len(people)}" in progress["text"]
