"""Lectures' use cases on both databases: scheduling for an audience the organiser may
reach, who may cancel, checking in while it runs, attendance figures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.application import UnitOfWork
from bot.application.lectures import (
    CancelRefusal,
    CheckedIn,
    CheckinClosed,
    CheckinRefusal,
    FiguresRefusal,
    LectureFigures,
    ScheduleRefusal,
    cancel_lecture,
    check_in,
    lecture_figures,
    lecture_to_cancel,
    schedule_lecture,
    upcoming_lectures,
)
from bot.i18n import Translator
from bot.lectures import ScheduledLecture
from quizzes.lectures import (
    CHECKIN_EARLY,
    CHECKIN_LATE,
    Cancellation,
    CheckinProblem,
    Lecture,
    LectureStatus,
    lecture_window,
)
from quizzes.permissions import Permissions
from quizzes.publicity import Audience, AudienceProblem
from storage.publicity import LectureRepository
from tests.factories import World, build_world
from tests.publicity_factories import add_people

NOW = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")
ADMIN = Permissions(is_admin=True)
NOBODY = Permissions()
FIRST = "胡杨河市第一中学"
OTHER = "一三一团中学"
ORGANISER = 51
TRANSLATOR = Translator.load()


@pytest.fixture
async def world(session_factory: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(session_factory)


@pytest.fixture
async def uow(
    session_factory: async_sessionmaker[AsyncSession], world: World
) -> AsyncIterator[UnitOfWork]:
    async with session_factory() as session:
        yield UnitOfWork.over(session)


def coordinator(world: World, school: str = FIRST) -> Permissions:
    return Permissions(coordinator_of=frozenset({world.schools[school].id}))


def draft(audience: Audience, starts_at: datetime = NOW + timedelta(days=1)) -> Lecture:
    starts_at, ends_at = lecture_window(starts_at, 60)
    return Lecture(
        0,
        "宪法与我们",
        "李老师",
        starts_at,
        ends_at,
        None,
        audience,
        ORGANISER,
        LectureStatus.SCHEDULED,
    )


async def schedule(
    uow: UnitOfWork, lecture: Lecture, viewer: Permissions
) -> ScheduledLecture | ScheduleRefusal | AudienceProblem:
    return await schedule_lecture(
        uow,
        lecture,
        minutes=60,
        viewer=viewer,
        now=NOW,
        zone=SHANGHAI,
        _=TRANSLATOR.bind("zh-CN"),
    )


async def scheduled_lecture(uow: UnitOfWork, world: World) -> Lecture:
    """A lecture for the first school, scheduled by its coordinator."""
    audience = Audience(frozenset({world.schools[FIRST].id}))
    scheduled = await schedule(uow, draft(audience), coordinator(world))
    assert isinstance(scheduled, ScheduledLecture)
    return scheduled.lecture


async def committed(
    session_factory: async_sessionmaker[AsyncSession], lecture_id: int
) -> Lecture | None:
    async with session_factory() as session:
        return await LectureRepository(session).get(lecture_id)


# ---------------------------------------------------------------------- scheduling


async def test_a_coordinator_schedules_a_lecture_for_their_school(
    uow: UnitOfWork, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await add_people(session_factory, [601, 602], world.classes["七年级1班"].id)
    audience = Audience(frozenset({world.schools[FIRST].id}))
    scheduled = await schedule(uow, draft(audience), coordinator(world))
    assert isinstance(scheduled, ScheduledLecture)
    assert scheduled.announcement.total == 2
    assert scheduled.reminder is not None  # it starts in a day: reminded an hour before
    stored = await committed(session_factory, scheduled.lecture.id)
    assert stored is not None and stored.created_by == ORGANISER


async def test_scheduling_is_refused_outside_the_organisers_reach_or_in_the_past(
    uow: UnitOfWork, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    mine = coordinator(world)
    outside = Audience(frozenset({world.schools[OTHER].id}))
    assert await schedule(uow, draft(outside), mine) is AudienceProblem.OUTSIDE_SCHOOL
    assert await schedule(uow, draft(Audience()), mine) is AudienceProblem.EVERYONE_ADMIN_ONLY
    own = Audience(frozenset({world.schools[FIRST].id}))
    assert await schedule(uow, draft(own), NOBODY) is AudienceProblem.NOT_STAFF
    started = draft(Audience(), starts_at=NOW)
    assert await schedule(uow, started, ADMIN) is ScheduleRefusal.PAST_TIME
    async with session_factory() as session:
        assert await LectureRepository(session).upcoming(NOW) == []


# ---------------------------------------------------------------------- checking in


async def test_check_in_counts_once_while_it_is_open(
    uow: UnitOfWork, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await add_people(session_factory, [701], world.classes["七年级1班"].id)
    participant = await uow.participants.by_telegram_id(701)
    assert participant is not None
    lecture = await scheduled_lecture(uow, world)
    assert await check_in(uow, 999_999, participant.id, now=NOW) is CheckinRefusal.UNKNOWN
    early = await check_in(uow, lecture.id, participant.id, now=NOW)
    assert isinstance(early, CheckinClosed)
    assert early.problem is CheckinProblem.NOT_YET
    assert early.opens == lecture.starts_at - CHECKIN_EARLY
    during = lecture.starts_at + timedelta(minutes=5)
    first = await check_in(uow, lecture.id, participant.id, now=during)
    assert first == CheckedIn(lecture, True)
    again = await check_in(uow, lecture.id, participant.id, now=during)
    assert again == CheckedIn(lecture, False)
    figures = await lecture_figures(uow, lecture.id, viewer=ADMIN)
    assert isinstance(figures, LectureFigures) and figures.total == 1


async def test_an_old_check_in_button_after_the_window_says_checked_in_to_who_did(
    uow: UnitOfWork, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await add_people(session_factory, [701, 702], world.classes["七年级1班"].id)
    came = await uow.participants.by_telegram_id(701)
    missed = await uow.participants.by_telegram_id(702)
    assert came is not None and missed is not None
    lecture = await scheduled_lecture(uow, world)
    await check_in(uow, lecture.id, came.id, now=lecture.starts_at + timedelta(minutes=5))
    after = lecture.ends_at + CHECKIN_LATE + timedelta(minutes=1)
    assert await check_in(uow, lecture.id, came.id, now=after) == CheckedIn(lecture, False)
    closed = await check_in(uow, lecture.id, missed.id, now=after)
    assert isinstance(closed, CheckinClosed) and closed.problem is CheckinProblem.OVER
    figures = await lecture_figures(uow, lecture.id, viewer=ADMIN)
    assert isinstance(figures, LectureFigures) and figures.total == 1  # nobody counted twice


async def test_a_lectures_figures_are_the_bureaus(uow: UnitOfWork, world: World) -> None:
    lecture = await scheduled_lecture(uow, world)
    refused = await lecture_figures(uow, lecture.id, viewer=coordinator(world))
    assert refused is FiguresRefusal.NOT_ALLOWED
    assert await lecture_figures(uow, 999_999, viewer=ADMIN) is FiguresRefusal.UNKNOWN
    figures = await lecture_figures(uow, lecture.id, viewer=ADMIN)
    assert isinstance(figures, LectureFigures) and figures.total == 0


# ---------------------------------------------------------------------- cancelling


async def test_the_organiser_and_admins_may_cancel_others_may_not(
    uow: UnitOfWork, world: World
) -> None:
    lecture = await scheduled_lecture(uow, world)

    async def cancellable(viewer: Permissions, telegram_id: int) -> bool:
        listed = await upcoming_lectures(uow, viewer=viewer, telegram_id=telegram_id, now=NOW)
        assert [item.lecture.id for item in listed] == [lecture.id]
        return listed[0].cancellable

    mine = coordinator(world)
    assert await cancellable(mine, ORGANISER)
    assert await cancellable(ADMIN, 1)
    assert not await cancellable(mine, 52)  # another coordinator of the same school
    assert not await cancellable(coordinator(world, OTHER), ORGANISER)  # rights moved
    assert not await cancellable(NOBODY, ORGANISER)
    refused = await lecture_to_cancel(uow, lecture.id, viewer=mine, telegram_id=52, now=NOW)
    assert refused is CancelRefusal.NOT_ALLOWED
    found = await lecture_to_cancel(uow, lecture.id, viewer=mine, telegram_id=ORGANISER, now=NOW)
    assert found == lecture


async def test_cancelling_is_refused_to_others_and_once_done(
    uow: UnitOfWork, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    lecture = await scheduled_lecture(uow, world)

    async def cancel(viewer: Permissions, telegram_id: int) -> Cancellation | CancelRefusal:
        return await cancel_lecture(
            uow,
            lecture.id,
            viewer=viewer,
            telegram_id=telegram_id,
            now=NOW,
            zone=SHANGHAI,
            translator=TRANSLATOR,
        )

    assert await cancel(coordinator(world, OTHER), ORGANISER) is CancelRefusal.NOT_ALLOWED
    assert (await committed(session_factory, lecture.id)) == lecture
    cancellation = await cancel(coordinator(world), ORGANISER)
    assert isinstance(cancellation, Cancellation)
    assert len(cancellation.reminder_ids) == 1  # its reminder is withdrawn
    stored = await committed(session_factory, lecture.id)
    assert stored is not None and stored.status is LectureStatus.CANCELLED
    assert await cancel(ADMIN, 1) is CancelRefusal.STALE


async def test_a_lecture_over_is_not_cancelled(uow: UnitOfWork, world: World) -> None:
    lecture = await scheduled_lecture(uow, world)
    after = lecture.ends_at
    refused = await lecture_to_cancel(uow, lecture.id, viewer=ADMIN, telegram_id=1, now=after)
    assert refused is CancelRefusal.STALE
    assert await lecture_to_cancel(uow, 999_999, viewer=ADMIN, telegram_id=1, now=NOW) is (
        CancelRefusal.STALE
    )
