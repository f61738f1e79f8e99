"""The dashboard's live figures: the report's figures, computed once and shared by every
page within their age, refreshed by one task, and equal to the report after a refresh."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.application.live_figures import LIVE_SECTIONS, LiveFigures, fresh
from quizzes.statistics import Period, Section, Statistics
from quizzes.units import Unit
from storage.models import UnitRow
from storage.unit_of_work import UnitOfWork
from tests.factories import World, build_world
from tests.publicity_factories import add_people
from tests.quiz_world import open_campaign
from tests.test_dashboard import answered

ZONE = ZoneInfo("Asia/Shanghai")
STUDENTS = (3000, 3001, 3002)


@dataclass
class Clock:
    offset: timedelta = field(default_factory=timedelta)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class Setting:
    session_factory: async_sessionmaker[AsyncSession]
    world: World
    school: Unit
    campaign_id: int
    clock: Clock
    live: LiveFigures
    open_uow: Callable[[], AbstractAsyncContextManager[UnitOfWork]]
    opened: list[int]  # units of work the live figures opened for themselves
    broken: bool = False  # the database is unreachable for the live figures' own work

    @property
    def period(self) -> Period:
        return Period.year_to_date(self.clock().astimezone(ZONE).date())

    async def read(self) -> tuple[Statistics, datetime]:
        async with self.session_factory() as session:
            return await self.live.statistics(
                UnitOfWork.over(session),
                self.school,
                self.period,
                ZONE,
                total_name="合计",
                now=self.clock(),
            )

    async def report(self) -> Statistics:
        """What the report computes for the same unit and period, every group included."""
        async with self.session_factory() as session:
            return await UnitOfWork.over(session).statistics.compile(
                self.school, self.period, ZONE, total_name="合计", now=self.clock()
            )


@pytest.fixture
async def setting(session_factory: async_sessionmaker[AsyncSession]) -> Setting:
    world = await build_world(session_factory)
    school = world.schools["胡杨河市第一中学"]
    class_id = next(iter(world.classes.values())).id
    await add_people(session_factory, STUDENTS, class_id)
    campaign = await open_campaign(session_factory)
    await answered(session_factory, campaign.id, STUDENTS[0], passed=True)
    clock = Clock()
    opened: list[int] = []

    @contextlib.asynccontextmanager
    async def open_uow() -> AsyncIterator[UnitOfWork]:
        if setting.broken:
            raise ConnectionError("database unreachable")
        opened.append(1)
        async with session_factory() as session:
            yield UnitOfWork.over(session)

    live = LiveFigures(open_uow, clock=clock, max_age=timedelta(seconds=10))
    setting = Setting(session_factory, world, school, campaign.id, clock, live, open_uow, opened)
    return setting


def participation(figures: Statistics) -> list[tuple[object, ...]]:
    """What the dashboard's tables show, school by school, and the total."""
    return [
        (f.unit_id, f.enrolled, f.registered.total, f.took_part.total, f.completed, f.passed)
        for f in (*figures.schools, figures.total)
    ]


async def test_the_live_figures_are_the_reports_and_computed_once_for_everyone(
    setting: Setting,
) -> None:
    together = await asyncio.gather(*(setting.read() for _ in range(5)))
    assert setting.live.computed == 1  # five pages at once: one computation
    figures, as_of = together[0]
    assert all(other is figures for other, _ in together)
    report = await setting.report()
    assert participation(figures) == participation(report)
    assert participation(figures)[-1][3:] == (1, 1, 1)  # took part, completed, passed
    assert figures.campaigns == report.campaigns
    assert figures.sections == LIVE_SECTIONS and Section.PUBLICITY in report.sections
    assert as_of <= setting.clock()


async def test_within_their_age_pages_share_the_kept_figures_then_one_refresh_replaces_them(
    setting: Setting,
) -> None:
    first, first_as_of = await setting.read()
    await answered(setting.session_factory, setting.campaign_id, STUDENTS[1], passed=False)
    setting.clock.offset = timedelta(seconds=9)
    kept, as_of = await setting.read()
    assert (kept, as_of) == (first, first_as_of) and setting.live.computed == 1
    # Older than ten seconds: the page still gets the kept figures at once, and starts
    # the one refresh (a second page meanwhile starts none).
    setting.clock.offset = timedelta(seconds=11)
    stale, _ = await setting.read()
    again, _ = await setting.read()
    assert stale is first and again is first
    await setting.live.settle()
    assert setting.live.computed == 2
    refreshed, refreshed_as_of = await setting.read()
    assert refreshed_as_of > first_as_of
    assert participation(refreshed) == participation(await setting.report())
    assert participation(refreshed)[-1][3:] == (2, 2, 1)


async def test_a_failed_refresh_keeps_the_older_figures_and_says_so(
    setting: Setting, caplog: pytest.LogCaptureFixture
) -> None:
    first, _ = await setting.read()
    setting.broken = True
    setting.clock.offset = timedelta(minutes=1)
    with caplog.at_level(logging.WARNING, logger="bot.application.live_figures"):
        kept, _ = await setting.read()
        await setting.live.settle()
        await asyncio.sleep(0)  # the failed task's callback runs on the next turn
    assert kept is first
    assert "refresh failed" in caplog.text
    setting.broken = False  # back: the next page starts a refresh that works
    await setting.read()
    await setting.live.settle()
    assert setting.live.computed == 2


async def test_the_least_recently_read_figures_are_let_go_beyond_the_capacity(
    setting: Setting,
) -> None:
    setting.live = LiveFigures(setting.open_uow, clock=setting.clock, capacity=1)
    await setting.read()
    today = setting.clock().astimezone(ZONE).date()
    async with setting.session_factory() as session:
        await setting.live.statistics(
            UnitOfWork.over(session),
            setting.school,
            Period(today, today),  # another period: other figures
            ZONE,
            total_name="合计",
            now=setting.clock(),
        )
    await setting.read()  # the year again: computed afresh
    assert setting.live.computed == 3


async def test_the_division_and_every_school_share_one_computation_each_its_own_report(
    setting: Setting,
) -> None:
    async with setting.session_factory() as session:
        uow = UnitOfWork.over(session)
        root = await uow.statistics.root()
        assert root is not None
        units = [root, *setting.world.schools.values()]
        read = await asyncio.gather(
            *(
                setting.live.statistics(
                    uow, unit, setting.period, ZONE, total_name="合计", now=setting.clock()
                )
                for unit in units
            )
        )
        assert setting.live.computed == 1  # the division's, cut per school
        for unit, (figures, _as_of) in zip(units, read, strict=True):
            report = await uow.statistics.compile(
                unit, setting.period, ZONE, total_name="合计", now=setting.clock()
            )
            assert participation(figures) == participation(report), unit.name
            assert figures.campaigns == report.campaigns and figures.daily == report.daily
        assert read[0][0].total.took_part.total == 1


async def test_fresh_figures_are_computed_in_the_callers_unit_of_work(setting: Setting) -> None:
    now = setting.clock()
    async with setting.session_factory() as session:
        figures, as_of = await fresh.statistics(
            UnitOfWork.over(session),
            setting.school,
            setting.period,
            ZONE,
            total_name="合计",
            now=now,
        )
    assert as_of == now
    assert participation(figures) == participation(await setting.report())
    assert setting.opened == []


async def test_a_school_added_after_its_divisions_figures_gets_its_own_until_the_next(
    setting: Setting,
) -> None:
    await setting.read()  # the division's figures, cut per school
    regiment_id = setting.school.parent_id
    assert regiment_id is not None
    async with setting.session_factory() as session:
        regiment = await UnitOfWork.over(session).statistics.unit(regiment_id)
        assert regiment is not None
        row = UnitRow(parent_id=regiment.id, kind="school", name="新建学校", students_enrolled=30)
        session.add(row)
        await session.flush()
        row.path = f"{regiment.path}{row.id}/"
        await session.commit()
        new = await UnitOfWork.over(session).statistics.unit(row.id)
        assert new is not None
        figures, _as_of = await setting.live.statistics(
            UnitOfWork.over(session),
            new,
            setting.period,
            ZONE,
            total_name="合计",
            now=setting.clock(),
        )
    assert setting.live.computed == 2  # not in the kept cuts: computed for itself
    assert participation(figures) == [(new.id, 30, 0, 0, 0, 0), (None, 30, 0, 0, 0, 0)]


async def test_refreshes_run_one_at_a_time_while_figures_a_page_waits_for_do_not(
    setting: Setting,
) -> None:
    """Every period's refresh falls due at once: they run in turn, each after the other,
    so that together they never hold more than one computation's share of the database."""
    active = peak = 0

    @contextlib.asynccontextmanager
    async def counted() -> AsyncIterator[UnitOfWork]:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        try:
            async with setting.open_uow() as uow:
                yield uow
        finally:
            active -= 1

    live = LiveFigures(counted, clock=setting.clock, max_age=timedelta(seconds=10))
    periods = [
        setting.period,
        Period(date(2022, 1, 1), date(2022, 1, 31)),
        Period(date(2022, 2, 1), date(2022, 2, 28)),
    ]

    async def read(period: Period) -> Statistics:
        async with setting.session_factory() as session:
            figures, _ = await live.statistics(
                UnitOfWork.over(session),
                setting.school,
                period,
                ZONE,
                total_name="合计",
                now=setting.clock(),
            )
            return figures

    await asyncio.gather(*(read(period) for period in periods))  # nothing kept yet: at once
    assert peak == len(periods)
    peak = 0
    setting.clock.offset = timedelta(seconds=11)
    kept = await asyncio.gather(*(read(period) for period in periods))  # each starts a refresh
    await live.settle()
    assert live.computed == 2 * len(periods)
    assert peak == 1
    refreshed = await asyncio.gather(*(read(period) for period in periods))
    assert all(new is not old for new, old in zip(refreshed, kept, strict=True))
