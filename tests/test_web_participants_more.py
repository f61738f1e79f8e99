"""The participant pages' articles and check-ins, and /link in chat, on both databases:
an article page opened is one read (across reloads, and across the chat's button), a
lecture's check-in counts once in its window, and /link CODE merges the web participant
into the chat's so that the report counts the person once."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from bot.application.quiz import answer_options, start_attempt
from bot.application.web_participants import csrf_token, participant_key
from bot.views.publicity import ReadCb
from bot.web.participant_pages import DEVICE_COOKIE
from quizzes.attempts import SignedIn
from quizzes.participants import Role
from quizzes.publicity import ArticleStatus, Audience
from storage.models import ParticipantRow
from storage.models_publicity import ArticleReadRow, ArticleRow, LectureCheckinRow
from storage.models_quiz import AttemptRow
from storage.unit_of_work import UnitOfWork
from tests.mocked_bot import user
from tests.publicity_chat import chat
from tests.publicity_factories import add_people
from tests.quiz_world import open_campaign
from tests.test_registration import group_update
from tests.test_web_participants import CLASS, FORM_TOKEN, SCHOOL, Site, school_figures, site

__all__ = ["chat", "site"]  # the fixtures

pytestmark = pytest.mark.db

ARTICLE_LINK = re.compile(r'href="/m/articles/(\d+)"')


async def publish(
    site: Site,
    title: str,
    audience: Audience,
    *,
    body: str = "宪法是国家的根本法。",
    days_ago: int = 0,
) -> int:
    """An article published to ``audience`` (as a broadcast leaves it), its id."""
    now = datetime.now(UTC) - timedelta(days=days_ago)
    async with site.chat.session_factory() as session:
        row = ArticleRow(
            title=title,
            body=body,
            audience=audience.to_json(),
            author_id=1,
            created_at=now,
            publish_at=now,
            status=ArticleStatus.PUBLISHED.value,
            link_secret="s" * 32,
        )
        session.add(row)
        await session.commit()
        return row.id


async def lecture(site: Site, audience: Audience, *, starts_in: timedelta) -> int:
    starts = datetime.now(UTC) + starts_in
    async with site.chat.session_factory() as session:
        uow = UnitOfWork.over(session)
        created = await uow.lectures.create(
            title="宪法与少年",
            speaker="李老师",
            starts_at=starts,
            ends_at=starts + timedelta(minutes=45),
            link=None,
            audience=audience,
            created_by=1,
        )
        await session.commit()
        return created.id


async def reads(site: Site, article_id: int) -> int:
    async with site.chat.session_factory() as session:
        query = select(func.count()).where(ArticleReadRow.article_id == article_id)
        return int(await session.scalar(query) or 0)


async def check_ins(site: Site, lecture_id: int) -> int:
    async with site.chat.session_factory() as session:
        query = select(func.count()).where(LectureCheckinRow.lecture_id == lecture_id)
        return int(await session.scalar(query) or 0)


@dataclass
class Phone:
    client: TestClient
    csrf: str
    participant_id: int
    recovery: str


async def joined_phone(site: Site, name: str = "小林") -> Phone:
    """A phone joined to the class (its forms' token, the participant, the recovery code)."""
    phone = site.make_client()
    await phone.start_server()
    recovery = await site.join(phone, name)
    device = phone.session.cookie_jar.filter_cookies(phone.make_url("/m/"))[DEVICE_COOKIE]
    csrf = csrf_token(participant_key(site.chat.context.settings.token), device.value)
    async with site.chat.session_factory() as session:
        found = await session.scalar(
            select(ParticipantRow.id).where(
                ParticipantRow.telegram_id.is_(None), ParticipantRow.display_name == name
            )
        )
    assert found is not None
    return Phone(phone, csrf, found, recovery)


def in_class(site: Site, *roles: Role) -> Audience:
    return Audience(frozenset({site.chat.world.classes[CLASS].id}), frozenset(roles))


async def test_the_home_lists_the_articles_of_the_unit_and_a_page_open_is_one_read(
    site: Site,
) -> None:
    school = site.chat.world.schools[SCHOOL]
    other = site.chat.world.schools["一三一团中学"]
    mine = await publish(site, "宪法宣传周", Audience(frozenset({school.id})))
    everyone = await publish(site, "致全体师生", Audience())
    teachers = await publish(site, "教师培训通知", in_class(site, Role.TEACHER))
    elsewhere = await publish(site, "一三一团中学通知", Audience(frozenset({other.id})))
    old = await publish(site, "去年的文章", Audience(), days_ago=60)
    phone = (await joined_phone(site)).client
    home = await (await phone.get("/m/")).text()
    listed = {int(found) for found in ARTICLE_LINK.findall(home)}
    assert listed == {mine, everyone}, home
    for refused in (teachers, elsewhere, old, 999999):
        assert (await phone.get(f"/m/articles/{refused}")).status == 404
    for _ in range(3):  # reloads
        page = await phone.get(f"/m/articles/{mine}")
        assert page.status == 200
        assert "宪法是国家的根本法。" in await page.text()
    assert await reads(site, mine) == 1
    assert await reads(site, teachers) == 0
    # The body's formatting is kept, everything else is text.
    body = (
        "<b>第一条</b> &lt;script&gt;alert(1)&lt;/script&gt; "
        '<a href="javascript:alert(2)">点我</a> <a href="https://example.org/?a=1&amp;b=2">原文</a>'
    )
    article = await publish(site, "<i>标题</i>", Audience(), body=body)
    text = await (await phone.get(f"/m/articles/{article}")).text()
    assert "<b>第一条</b>" in text
    assert "&lt;script&gt;alert(1)" in text and "<script>" not in text
    assert "javascript:" not in text and "点我</a>" not in text
    assert 'href="https://example.org/?a=1&amp;b=2"' in text
    assert "&lt;i&gt;标题&lt;/i&gt;" in text


async def test_a_lecture_is_checked_into_once_and_only_in_its_window(site: Site) -> None:
    running = await lecture(site, in_class(site), starts_in=timedelta(minutes=-5))
    later = await lecture(site, in_class(site), starts_in=timedelta(hours=3))
    other = site.chat.world.schools["一三一团中学"]
    elsewhere = await lecture(site, Audience(frozenset({other.id})), starts_in=timedelta(0))
    joined = await joined_phone(site)
    phone, csrf = joined.client, joined.csrf
    home = await (await phone.get("/m/")).text()
    assert f"/m/lectures/{running}/checkin" in home
    assert f"/m/lectures/{later}/checkin" not in home and "签到将于" in home
    assert f"/m/lectures/{elsewhere}/checkin" not in home
    forged = await phone.post(f"/m/lectures/{running}/checkin", data={"csrf_token": "x"})
    assert forged.status == 403
    for notice in ("签到成功", "已经签到过了"):
        done = await phone.post(f"/m/lectures/{running}/checkin", data={"csrf_token": csrf})
        assert done.status == 200 and notice in await done.text()
    assert await check_ins(site, running) == 1
    early = await phone.post(f"/m/lectures/{later}/checkin", data={"csrf_token": csrf})
    assert early.status == 409 and "签到还没开始" in await early.text()
    refused = await phone.post(f"/m/lectures/{elsewhere}/checkin", data={"csrf_token": csrf})
    assert refused.status == 404
    assert await check_ins(site, later) == 0 and await check_ins(site, elsewhere) == 0
    site.clock.offset = timedelta(hours=2)
    latecomer = await joined_phone(site, "小王")
    over = await latecomer.client.post(
        f"/m/lectures/{running}/checkin", data={"csrf_token": latecomer.csrf}
    )
    assert over.status == 409 and "签到已于" in await over.text()
    assert await check_ins(site, running) == 1


async def begin(site: Site, participant_id: int, campaign_id: int, chat_id: int | None) -> int:
    """An attempt started through the use case both doors call, its id."""
    async with site.chat.session_factory() as session:
        uow = UnitOfWork.over(session)
        participant = await uow.participants.by_id(participant_id)
        assert participant is not None
        begun = await start_attempt(
            uow, campaign_id, participant, chat_id=chat_id, clock=site.clock
        )
        assert begun is not None and begun.started.attempt is not None
        await session.commit()
        return begun.started.attempt.id


async def take_quiz(
    site: Site, participant_id: int, campaign_id: int, chat_id: int | None
) -> None:
    """A whole attempt answered right, through the use cases both doors call."""
    attempt_id = await begin(site, participant_id, campaign_id, chat_id)
    async with site.chat.session_factory() as session:
        uow = UnitOfWork.over(session)
        for seq in range(1, 6):
            question = await uow.attempts.question(attempt_id, seq)
            assert question is not None
            right = frozenset(question.order.index(i) for i in question.question.correct)
            await answer_options(
                uow, SignedIn(participant_id), attempt_id, seq, right, clock=site.clock
            )
        await session.commit()


async def attempt_numbers(site: Site, participant_id: int) -> list[int]:
    async with site.chat.session_factory() as session:
        rows = await session.scalars(
            select(AttemptRow.number)
            .where(AttemptRow.participant_id == participant_id)
            .order_by(AttemptRow.number)
        )
        return list(rows)


async def chat_participant(site: Site, telegram_id: int) -> int:
    async with site.chat.session_factory() as session:
        found = await UnitOfWork.over(session).participants.by_telegram_id(telegram_id)
        assert found is not None
        return found.id


async def test_link_moves_the_web_history_and_the_report_counts_the_person_once(
    site: Site,
) -> None:
    campaign = await open_campaign(site.chat.session_factory, attempts_allowed=2)
    article = await publish(site, "宪法宣传周", Audience())
    running = await lecture(site, in_class(site), starts_in=timedelta(minutes=-5))
    chat_id = await chat_participant(site, 3000)
    for _ in range(2):
        await take_quiz(site, chat_id, campaign.id, chat_id=3000)
    before = await school_figures(site)
    joined = await joined_phone(site)
    for _ in range(2):
        await take_quiz(site, joined.participant_id, campaign.id, chat_id=None)
    await joined.client.get(f"/m/articles/{article}")
    await joined.client.post(f"/m/lectures/{running}/checkin", data={"csrf_token": joined.csrf})
    both = await school_figures(site)
    assert both == (before[0] + 1, before[1] + 1, before[2] + 1, 1, 1)
    answer = await site.chat.say(3000, f"/link {joined.recovery.lower()}")
    assert "合并完成" in answer and "2 次答题" in answer, answer
    # Four attempts of a campaign that allows two: both histories kept, one after the other.
    assert await attempt_numbers(site, chat_id) == [1, 2, 3, 4]
    assert await attempt_numbers(site, joined.participant_id) == []
    assert await reads(site, article) == 1 and await check_ins(site, running) == 1
    assert await school_figures(site) == (*before[:3], 0, 0)
    # The phone now signs in as the chat's participant; the code opens them too.
    home = await (await joined.client.get("/m/")).text()
    assert "你好，p3000" in home
    other_phone = site.make_client()
    await other_phone.start_server()
    form = await (await other_phone.get("/m/recover")).text()
    token = FORM_TOKEN.search(form)
    assert token is not None
    await other_phone.post(
        "/m/recover", data={"code": joined.recovery, "form_token": token.group(1)}
    )
    assert "你好，p3000" in await (await other_phone.get("/m/")).text()
    # A read in chat of the article read on the web is still the one read.
    await site.chat.press(3000, ReadCb(article=article).pack())
    assert await reads(site, article) == 1


async def test_link_refuses_a_wrong_code_another_unit_and_a_second_link(site: Site) -> None:
    other = site.chat.world.schools["一三一团中学"]
    await add_people(site.chat.session_factory, [3100], other.id)
    first = await joined_phone(site)
    second = await joined_phone(site, "小王")
    assert "6 位找回码" in await site.chat.say(3000, "/link")
    assert "找回码不对" in await site.chat.say(3000, "/link ZZZZZZ")
    elsewhere = await site.chat.say(3100, f"/link {first.recovery}")
    assert "不能合并" in elsewhere and CLASS in elsewhere
    assert "合并完成" in await site.chat.say(3000, f"/link {first.recovery}")
    assert "已经和网页合并过了" in await site.chat.say(3000, f"/link {second.recovery}")
    assert "已经和网页合并过了" in await site.chat.say(3000, f"/link {first.recovery}")
    assert "私聊" in await say_in_group(site, 3001, f"/link {second.recovery}")
    # One attempt under way per campaign and person: not two once merged.
    campaign = await open_campaign(site.chat.session_factory)
    await add_people(site.chat.session_factory, [3002], site.chat.world.classes[CLASS].id)
    await begin(site, second.participant_id, campaign.id, None)
    await begin(site, await chat_participant(site, 3002), campaign.id, 3002)
    assert "没答完" in await site.chat.say(3002, f"/link {second.recovery}")
    assert len(await web_people(site)) == 1  # the second is still their own person
    # Guessing is limited like the pages' recovery: five tries a minute, then even the
    # right code waits.
    for _ in range(5):
        assert "找回码不对" in await site.chat.say(3001, "/link ZZZZZZ")
    assert "尝试次数太多" in await site.chat.say(3001, f"/link {second.recovery}")
    assert len(await web_people(site)) == 1


async def say_in_group(site: Site, telegram_id: int, text: str) -> str:
    await site.chat.feed(group_update(user(telegram_id), text))
    return site.chat.bot.sent_texts(-100500)[-1]


async def web_people(site: Site) -> list[int]:
    async with site.chat.session_factory() as session:
        rows = await session.scalars(
            select(ParticipantRow.id).where(ParticipantRow.telegram_id.is_(None))
        )
        return list(rows)
