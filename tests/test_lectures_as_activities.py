"""Online lectures are activities of the kind ``online_lecture``, on both databases.

- Migration 0030 gives every lecture made before it its activity, and the report's
  figures on a history made at 0029 are the ones counted here by hand, after it as the
  old code counted them (and the same after a downgrade and an upgrade again).
- Scheduling a lecture makes its activity; cancelling one cancels it; the activity lists
  show it with its check-ins; nobody records or reviews one by hand.
- The report counts a lecture once: under the lecture figures, and again only as its
  kind and theme, where no total counts it twice.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.application.activities import (
    ReviewOutcome,
    activities_for,
    record_activity,
    review_activity,
)
from bot.application.lectures import cancel_lecture, check_in, schedule_lecture
from bot.i18n import Translator
from bot.lectures import ScheduledLecture
from quizzes.activities import (
    ActivityDraft,
    ActivityStatus,
    Headcount,
    Source,
    lecture_activity_titles,
    lecture_organiser,
)
from quizzes.activity_kinds import RECORDED_BY_HAND, is_kind, kind_for_name, kind_named
from quizzes.lectures import Lecture, LectureStatus, lecture_window
from quizzes.permissions import Permissions
from quizzes.publicity import Audience
from quizzes.statistics import Period, RoleCounts, Statistics
from quizzes.themes import Theme
from storage.migrate import downgrade, upgrade
from storage.models import ParticipantRow
from storage.statistics import StatisticsRepository
from storage.unit_of_work import UnitOfWork
from tests.factories import World, build_world
from tests.publicity_chat import ADMIN as ADMIN_ID
from tests.publicity_chat import chat
from tests.publicity_factories import add_people
from tests.test_dashboard import Site, site

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)
YEAR = Period(date(2026, 1, 1), date(2026, 12, 31))
ADMIN = Permissions(is_admin=True)
FIRST = "胡杨河市第一中学"
OTHER = "一三一团中学"
SMALL = "一三七团第一小学"
ORGANISER = 51  # the Telegram id of the teacher who schedules the lectures
TRANSLATOR = Translator.load()

__all__ = ["chat", "site"]  # the fixtures of the dashboard's page


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# -- the domain ---------------------------------------------------------------------------


def test_the_online_lecture_kind_is_registered_but_never_recorded_by_hand() -> None:
    kind = kind_named("online_lecture")
    assert kind.zh == "线上讲座" and kind.checked_in and kind.default_theme is Theme.CONSTITUTION
    assert kind not in RECORDED_BY_HAND and not is_kind("online_lecture")
    assert kind_for_name("线上讲座") is None and kind_for_name("网络公开课") is None
    assert is_kind("morning_reading") and kind_for_name("宪法晨读") is not None


def test_a_lectures_organiser_is_the_lowest_unit_holding_its_whole_audience() -> None:
    roots = [1]
    assert lecture_organiser([], roots) == 1  # everyone: the bureau's root
    assert lecture_organiser(["/1/2/3/"], roots) == 3
    assert lecture_organiser(["/1/2/3/7/", "/1/2/3/8/"], roots) == 3
    assert lecture_organiser(["/1/2/3/", "/1/4/5/"], roots) == 1
    assert lecture_organiser(["/1/2/", "/9/10/"], [9, 1]) == 1  # across roots: the first
    assert lecture_organiser([], []) is None


def test_a_lecture_rescheduled_the_same_day_gets_a_title_of_its_own() -> None:
    local = datetime(2026, 3, 10, 20, 30, tzinfo=ZONE)
    assert lecture_activity_titles("宪法与我们", local, 7) == [
        "宪法与我们",
        "宪法与我们（20:30）",
        "宪法与我们（#7）",
    ]
    long = "长" * 250
    assert all(len(t) <= 200 for t in lecture_activity_titles(long, local, 7))


# -- the migration ------------------------------------------------------------------------

people = sa.table(
    "participants", sa.column("id", sa.BigInteger), sa.column("telegram_id", sa.BigInteger)
)
lectures_0029 = sa.table(
    "lectures",
    sa.column("id", sa.BigInteger),
    sa.column("title", sa.String),
    sa.column("speaker", sa.String),
    sa.column("starts_at", sa.DateTime(timezone=True)),
    sa.column("ends_at", sa.DateTime(timezone=True)),
    sa.column("link", sa.String),
    sa.column("audience", sa.JSON),
    sa.column("created_by", sa.BigInteger),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("status", sa.String),
)
checkins_0029 = sa.table(
    "lecture_checkins",
    sa.column("lecture_id", sa.BigInteger),
    sa.column("participant_id", sa.BigInteger),
    sa.column("checked_in_at", sa.DateTime(timezone=True)),
)
activities_0029 = sa.table(
    "activities",
    *(sa.column(name) for name in ("kind", "theme", "title", "unit_id", "speaker")),
    *(sa.column(name) for name in ("speaker_organisation", "status", "source", "review_note")),
    *(sa.column(name) for name in ("students", "teachers", "parents")),
    sa.column("held_on", sa.Date),
    sa.column("recorded_at", sa.DateTime(timezone=True)),
)


async def add_everyone(session_factory: async_sessionmaker[AsyncSession], world: World) -> None:
    """Six students of 七年级1班 (101-106) and two teachers (201, 202) of the first
    school, the organiser (51); four students (301-304) and a parent (401) of 一三一团中学."""
    first, other = world.schools[FIRST].id, world.schools[OTHER].id
    await add_people(session_factory, range(101, 107), world.classes["七年级1班"].id)
    await add_people(session_factory, [201, 202, ORGANISER], first, "teacher")
    await add_people(session_factory, range(301, 305), other)
    await add_people(session_factory, [401], other, "parent")


Planned = tuple[str, datetime, list[int], str, int, list[int]]


def lecture_plan(world: World) -> list[Planned]:
    """(title, starts_at, audience units, status, scheduled by, who checked in)."""
    first_classes = [world.classes["七年级1班"].id, world.classes["七年级2班"].id]
    small_class = [world.classes["三年级1班"].id]
    return [
        # 19:00 in Shanghai; 8 check-ins: 6 students, a teacher, a parent.
        ("宪法与我们", utc(2026, 3, 10, 11), [], "scheduled", ORGANISER,
         [101, 102, 103, 104, 201, 301, 302, 401]),
        # 00:30 on 21 May in Shanghai, for the first school's two classes: 3 + 1.
        ("校园欺凌的法律责任", utc(2026, 5, 20, 16, 30), first_classes, "scheduled", 999,
         [101, 102, 105, 202]),
        # Rescheduled the same evening under the same title: 2 check-ins.
        ("宪法与我们", utc(2026, 3, 10, 12, 30), [], "scheduled", ORGANISER, [103, 303]),
        # Cancelled (its one check-in counts nowhere), last year's, and one to come.
        ("取消的公开课", utc(2026, 6, 1, 11), [], "cancelled", ORGANISER, [106]),
        ("去年的公开课", utc(2025, 12, 31, 12), [], "scheduled", ORGANISER, [101]),
        ("一三七团的公开课", utc(2026, 9, 1, 2), small_class, "scheduled", ORGANISER, []),
        ("下周的公开课", utc(2026, 12, 10, 11), [], "scheduled", ORGANISER, []),
    ]  # fmt: skip


async def history_at_0029(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> tuple[World, list[int]]:
    """The roster and people, then the database taken back to 0029 and the lectures,
    their check-ins and one offline activity written there, as 0029's code wrote them."""
    world = await build_world(session_factory)
    await add_everyone(session_factory, world)
    await downgrade(engine, "0029")
    ids: list[int] = []
    async with engine.begin() as connection:
        pid = {
            t: i for i, t in await connection.execute(sa.select(people.c.id, people.c.telegram_id))
        }
        for title, starts_at, audience, status, created_by, present in lecture_plan(world):
            lecture_id = (
                await connection.execute(
                    lectures_0029.insert()
                    .values(
                        title=title,
                        speaker="法治副校长",
                        starts_at=starts_at,
                        ends_at=starts_at + timedelta(minutes=45),
                        link=None,
                        audience={"units": audience, "roles": []},
                        created_by=created_by,
                        created_at=starts_at - timedelta(days=3),
                        status=status,
                    )
                    .returning(lectures_0029.c.id)
                )
            ).scalar_one()
            ids.append(lecture_id)
            for telegram_id in present:
                await connection.execute(
                    checkins_0029.insert().values(
                        lecture_id=lecture_id,
                        participant_id=pid[telegram_id],
                        checked_in_at=starts_at + timedelta(minutes=5),
                    )
                )
        await connection.execute(
            activities_0029.insert().values(
                kind="morning_reading",
                theme="constitution",
                held_on=date(2026, 4, 1),
                title="宪法晨读",
                unit_id=world.schools[FIRST].id,
                students=40,
                teachers=2,
                parents=0,
                speaker="",
                speaker_organisation="",
                status="confirmed",
                source="import",
                review_note="",
                recorded_at=utc(2026, 4, 1, 8),
            )
        )
    return world, ids


async def compiled(session_factory: async_sessionmaker[AsyncSession]) -> Statistics:
    async with session_factory() as session:
        repo = StatisticsRepository(session)
        root = await repo.root()
        assert root is not None
        return await repo.compile(root, YEAR, ZONE, now=NOW)


def assert_counted_by_hand(stats: Statistics, world: World) -> None:
    """The figures of the history, counted by hand: what 0029's code reported."""
    # Held: the two evening lectures, the one for the first school's classes and the one
    # for 137团's class (no check-in); not the cancelled, last year's or next week's.
    assert stats.lectures_held == 4
    assert [(lecture.title, lecture.checkins) for lecture in stats.lectures] == [
        ("宪法与我们", 8),
        ("宪法与我们", 2),
        ("校园欺凌的法律责任", 4),
        ("一三七团的公开课", 0),
    ]
    assert stats.total.lecture_checkins == 14
    # Distinct people: students 101-105, 301-303; teachers 201, 202; the parent 401.
    assert stats.total.lecture_attendees == RoleCounts(8, 2, 1)
    by_school = {s.name: (s.lecture_checkins, s.lecture_attendees.total) for s in stats.schools}
    assert by_school == {FIRST: (10, 7), OTHER: (4, 4), SMALL: (0, 0)}
    # The offline activity alone is 线下: 1 event, 42 attendances.
    figures = stats.activities
    assert (figures.events, figures.headcount) == (1, Headcount(40, 2, 0))
    assert figures.of_school(world.schools[FIRST].id) == (1, Headcount(40, 2, 0))
    assert figures.recorded and figures.pending == 0
    # People reached by articles: no lecture notice is a publicity article.
    assert stats.total.people_reached == 0 and stats.total.deliveries == 0


def assert_lectures_as_their_kind(stats: Statistics) -> None:
    figures = stats.activities
    kinds = {k.kind.code: (k.events, k.headcount) for k in figures.by_kind()}
    assert kinds == {
        "online_lecture": (4, Headcount(11, 2, 1)),
        "morning_reading": (1, Headcount(40, 2, 0)),
    }
    assert [(t.theme, t.events) for t in figures.by_theme()] == [(Theme.CONSTITUTION, 5)]
    # Every kind together: each lecture and each check-in once.
    assert figures.every_event == figures.events + stats.lectures_held == 5
    assert figures.every_attendance.total == 42 + stats.total.lecture_checkins == 56


async def test_the_migration_gives_every_lecture_its_activity_and_keeps_the_figures(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world, ids = await history_at_0029(engine, session_factory)
    await upgrade(engine)

    stats = await compiled(session_factory)
    assert_counted_by_hand(stats, world)
    assert_lectures_as_their_kind(stats)

    async with session_factory() as session:
        uow = UnitOfWork.over(session)
        organiser = await session.scalar(
            sa.select(ParticipantRow.id).where(ParticipantRow.telegram_id == ORGANISER)
        )
        root = (await uow.units.roots())[0]
        found = {}
        for lecture_id in ids:
            activity_id = await session.scalar(
                sa.text("SELECT activity_id FROM lectures WHERE id = :id"), {"id": lecture_id}
            )
            activity = await uow.activities.get(int(activity_id))
            assert activity is not None
            found[lecture_id] = activity
    every = list(found.values())
    assert {a.kind for a in every} == {"online_lecture"}
    assert {a.theme for a in every} == {Theme.CONSTITUTION}
    assert {a.source for a in every} == {Source.LECTURE}
    evening, classes, again, cancelled, last_year, small, _next_week = (found[i] for i in ids)
    assert (evening.title, evening.held_on, evening.unit_id) == (
        "宪法与我们",
        date(2026, 3, 10),
        root.id,
    )
    assert (evening.status, evening.recorded_by, evening.speaker) == (
        ActivityStatus.CONFIRMED,
        organiser,
        "法治副校长",
    )
    assert evening.headcount == Headcount(6, 1, 1)  # its check-ins, by role
    assert (again.title, again.held_on) == ("宪法与我们（20:30）", date(2026, 3, 10))
    # The bureau's day: 00:30 in Shanghai is the next day; organised by the school whose
    # two classes it was for; scheduled by someone without a participant row.
    assert (classes.held_on, classes.unit_id) == (date(2026, 5, 21), world.schools[FIRST].id)
    assert classes.recorded_by is None
    assert cancelled.status is ActivityStatus.CANCELLED
    assert last_year.held_on == date(2025, 12, 31)
    assert small.unit_id == world.classes["三年级1班"].id

    # Down again: the lectures and check-ins stay, their activities go; up: as before.
    await downgrade(engine, "0029")
    async with engine.connect() as connection:
        counts = [
            (await connection.execute(sa.text(f"SELECT count(*) FROM {table}"))).scalar_one()
            for table in ("lectures", "lecture_checkins", "activities")
        ]
        columns = {
            c["name"]
            for c in await connection.run_sync(lambda c: sa.inspect(c).get_columns("lectures"))
        }
    assert counts == [7, 16, 1]
    assert "activity_id" not in columns
    await upgrade(engine)
    again_stats = await compiled(session_factory)
    assert_counted_by_hand(again_stats, world)
    assert again_stats.activities == stats.activities


# -- scheduling, cancelling, listing ------------------------------------------------------


def draft(audience: Audience, title: str = "宪法与我们") -> Lecture:
    starts_at, ends_at = lecture_window(NOW + timedelta(hours=3), 60)  # 15:00 in Shanghai
    return Lecture(
        0, title, "李老师", starts_at, ends_at, None, audience, ORGANISER, LectureStatus.SCHEDULED
    )


async def schedule(
    uow: UnitOfWork, audience: Audience, title: str = "宪法与我们", theme: Theme | None = None
) -> Lecture:
    scheduled = await schedule_lecture(
        uow,
        draft(audience, title),
        minutes=60,
        viewer=ADMIN,
        now=NOW,
        zone=ZONE,
        _=TRANSLATOR.bind("zh-CN"),
        theme=theme,
    )
    assert isinstance(scheduled, ScheduledLecture)
    return scheduled.lecture


async def activity_of(session: AsyncSession, lecture_id: int) -> int:
    found = await session.scalar(
        sa.text("SELECT activity_id FROM lectures WHERE id = :id"), {"id": lecture_id}
    )
    assert found is not None
    return int(found)


async def test_scheduling_a_lecture_makes_its_activity_and_cancelling_cancels_it(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    world = await build_world(session_factory)
    await add_everyone(session_factory, world)
    first = world.schools[FIRST]
    async with session_factory() as session:
        uow = UnitOfWork.over(session)
        lecture = await schedule(uow, Audience(frozenset({first.id})))
        same = await schedule(uow, Audience(frozenset({first.id})))  # the same afternoon
        organiser = await session.scalar(
            sa.select(ParticipantRow.id).where(ParticipantRow.telegram_id == ORGANISER)
        )
        activity = await uow.activities.get(await activity_of(session, lecture.id))
        twin = await uow.activities.get(await activity_of(session, same.id))
    assert activity is not None and twin is not None
    assert (activity.kind, activity.theme, activity.title) == (
        "online_lecture",
        Theme.CONSTITUTION,
        "宪法与我们",
    )
    assert (activity.held_on, activity.unit_id, activity.speaker) == (TODAY, first.id, "李老师")
    assert (activity.status, activity.source, activity.recorded_by) == (
        ActivityStatus.CONFIRMED,
        Source.LECTURE,
        organiser,
    )
    assert twin.title == "宪法与我们（15:00）"

    # Two students and a teacher check in: the activity's headcount is its check-ins.
    async with session_factory() as session:
        uow = UnitOfWork.over(session)
        ids = dict(
            (await session.execute(sa.select(ParticipantRow.telegram_id, ParticipantRow.id))).all()
        )
        for telegram_id in (101, 102, 201, 102):
            await check_in(uow, lecture.id, ids[telegram_id], now=lecture.starts_at)
    async with session_factory() as session:
        uow = UnitOfWork.over(session)
        coordinator = Permissions(coordinator_of=frozenset({first.id}))
        viewer = await uow.participants.by_telegram_id(201)
        assert viewer is not None
        listed = await activities_for(uow, viewer, coordinator)
        mine = [item for item in listed if item.activity.id == activity.id]
        assert len(mine) == 1 and mine[0].activity.headcount == Headcount(2, 1, 0)
        assert mine[0].unit_label.endswith(FIRST)

        # Nobody reviews it: it is confirmed when scheduled.
        outcome, _ = await review_activity(
            uow, activity.id, confirm=False, by=None, permissions=ADMIN, now=NOW
        )
        assert outcome is ReviewOutcome.NOT_ALLOWED
        cancelled = await cancel_lecture(
            uow,
            lecture.id,
            viewer=ADMIN,
            telegram_id=1,
            now=NOW,
            zone=ZONE,
            translator=TRANSLATOR,
        )
        assert not isinstance(cancelled, str)
    async with session_factory() as session:
        uow = UnitOfWork.over(session)
        after = await uow.activities.get(activity.id)
        other = await uow.activities.get(twin.id)
    assert after is not None and after.status is ActivityStatus.CANCELLED
    assert other is not None and other.status is ActivityStatus.CONFIRMED


TODAY = date(2026, 12, 7)


async def test_nobody_records_an_online_lecture_by_hand(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    world = await build_world(session_factory)
    async with session_factory() as session:
        uow = UnitOfWork.over(session)
        recorded = await record_activity(
            uow,
            ActivityDraft(
                "online_lecture",
                Theme.CONSTITUTION,
                date(2026, 12, 1),
                "宪法与我们",
                world.schools[FIRST].id,
                Headcount(30),
                speaker="李老师",
            ),
            recorder=None,
            permissions=ADMIN,
            now=NOW,
            zone=ZONE,
        )
    assert recorded.activity is None
    assert ("unknown_kind", {"value": "线上讲座"}) in recorded.problems


async def test_an_audience_of_everyone_is_organised_by_the_bureau_and_listed_on_its_page(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    from bot.application.activity_list import activities_in_reach
    from bot.application.dashboard import WebRights

    await build_world(session_factory)
    async with session_factory() as session:
        uow = UnitOfWork.over(session)
        lecture = await schedule(uow, Audience())
        root = (await uow.units.roots())[0]
        activity_id = await activity_of(session, lecture.id)
        listed = await activities_in_reach(uow, WebRights(ADMIN))
    [item] = [i for i in listed if i.listed.activity.id == activity_id]
    assert item.listed.activity.unit_id == root.id
    assert item.listed.activity.kind == "online_lecture" and item.photos == ()


async def test_a_lecture_of_a_theme_counts_under_that_theme(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    world = await build_world(session_factory)
    await add_everyone(session_factory, world)
    async with session_factory() as session:
        uow = UnitOfWork.over(session)
        lecture = await schedule(uow, Audience(), "防欺凌", Theme.ANTI_BULLYING)
        activity = await uow.activities.get(await activity_of(session, lecture.id))
        student = await uow.participants.by_telegram_id(301)
        assert student is not None
        await check_in(uow, lecture.id, student.id, now=lecture.starts_at)
    assert activity is not None and activity.theme is Theme.ANTI_BULLYING
    async with session_factory() as session:
        repo = StatisticsRepository(session)
        root = await repo.root()
        assert root is not None
        before = await repo.compile(root, YEAR, ZONE, now=lecture.starts_at - timedelta(minutes=1))
        held = await repo.compile(root, YEAR, ZONE, now=lecture.starts_at)
    # Not started yet: no lecture held, and none as its kind either.
    assert before.lectures_held == 0 and before.activities.by_theme() == ()
    assert held.lectures_held == 1 and held.total.lecture_checkins == 1
    [theme] = held.activities.by_theme()
    assert (theme.theme, theme.events, theme.headcount) == (
        Theme.ANTI_BULLYING,
        1,
        Headcount(1, 0, 0),
    )
    assert not held.activities.recorded  # no offline activity: no offline section


# -- the report ---------------------------------------------------------------------------


async def test_the_report_counts_a_lecture_once_and_shows_it_as_its_kind(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    from bot.reports.compile import XLSX, compile_report

    await history_at_0029(engine, session_factory)
    await upgrade(engine)
    async with session_factory() as session:
        root = (await UnitOfWork.over(session).units.roots())[0]
    files = await compile_report(
        session_factory, root, YEAR, zone=ZONE, locale="zh-CN", compiled_at=NOW
    )
    md = files.files["report.md"].decode("utf-8")
    assert "开展线下法治宣传教育活动1场，参与42人次，其中学生40人次、教职工2人次。" in md
    assert "连同网络公开课，各类活动共5场、56人次（网络公开课按签到计）。" in md
    assert "按活动类型分，线上讲座4场（14人次）、宪法晨读1场（42人次）。" in md
    assert "按主题分，宪法5场。" in md
    assert "| **合计** | **1** | **42** | **40** |" in md  # the offline table: no lecture
    assert "- 线上讲座（按类型、主题统计）：按活动类型、主题统计时，网络公开课计为" in md

    book = load_workbook(io.BytesIO(files.files[XLSX]))
    kinds = [[c.value for c in row] for row in book["活动类型"].iter_rows()]
    assert kinds == [
        ["活动类型", "活动（场）", "参与（人次）", "参与学生", "参与教职工", "参与家长"],
        ["线上讲座", 4, 14, 11, 2, 1],
        ["宪法晨读", 1, 42, 40, 2, 0],
        ["合计", 5, 56, 51, 4, 1],
    ]
    per_school = [[c.value for c in row] for row in book["线下活动"].iter_rows()]
    assert per_school[-1][:3] == ["合计", 1, 42]
    definitions: dict[Any, Any] = {
        row[0].value: row[1].value for row in book["统计口径"].iter_rows(min_row=2)
    }
    assert "网络公开课不在此列" in definitions["线下活动（场）"]
    assert "每场、每人次只计一次" in definitions["线上讲座（按类型、主题统计）"]


@pytest.mark.parametrize("locale", ["en"])
async def test_the_english_report_says_the_same(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession], locale: str
) -> None:
    from bot.reports.compile import compile_report

    await history_at_0029(engine, session_factory)
    await upgrade(engine)
    async with session_factory() as session:
        root = (await UnitOfWork.over(session).units.roots())[0]
    files = await compile_report(
        session_factory, root, YEAR, zone=ZONE, locale=locale, compiled_at=NOW
    )
    md = files.files["report.md"].decode("utf-8")
    assert (
        "With the online lectures, 5 activities of every kind, attended 56 times "
        "(online lectures by their check-ins). By kind: online lecture 4 (14 attendances), "
        "Constitution morning reading 1 (42 attendances)."
    ) in md


async def test_the_dashboards_activities_page_shows_a_lecture_as_its_kind(site: Site) -> None:
    from tests.test_dashboard_publicity import cells

    async with site.chat.session_factory() as session:
        uow = UnitOfWork.over(session)
        first = site.chat.world.schools[FIRST]
        lecture = await schedule(uow, Audience(frozenset({first.id})), "民法典与生活")
        activity_id = await activity_of(session, lecture.id)
    async with site.make_client() as client:
        await site.login(client, ADMIN_ID)
        html = await (await client.get("/admin/activities")).text()
    found = cells(html)
    row = str(activity_id)
    assert found[("activities", row, "kind")] == "线上讲座"
    assert found[("activities", row, "unit")].endswith(FIRST)
    assert found[("activities", row, "status")] == "已确认"
    assert f'action="/admin/activities/{activity_id}/review"' not in html  # nothing to review


# -- one definition of a lecture's check-ins ---------------------------------------------

HALF = 601  # the Telegram id of a student of 七年级1班 who chose a class but not a role yet


async def add_half_registered(
    session_factory: async_sessionmaker[AsyncSession], world: World
) -> int:
    """A person half-way through registration: unit saved, role and name still empty."""
    await add_people(session_factory, [HALF], world.classes["七年级1班"].id)
    async with session_factory() as session:
        await session.execute(
            sa.update(ParticipantRow)
            .where(ParticipantRow.telegram_id == HALF)
            .values(role=None, display_name=None)
        )
        person = await session.scalar(
            sa.select(ParticipantRow.id).where(ParticipantRow.telegram_id == HALF)
        )
        await session.commit()
    assert person is not None
    return int(person)


async def test_someone_half_way_through_registration_is_asked_to_finish_before_checking_in(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    from bot.application.lectures import CheckedIn, CheckinClosed
    from quizzes.lectures import CheckinProblem

    world = await build_world(session_factory)
    await add_everyone(session_factory, world)
    person = await add_half_registered(session_factory, world)
    async with session_factory() as session:
        uow = UnitOfWork.over(session)
        lecture = await schedule(uow, Audience(frozenset({world.schools[FIRST].id})))
        refused = await check_in(uow, lecture.id, person, now=lecture.starts_at)
        counted = await session.scalar(sa.text("SELECT count(*) FROM lecture_checkins"))
    assert isinstance(refused, CheckinClosed)
    assert refused.problem is CheckinProblem.NOT_REGISTERED
    assert counted == 0
    # The doors show ``lecture.checkin_<problem>``: a sentence in each language.
    assert TRANSLATOR.bind("zh-CN").plain("lecture.checkin_not_registered") == (
        "请先完成注册（发送 /start），再签到。"
    )
    assert "finish registering" in TRANSLATOR.bind("en").plain("lecture.checkin_not_registered")
    # A window problem is told first: finishing registration would not open a closed one.
    async with session_factory() as session:
        early = await check_in(
            UnitOfWork.over(session),
            lecture.id,
            person,
            now=lecture.starts_at - timedelta(hours=1),
        )
    assert isinstance(early, CheckinClosed) and early.problem is CheckinProblem.NOT_YET

    # Registration finished: the same press counts them.
    async with session_factory() as session:
        await session.execute(
            sa.update(ParticipantRow)
            .where(ParticipantRow.id == person)
            .values(role="student", display_name="小明")
        )
        await session.commit()
    async with session_factory() as session:
        done = await check_in(UnitOfWork.over(session), lecture.id, person, now=lecture.starts_at)
    assert isinstance(done, CheckedIn) and done.first


async def test_a_lectures_check_ins_add_up_the_same_in_the_report_its_kind_and_the_list(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """The first school's lecture, checked into by a student and a teacher of the school,
    a student of another school, and (an old row, from before registration was required)
    someone of the school without a role: the report's check-ins, the lecture's, the
    kind's headcount and the school's activity list count the same people."""
    world = await build_world(session_factory)
    await add_everyone(session_factory, world)
    person = await add_half_registered(session_factory, world)
    first = world.schools[FIRST]
    async with session_factory() as session:
        uow = UnitOfWork.over(session)
        lecture = await schedule(uow, Audience(frozenset({first.id})))
        ids = dict(
            (await session.execute(sa.select(ParticipantRow.telegram_id, ParticipantRow.id))).all()
        )
        for telegram_id in (101, 201, 301):
            await check_in(uow, lecture.id, ids[telegram_id], now=lecture.starts_at)
        await session.execute(
            sa.text(
                "INSERT INTO lecture_checkins (lecture_id, participant_id, checked_in_at) "
                "VALUES (:lecture, :person, :at)"
            ),
            {"lecture": lecture.id, "person": person, "at": lecture.starts_at},
        )
        await session.commit()
        activity_id = await activity_of(session, lecture.id)

    async with session_factory() as session:
        repo = StatisticsRepository(session)
        root = await repo.root()
        assert root is not None
        everyone = await repo.compile(root, YEAR, ZONE, now=lecture.starts_at)
        school = await repo.compile(first, YEAR, ZONE, now=lecture.starts_at)
    for stats, headcount in ((everyone, Headcount(2, 1, 0)), (school, Headcount(1, 1, 0))):
        [kind] = stats.activities.by_kind()
        [held] = stats.lectures
        assert kind.headcount == headcount
        assert held.checkins == stats.total.lecture_checkins == headcount.total
        assert stats.total.lecture_attendees.total == headcount.total

    # The school's list: what its report counts, not every check-in of the lecture.
    async with session_factory() as session:
        uow = UnitOfWork.over(session)
        viewer = await uow.participants.by_telegram_id(201)
        assert viewer is not None
        listed = await activities_for(
            uow, viewer, Permissions(coordinator_of=frozenset({first.id}))
        )
        found = await uow.activities.get(activity_id)
    [mine] = [item.activity for item in listed if item.activity.id == activity_id]
    assert found is not None
    assert mine.headcount == found.headcount == Headcount(1, 1, 0)

    # The lecture's own figures (/stats lecture): everyone's, by school, no role-less one.
    from bot.application.lectures import LectureFigures, lecture_figures

    async with session_factory() as session:
        figures = await lecture_figures(UnitOfWork.over(session), lecture.id, viewer=ADMIN)
    assert isinstance(figures, LectureFigures)
    assert figures.total == everyone.total.lecture_checkins == 3
    assert {(row.school_name, row.role, row.count) for row in figures.attendance} == {
        (FIRST, "student", 1),
        (FIRST, "teacher", 1),
        (OTHER, "student", 1),
    }


async def test_deleting_an_activity_keeps_its_lecture_and_check_ins(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    from storage.models_activities import ActivityRow
    from storage.models_publicity import LectureCheckinRow, LectureRow

    world = await build_world(session_factory)
    await add_everyone(session_factory, world)
    async with session_factory() as session:
        uow = UnitOfWork.over(session)
        lecture = await schedule(uow, Audience(frozenset({world.schools[FIRST].id})))
        student = await uow.participants.by_telegram_id(101)
        assert student is not None
        await check_in(uow, lecture.id, student.id, now=lecture.starts_at)
        activity_id = await activity_of(session, lecture.id)
    async with session_factory() as session:
        await session.execute(sa.delete(ActivityRow).where(ActivityRow.id == activity_id))
        await session.commit()
    async with session_factory() as session:
        kept = await session.scalar(
            sa.select(LectureRow.activity_id).where(LectureRow.id == lecture.id)
        )
        checkins = await session.scalar(
            sa.select(sa.func.count()).where(LectureCheckinRow.lecture_id == lecture.id)
        )
        lectures_left = await session.scalar(sa.select(sa.func.count()).select_from(LectureRow))
    assert (lectures_left, kept, checkins) == (1, None, 1)

    # The migration's way down puts CASCADE back, and its way up SET NULL again.
    async def on_delete() -> str | None:
        async with engine.connect() as connection:
            keys = await connection.run_sync(lambda c: sa.inspect(c).get_foreign_keys("lectures"))
        [key] = [k for k in keys if k["referred_table"] == "activities"]
        return str(key["options"].get("ondelete", "")).upper() or None

    assert await on_delete() == "SET NULL"
    await downgrade(engine, "0030")
    assert await on_delete() == "CASCADE"
    await upgrade(engine)
    assert await on_delete() == "SET NULL"


async def test_the_migration_reads_the_time_zone_from_dot_env_as_the_settings_do(
    engine: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PUFA_TIMEZONE", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("PUFA_TIMEZONE=America/Los_Angeles\n", encoding="utf-8")
    world, ids = await history_at_0029(engine, session_factory)
    await upgrade(engine)
    async with session_factory() as session:
        uow = UnitOfWork.over(session)
        # 16:30 UTC on 20 May: 21 May in Shanghai, still 20 May in Los Angeles.
        classes = await uow.activities.get(await activity_of(session, ids[1]))
    assert classes is not None and classes.held_on == date(2026, 5, 20)
    assert classes.unit_id == world.schools[FIRST].id


def test_the_theme_definition_says_only_what_is_counted() -> None:
    """A lecture's notices and reminders to read are no publicity articles: no theme
    figure counts them, so the definition does not give them a theme."""
    zh = TRANSLATOR.bind("zh-CN").plain("report.definition.theme")
    en = TRANSLATOR.bind("en").plain("report.definition.theme")
    assert "公开课" not in zh and "提醒" not in zh
    assert "lecture" not in en and "reminder" not in en
