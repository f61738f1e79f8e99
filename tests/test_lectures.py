"""Online lectures: scheduled with an announcement and a reminder, checked into while
they run, attendance by school and role."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import running_bot
from bot.config import Settings
from bot.i18n import Translator
from bot.lectures import ScheduledLecture, schedule_lecture
from bot.sandbox.config import SandboxConfig
from bot.sandbox.server import RunningSandbox, run_sandbox
from quizzes.lectures import CheckinProblem, Lecture, LectureStatus, lecture_window
from quizzes.participants import Role
from quizzes.publicity import ArticleStatus, Audience
from storage.publicity import LectureRepository, PublicityRepository
from tests.factories import World, build_world
from tests.publicity_factories import add_people, status_counts

SHANGHAI = ZoneInfo("Asia/Shanghai")
ADMIN = 1


def test_check_in_is_open_while_the_lecture_runs() -> None:
    start = datetime(2025, 12, 4, 1, 0, tzinfo=UTC)
    starts_at, ends_at = lecture_window(start, 90)
    lecture = Lecture(
        1, "宪法", "李老师", starts_at, ends_at, None, Audience(), 1, LectureStatus.SCHEDULED
    )
    assert lecture.remind_at == start - timedelta(hours=1)
    assert lecture.checkin_problem(start - timedelta(minutes=11)) is CheckinProblem.NOT_YET
    assert lecture.checkin_problem(start - timedelta(minutes=9)) is None
    assert lecture.checkin_problem(ends_at + timedelta(minutes=9)) is None
    assert lecture.checkin_problem(ends_at + timedelta(minutes=11)) is CheckinProblem.OVER
    with pytest.raises(ValueError):
        lecture_window(start, 0)


@pytest.fixture
async def world(session_factory: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(session_factory)


async def schedule(
    session_factory: async_sessionmaker[AsyncSession],
    starts_at: datetime,
    audience: Audience,
    *,
    link: str | None = "https://example.org/live",
    now: datetime | None = None,
    title: str = "宪法与我们",
) -> ScheduledLecture:
    async with session_factory() as session:
        scheduled = await schedule_lecture(
            session,
            title=title,
            speaker="李老师",
            starts_at=starts_at,
            minutes=60,
            link=link,
            audience=audience,
            created_by=ADMIN,
            zone=SHANGHAI,
            now=now or datetime.now(UTC),
            _=Translator.load().bind("zh-CN"),
        )
        await session.commit()
    return scheduled


async def test_a_lecture_is_announced_now_and_reminded_an_hour_before(
    session_factory: async_sessionmaker[AsyncSession], world: World
) -> None:
    first_school = world.schools["胡杨河市第一中学"]
    await add_people(session_factory, range(100, 104), world.classes["七年级1班"].id)
    await add_people(session_factory, range(104, 106), world.schools["一三一团中学"].id)
    now = datetime.now(UTC)
    tomorrow = now + timedelta(days=1)
    scheduled = await schedule(session_factory, tomorrow, Audience(frozenset({first_school.id})))
    assert scheduled.announcement.total == 4
    assert await status_counts(session_factory, scheduled.announcement.id) == {"pending": 4}
    reminder = scheduled.reminder
    assert reminder is not None and reminder.lecture_id == scheduled.lecture.id
    assert reminder.status is ArticleStatus.SCHEDULED
    assert reminder.publish_at == tomorrow - timedelta(hours=1)
    assert reminder.title == "一小时后开讲：宪法与我们"
    assert "主讲：李老师" in reminder.body
    # The reminder is an ordinary scheduled article: published once, when due.
    async with session_factory() as session:
        repo = PublicityRepository(session)
        assert await repo.publish_due(now, "zh-CN") == []
        [started] = await repo.publish_due(tomorrow - timedelta(minutes=59), "zh-CN")
        await repo.commit()
    assert started.article_id == reminder.id and started.total == 4

    soon = await schedule(session_factory, now + timedelta(minutes=30), Audience())
    assert soon.reminder is None and soon.announcement.total == 6


async def test_attendance_is_counted_once_per_person_by_school_and_role(
    session_factory: async_sessionmaker[AsyncSession], world: World
) -> None:
    await add_people(session_factory, range(100, 103), world.classes["七年级1班"].id)
    await add_people(session_factory, [103], world.schools["胡杨河市第一中学"].id, "teacher")
    await add_people(session_factory, [104], world.schools["一三一团中学"].id, "teacher")
    scheduled = await schedule(session_factory, datetime.now(UTC), Audience())
    now = datetime.now(UTC)
    async with session_factory() as session:
        lectures = LectureRepository(session)
        claimed = await PublicityRepository(session).claim("x:1:y", 10, now)
        people = sorted(d.participant_id for d in claimed)
        for participant_id in [*people, people[0]]:
            await lectures.check_in(scheduled.lecture.id, participant_id, now)
        assert not await lectures.check_in(scheduled.lecture.id, people[1], now)
        await session.commit()
        rows = await lectures.attendance(scheduled.lecture.id)
    assert [(r.school_name, r.role, r.count) for r in rows] == [
        ("一三一团中学", Role.TEACHER.value, 1),
        ("胡杨河市第一中学", Role.STUDENT.value, 3),
        ("胡杨河市第一中学", Role.TEACHER.value, 1),
    ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    async with run_sandbox(SandboxConfig(per_chat_burst=30)) as running:
        yield running


async def test_checking_in_from_the_announcement(
    sandbox: RunningSandbox,
    database_url: str,
    world: World,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    client = sandbox.client
    people = [300, 301]
    await add_people(session_factory, [ADMIN], world.schools["胡杨河市第一中学"].id, "teacher")
    await add_people(session_factory, people, world.classes["七年级2班"].id)
    for telegram_id in [ADMIN, *people]:
        sandbox.sandbox.register_user(telegram_id, started=True)
    now = datetime.now(UTC)
    running_now = await schedule(session_factory, now - timedelta(minutes=5), Audience())
    tomorrow = await schedule(
        session_factory,
        now + timedelta(days=1),
        Audience(roles=frozenset({Role.STUDENT})),
        title="民法典",
    )
    settings = Settings(
        bot_token=sandbox.config.token,
        bot_api_url=sandbox.url,
        database_url=database_url,
        admin_ids=frozenset({ADMIN}),
        listen_port=free_port(),
        broadcast_rate=50.0,
    )
    async with running_bot(settings, migrate=False):
        async with asyncio.timeout(15):
            while True:
                messages = await client.messages(people[0])
                if len(messages) >= 2:
                    break
                await asyncio.sleep(0.05)
        by_title = {m["text"].split("\n")[0]: m for m in messages}
        current = by_title["网络公开课：宪法与我们"]
        buttons = [b["text"] for row in current["reply_markup"]["inline_keyboard"] for b in row]
        assert buttons == ["✅ 已阅读", "📝 签到", "🎥 进入课堂"]

        async def press(message_id: int) -> str:
            query = await client.press_button(people[0], message_id, "📝 签到")
            return str((await client.wait_for_callback_answer(query))["text"])

        assert await press(current["message_id"]) == "签到成功：宪法与我们"
        assert await press(current["message_id"]) == "你已经签到过了。"
        later = by_title["网络公开课：民法典"]
        assert (await press(later["message_id"])).startswith("签到还没开始")

        await client.send_text(ADMIN, f"/stats lecture {running_now.lecture.id}")
        async with asyncio.timeout(10):
            while True:
                texts = [m.get("text", "") for m in await client.messages(ADMIN)]
                stats = [t for t in texts if "签到人数" in t]
                if stats:
                    break
                await asyncio.sleep(0.05)
        assert "胡杨河市第一中学 · 学生：1" in stats[0] and "合计：1" in stats[0]
        await client.send_text(people[1], "/lectures")
        async with asyncio.timeout(10):
            while True:
                listing = [m.get("text", "") for m in await client.messages(people[1])]
                if any("近期网络公开课" in t for t in listing):
                    break
                await asyncio.sleep(0.05)
    assert tomorrow.announcement.total == 2  # students only
