"""Publicity rules and the outbox repository (SQLite and PostgreSQL), no Telegram."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiogram.types import Chat, Message, MessageEntity, PhotoSize
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.article_format import check_article
from bot.broadcaster import SendLimiter, claimer_is_dead, new_claimer
from handlers.publicity import parse_post
from quizzes.participants import Grant, GrantKind, Role
from quizzes.permissions import Permissions
from quizzes.publicity import (
    ArticleStatus,
    Audience,
    AudienceError,
    AudienceProblem,
    BroadcastAction,
    BroadcastState,
    ComposeProblem,
    DeliveryStatus,
    Outcome,
    Progress,
    check_audience,
    eta_seconds,
    link_token,
    next_state,
    parse_link_token,
    parse_publish_at,
    verify_link_token,
)
from quizzes.units import Unit, UnitKind
from storage.models import ParticipantRow
from storage.models_publicity import DeliveryRow
from storage.publicity import PublicityRepository
from tests.factories import World, build_world
from tests.publicity_factories import add_people, make_article, status_counts

SHANGHAI = ZoneInfo("Asia/Shanghai")

# ---------------------------------------------------------------------- rules


def school(unit_id: int, path: str) -> Unit:
    return Unit(unit_id, UnitKind.SCHOOL, f"s{unit_id}", None, path)


def test_coordinators_may_address_only_their_own_school() -> None:
    units = {
        3: school(3, "/1/2/3/"),
        4: Unit(4, UnitKind.CLASS, "c", 3, "/1/2/3/4/"),
        9: school(9, "/1/8/9/"),
    }
    coordinator = Permissions.from_grants(
        [Grant(1, GrantKind.COORDINATOR, 3)], configured_admin=False
    )
    check_audience(coordinator, Audience(frozenset({3, 4})), units)
    for audience, problem in [
        (Audience(), AudienceProblem.EVERYONE_ADMIN_ONLY),
        (Audience(roles=frozenset({Role.TEACHER})), AudienceProblem.EVERYONE_ADMIN_ONLY),
        (Audience(frozenset({3, 9})), AudienceProblem.OUTSIDE_SCHOOL),
        (Audience(frozenset({77})), AudienceProblem.UNKNOWN_UNIT),
    ]:
        with pytest.raises(AudienceError) as caught:
            check_audience(coordinator, audience, units)
        assert caught.value.problem is problem
    with pytest.raises(AudienceError):
        check_audience(Permissions(), Audience(frozenset({3})), units)
    check_audience(Permissions(is_admin=True), Audience(), units)


def test_audience_round_trips_through_json() -> None:
    audience = Audience(frozenset({5, 2}), frozenset({Role.TEACHER, Role.STUDENT}))
    assert audience.to_json() == {"units": [2, 5], "roles": ["student", "teacher"]}
    assert Audience.from_json(audience.to_json()) == audience
    assert Audience.from_json(None).everyone


def test_broadcast_state_machine() -> None:
    running, paused = BroadcastState.RUNNING, BroadcastState.PAUSED
    assert next_state(running, BroadcastAction.PAUSE) is paused
    assert next_state(paused, BroadcastAction.RESUME) is running
    assert next_state(paused, BroadcastAction.CANCEL) is BroadcastState.CANCELLED
    assert next_state(running, BroadcastAction.RESUME) is None
    assert next_state(BroadcastState.DONE, BroadcastAction.CANCEL) is None


def test_eta_uses_the_achieved_rate_capped_by_the_limit() -> None:
    progress = Progress(pending=900, sending=10, sent=90)
    assert eta_seconds(progress, 1.0, 25.0) == pytest.approx(910 / 25)  # too early to measure
    assert eta_seconds(progress, 9.0, 25.0) == pytest.approx(910 / 10)  # 90 in 9 s
    assert eta_seconds(progress, 2.0, 25.0) == pytest.approx(910 / 25)  # capped
    assert eta_seconds(Progress(sent=5), 3.0, 25.0) == 0.0


def test_tracked_link_tokens_cannot_be_forged() -> None:
    token = link_token("secret", 12, 3456)
    parsed = parse_link_token(token)
    assert parsed is not None and parsed[:2] == (12, 3456)
    assert verify_link_token("secret", 12, 3456, parsed[2])
    assert not verify_link_token("secret", 12, 3457, parsed[2])
    assert not verify_link_token("other", 12, 3456, parsed[2])
    for bad in ["", "12.3456", "a.b.c", "12.3456.x.y", "1" * 40 + ".1.x"]:
        assert parse_link_token(bad) is None


def test_publish_time_is_read_in_shanghai_and_must_be_ahead() -> None:
    now = datetime(2025, 3, 1, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
    when = parse_publish_at("2025-03-01  09:30", SHANGHAI, now)
    assert when.astimezone(UTC) == datetime(2025, 3, 1, 1, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="past_time"):
        parse_publish_at("2025-03-01 07:59", SHANGHAI, now)
    with pytest.raises(ValueError, match="bad_time"):
        parse_publish_at("明天九点", SHANGHAI, now)


@pytest.mark.parametrize(
    ("title", "body", "photo", "problem"),
    [
        ("标题", "正文<b>加粗</b>", False, None),
        ("标题", "<b>没有结束", False, "Can't find end tag"),
        ("标题", "<i>交叉</b>", False, "Unmatched end tag"),
        ("标题", "<blink>x</blink>", False, "Unsupported start tag"),
        ("", "正文", False, ComposeProblem.EMPTY),
        ("标题", "字" * 4092, False, None),  # 4096 with the title
        ("标题", "字" * 4093, False, ComposeProblem.TEXT_TOO_LONG),
        ("标题", "字" * 4000, True, ComposeProblem.CAPTION_TOO_LONG),
        ("标题", "字" * 1000, True, None),
        ("标题", "<b>字</b>" * 1000, True, None),  # tags do not count, characters do
    ],
)
def test_articles_are_checked_as_telegram_would(
    title: str, body: str, photo: bool, problem: str | ComposeProblem | None
) -> None:
    found = check_article(title, body, has_photo=photo)
    if problem is None:
        assert found is None
    elif isinstance(problem, ComposeProblem):
        assert found is not None and found.problem is problem
    else:
        assert found is not None and found.problem is None and problem in found.detail


def test_claims_of_dead_processes_are_recognised() -> None:
    me = new_claimer()
    host, pid, _ = me.rsplit(":", 2)
    assert not claimer_is_dead(me, me)
    assert claimer_is_dead(f"{host}:{pid}:00000000", me)  # an earlier life of this pid
    assert claimer_is_dead(f"{host}:999999999:abcd", me)  # no such process
    assert not claimer_is_dead(f"{host}:1:abcd", me)  # pid 1 runs
    assert not claimer_is_dead("elsewhere:999999999:abcd", me)  # other hosts: the lease
    assert not claimer_is_dead("garbage", me)


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sends: list[tuple[float, int]] = []

    def clock(self) -> float:
        return self.now


async def run_limited(
    limiter: SendLimiter, fake: FakeTime, chats: list[int], tick: float = 0.005
) -> None:
    """Acquire for every chat concurrently while a driver moves the fake clock on by
    ``tick`` per round of the event loop; sleepers wake when their time has come."""
    real_sleep = asyncio.sleep

    async def fake_sleep(seconds: float) -> None:
        until = fake.now + max(seconds, 0.0)
        while fake.now < until:
            await real_sleep(0)

    async def one(chat: int) -> None:
        await limiter.acquire(chat)
        fake.sends.append((fake.now, chat))

    async def drive() -> None:
        while True:
            fake.now += tick
            await real_sleep(0)

    # The limiter sleeps through the function it was given (asyncio.sleep, bound when it
    # was made): patching asyncio.sleep alone would let it wait in real seconds.
    asyncio.sleep = fake_sleep  # type: ignore[assignment]
    limiter_sleep, limiter.sleep = limiter.sleep, fake_sleep
    driver = asyncio.get_running_loop().create_task(drive())
    try:
        await asyncio.gather(*(one(chat) for chat in chats))
    finally:
        asyncio.sleep = real_sleep
        limiter.sleep = limiter_sleep
        driver.cancel()


def max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def test_limiter_paces_all_workers_and_holds_for_everyone() -> None:
    fake = FakeTime()
    limiter = SendLimiter(10.0, clock=fake.clock)
    await run_limited(limiter, fake, list(range(1, 51)))
    times = [t for t, _ in fake.sends]
    assert len(times) == 50
    assert max_in_window(times, 1.0) <= 11
    assert max(times) - min(times) >= 4.8

    fake.sends.clear()
    limiter.hold(30.0)
    held_from = fake.now
    await run_limited(limiter, fake, list(range(100, 105)))
    assert min(t for t, _ in fake.sends) >= held_from + 30.0


async def test_limiter_keeps_groups_to_twenty_a_minute() -> None:
    fake = FakeTime()
    limiter = SendLimiter(1000.0, clock=fake.clock)
    await run_limited(limiter, fake, [-100] * 25 + [7, 7], tick=0.05)
    group = [t for t, chat in fake.sends if chat == -100]
    assert max_in_window(group, 60.0) <= 20
    assert all(b - a >= 1.0 - 1e-9 for a, b in itertools.pairwise(group))
    private = [t for t, chat in fake.sends if chat == 7]
    assert private[1] - private[0] >= 1.0 - 1e-9


# ---------------------------------------------------------------------- the outbox


@pytest.fixture
async def world(session_factory: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(session_factory)


async def test_starting_a_broadcast_writes_one_delivery_per_recipient(
    session_factory: async_sessionmaker[AsyncSession], world: World
) -> None:
    class_1 = world.classes["七年级1班"].id
    first_school = world.schools["胡杨河市第一中学"].id
    other_school = world.schools["一三一团中学"].id
    await add_people(session_factory, range(100, 110), class_1, "student")
    await add_people(session_factory, range(110, 113), first_school, "teacher")
    await add_people(session_factory, range(113, 116), other_school, "student")
    await add_people(session_factory, [200], class_1, joined=False)
    await add_people(session_factory, [201], class_1, subscribed=False)
    await add_people(session_factory, [202], class_1, blocked=True)

    cases = [
        (Audience(), 16),
        (Audience(frozenset({first_school})), 13),  # the school with its classes
        (Audience(frozenset({first_school}), frozenset({Role.TEACHER})), 3),
        (Audience(frozenset({class_1, other_school})), 13),
        (Audience(roles=frozenset({Role.PARENT})), 0),
    ]
    for audience, expected in cases:
        article = await make_article(session_factory, audience=audience)
        async with session_factory() as session:
            repo = PublicityRepository(session)
            assert await repo.count_audience(audience) == expected
            broadcast = await repo.start_broadcast(
                article.id, created_by=1, locale="zh-CN", progress_chat_id=1
            )
            await repo.commit()
        assert broadcast.total == expected
        assert await status_counts(session_factory, broadcast.id) == (
            {"pending": expected} if expected else {}
        )
        async with session_factory() as session:
            stored = await PublicityRepository(session).article(article.id)
        assert stored is not None and stored.status is ArticleStatus.PUBLISHED


async def test_claims_are_exclusive_and_answers_recorded(
    session_factory: async_sessionmaker[AsyncSession], world: World
) -> None:
    await add_people(session_factory, range(100, 130), world.classes["七年级1班"].id)
    article = await make_article(session_factory)
    now = datetime.now(UTC)
    async with session_factory() as session:
        repo = PublicityRepository(session)
        broadcast = await repo.start_broadcast(
            article.id, created_by=1, locale="zh-CN", progress_chat_id=None
        )
        await repo.commit()
        first = await repo.claim("a:1:x", 10, now)
        await repo.commit()
        second = await repo.claim("b:2:y", 50, now)
        await repo.commit()
    assert len(first) == 10 and len(second) == 20
    assert not {d.id for d in first} & {d.id for d in second}
    assert {d.chat_id for d in first + second} == set(range(100, 130))

    async with session_factory() as session:
        repo = PublicityRepository(session)
        await repo.record(
            [
                Outcome(first[0], DeliveryStatus.SENT, 1, message_id=77),
                Outcome(first[1], DeliveryStatus.BLOCKED, 1, error="Forbidden: bot was blocked"),
                Outcome(first[2], DeliveryStatus.FAILED, 4, error="x" * 400),
            ],
            now,
        )
        await repo.release("a:1:x", [d.id for d in first[3:]])
        await repo.release("a:1:x", [second[0].id])  # not ours: untouched
        await repo.commit()
    assert await status_counts(session_factory, broadcast.id) == {
        "sent": 1,
        "blocked": 1,
        "failed": 1,
        "pending": 7,
        "sending": 20,
    }
    async with session_factory() as session:
        sent = await session.get(DeliveryRow, first[0].id)
        failed = await session.get(DeliveryRow, first[2].id)
        blocked_person = await session.scalar(
            select(ParticipantRow).where(ParticipantRow.id == first[1].participant_id)
        )
    assert sent is not None and sent.message_id == 77 and sent.attempts == 1
    assert failed is not None and failed.error is not None and len(failed.error) == 255
    assert blocked_person is not None and blocked_person.blocked_at is not None

    # b dies: its rows come back; a renews its lease and keeps what it holds.
    later = now + timedelta(seconds=5)
    async with session_factory() as session:
        repo = PublicityRepository(session)
        again = await repo.claim("a:1:x", 3, now)
        await repo.renew("a:1:x", later)
        recovered = await repo.recover(later, 60.0, lambda claimer: claimer.startswith("b:"))
        await repo.commit()
    assert recovered == 20
    assert await status_counts(session_factory, broadcast.id) == {
        "sent": 1,
        "blocked": 1,
        "failed": 1,
        "pending": 24,
        "sending": 3,
    }
    # ...until its lease runs out too.
    async with session_factory() as session:
        repo = PublicityRepository(session)
        expired = later + timedelta(seconds=61)
        assert await repo.recover(expired, 60.0, lambda claimer: False) == len(again)
        await repo.commit()


async def test_paused_broadcasts_are_not_claimed(
    session_factory: async_sessionmaker[AsyncSession], world: World
) -> None:
    await add_people(session_factory, range(100, 105), world.classes["七年级1班"].id)
    article = await make_article(session_factory)
    now = datetime.now(UTC)
    async with session_factory() as session:
        repo = PublicityRepository(session)
        broadcast = await repo.start_broadcast(
            article.id, created_by=1, locale="zh-CN", progress_chat_id=None
        )
        assert await repo.set_state(
            broadcast.id, BroadcastState.RUNNING, BroadcastState.PAUSED, now
        )
        assert not await repo.set_state(
            broadcast.id, BroadcastState.RUNNING, BroadcastState.PAUSED, now
        )
        await repo.commit()
        assert await repo.claim("a:1:x", 10, now) == []
        assert not await repo.finish_if_complete(broadcast.id, now)


async def test_reads_and_clicks_are_counted_once_per_person_by_school(
    session_factory: async_sessionmaker[AsyncSession], world: World
) -> None:
    class_1 = world.classes["七年级1班"].id
    other_school = world.schools["一三一团中学"].id
    await add_people(session_factory, range(100, 104), class_1)
    await add_people(session_factory, range(104, 106), other_school)
    article = await make_article(session_factory, link="https://example.org/law")
    now = datetime.now(UTC)
    async with session_factory() as session:
        repo = PublicityRepository(session)
        broadcast = await repo.start_broadcast(
            article.id, created_by=1, locale="zh-CN", progress_chat_id=None
        )
        await repo.commit()
        claimed = await repo.claim("a:1:x", 100, now)
        await repo.record(
            [Outcome(d, DeliveryStatus.SENT, 1, message_id=1) for d in claimed[:5]]
            + [Outcome(claimed[5], DeliveryStatus.BLOCKED, 1)],
            now,
        )
        assert await repo.finish_if_complete(broadcast.id, now)
        people = [d.participant_id for d in claimed]
        assert await repo.mark_read(article.id, people[0], now)
        assert not await repo.mark_read(article.id, people[0], now)
        assert await repo.mark_read(article.id, people[4], now)
        assert await repo.record_click(article.id, people[0], "t", now)
        assert not await repo.record_click(article.id, people[0], "t", now)
        assert await repo.record_click(article.id, people[1], "t", now)
        await repo.commit()
        figures = await repo.figures_by_school(article.id)
    by_name = {f.school_name: (f.delivered, f.read, f.clicked) for f in figures}
    assert by_name == {
        "胡杨河市第一中学": (4, 1, 2),
        "一三一团中学": (1, 1, 0),
        "": (5, 2, 2),
    }


async def test_scheduled_articles_are_published_once(
    session_factory: async_sessionmaker[AsyncSession], world: World
) -> None:
    await add_people(session_factory, range(100, 103), world.classes["七年级1班"].id)
    now = datetime.now(UTC)
    async with session_factory() as session:
        repo = PublicityRepository(session)
        due = await repo.create_article(
            title="到期",
            body="x",
            author_id=5,
            publish_at=now - timedelta(seconds=1),
            status=ArticleStatus.SCHEDULED,
        )
        await repo.create_article(
            title="未到",
            body="x",
            author_id=5,
            publish_at=now + timedelta(hours=1),
            status=ArticleStatus.SCHEDULED,
        )
        await repo.commit()
        started = await repo.publish_due(now, "zh-CN")
        await repo.commit()
        assert [b.article_id for b in started] == [due.id]
        assert started[0].total == 3 and started[0].progress_chat_id == 5
        assert await repo.publish_due(now, "zh-CN") == []


def message_with(text: str, entities: list[MessageEntity], *, photo: bool = False) -> Message:
    base: dict[str, Any] = {
        "message_id": 1,
        "date": datetime.now(UTC),
        "chat": Chat(id=1, type="private"),
    }
    if photo:
        size = PhotoSize(file_id="AgAD", file_unique_id="u", width=8, height=8)
        return Message(**base, photo=[size], caption=text, caption_entities=entities)
    return Message(**base, text=text, entities=entities)


def test_a_post_keeps_its_formatting_and_gives_up_its_link_line() -> None:
    text = "《宪法》宣传周\n请 全体同学 阅读：第一条\nhttps://example.org/law"
    bold_title = MessageEntity(type="bold", offset=0, length=4)
    bold_body = MessageEntity(type="bold", offset=10, length=4)  # 全体同学
    italic_across = MessageEntity(type="italic", offset=2, length=12)  # title into body
    message = message_with(text, [bold_title, bold_body, italic_across])
    title, body, link = parse_post(message)
    assert title == "《宪法》宣传周"
    assert link == "https://example.org/law"
    assert body == "<i>请 <b>全体同学</b></i> 阅读：第一条"
    assert check_article(title, body, has_photo=False) is None

    caption = message_with("标题\n<不是标签> & 正文", [], photo=True)
    title, body, link = parse_post(caption)
    assert (title, body, link) == ("标题", "&lt;不是标签&gt; &amp; 正文", None)
    assert parse_post(message_with("只有标题", [])) == ("只有标题", "", None)


async def test_the_channel_post_is_apart_from_the_deliveries(
    session_factory: async_sessionmaker[AsyncSession], world: World
) -> None:
    """One channel post per real broadcast (none for a test send, a failed one without a
    configured channel); the broadcast is done only once it is decided."""
    await add_people(session_factory, range(100, 103), world.classes["七年级1班"].id)
    article = await make_article(session_factory, to_channel=True)
    plain = await make_article(session_factory)
    now = datetime.now(UTC)
    async with session_factory() as session:
        repo = PublicityRepository(session)
        test = await repo.start_broadcast(
            article.id,
            created_by=1,
            locale="zh-CN",
            progress_chat_id=None,
            test_participant_id=1,
            channel="-100123",
        )
        unset = await repo.start_broadcast(
            article.id, created_by=1, locale="zh-CN", progress_chat_id=None
        )
        other = await repo.start_broadcast(
            plain.id, created_by=1, locale="zh-CN", progress_chat_id=None, channel="-100123"
        )
        real = await repo.start_broadcast(
            article.id, created_by=1, locale="zh-CN", progress_chat_id=None, channel="-100123"
        )
        await repo.commit()
        assert await repo.channel_post(test.id) is None
        assert await repo.channel_post(other.id) is None
        missing = await repo.channel_post(unset.id)
        assert missing is not None and missing.chat is None
        assert (missing.status, missing.error) == (DeliveryStatus.FAILED, "no channel configured")
        assert real.total == 3 and (await repo.progress(real.id)).total == 3

        deliveries = await repo.claim("a:1:x", 100, now)
        await repo.record(
            [Outcome(d, DeliveryStatus.SENT, 1, message_id=1) for d in deliveries], now
        )
        await repo.commit()
        assert await repo.finish_if_complete(unset.id, now)  # its post is decided
        assert not await repo.finish_if_complete(real.id, now)  # its post is pending
        [post] = await repo.claim_channel_posts("a:1:x", now)
        assert await repo.claim_channel_posts("b:2:y", now) == []  # claimed once
        await repo.commit()
        assert not await repo.finish_if_complete(real.id, now)  # in flight
        await repo.record_channel_post(post.id, DeliveryStatus.SENT, 1, now, message_id=9)
        await repo.commit()
        assert await repo.finish_if_complete(real.id, now)
        await repo.commit()
        sent = await repo.channel_post(real.id)
    assert sent is not None and (sent.status, sent.message_id) == (DeliveryStatus.SENT, 9)
