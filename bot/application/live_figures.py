"""The dashboard's live figures: the report's own figures, computed once and shared.

A bureau watches the overview while a whole school answers, and a dozen staff keep it
open, each page asking again every 15 seconds. The report's queries for a large division
take a good part of a second, so they cannot run for every page of every viewer while
answers arrive. Instead each set of figures (a unit over a period) is computed by one
task and kept: every page that asks within ``max_age`` gets the kept figures at once;
the first page to ask after that still gets them at once, and starts the one refresh
that replaces them (stale-while-revalidate). A page is never more than ``max_age`` plus
one computation behind, and says how old its figures are.

Only the groups the dashboard shows are computed (registration and quizzes, see
:data:`LIVE_SECTIONS`); they are the report's figures (:meth:`StatisticsRepository.compile`)
for the same unit and period, not a second count. Each process keeps its own figures.

A school's figures are cut from its whole tree's (:meth:`StatisticsRepository.compile_by_school`):
one computation per period serves the division's overview and every school's page, however
many are open, and each school's cut is what the report counts for that school alone.

A refresh is a background job beside live traffic: its statements run one after another,
each on one core of the database (:meth:`StatisticsRepository.in_background`), so that it
never takes the whole database from the answers arriving meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from quizzes.clock import Clock, system_clock
from quizzes.statistics import Period, Statistics
from quizzes.units import Unit, UnitKind
from storage.statistics import BY_SCHOOL_SECTIONS
from storage.unit_of_work import UnitOfWork

__all__ = [
    "LIVE_SECTIONS",
    "FigureSource",
    "Fresh",
    "LiveFigures",
    "fresh",
]

log = logging.getLogger(__name__)

# What the dashboard's tables show: registered, took part, completed, passed, enrolment;
# all counted per school, so that a school's figures can be cut from its tree's.
LIVE_SECTIONS = BY_SCHOOL_SECTIONS
MAX_AGE = timedelta(seconds=10)
CAPACITY = 512  # sets of figures kept (units × periods); the least recently read go first


class FigureSource(Protocol):
    """Where the dashboard's use cases get a unit's figures over a period, and as of when."""

    async def statistics(
        self,
        uow: UnitOfWork,
        unit: Unit,
        period: Period,
        zone: ZoneInfo,
        *,
        total_name: str,
        now: datetime,
    ) -> tuple[Statistics, datetime]: ...


class Fresh:
    """Computes the figures in the caller's unit of work, every time (tests, the CLI)."""

    async def statistics(
        self,
        uow: UnitOfWork,
        unit: Unit,
        period: Period,
        zone: ZoneInfo,
        *,
        total_name: str,
        now: datetime,
    ) -> tuple[Statistics, datetime]:
        figures = await uow.statistics.compile(
            unit, period, zone, total_name=total_name, now=now, sections=LIVE_SECTIONS
        )
        await uow.commit()
        return figures, now


fresh = Fresh()

_Key = tuple[int, Period, str, str]


@dataclass(frozen=True, slots=True)
class _Kept:
    statistics: Statistics
    as_of: datetime  # when the computation that made them started
    schools: Mapping[int, Statistics] = field(default_factory=dict)  # a root's, cut per school


class LiveFigures:
    """Figures kept per (unit, period), refreshed by one task when older than ``max_age``.

    ``open_uow`` gives the refreshing task a unit of work of its own: the page that
    started it may be answered (and its session closed) before the refresh ends.
    """

    def __init__(
        self,
        open_uow: Callable[[], AbstractAsyncContextManager[UnitOfWork]],
        *,
        clock: Clock = system_clock,
        max_age: timedelta = MAX_AGE,
        capacity: int = CAPACITY,
    ) -> None:
        self._open_uow = open_uow
        self._clock = clock
        self.max_age = max_age
        self._capacity = capacity
        self._kept: OrderedDict[_Key, _Kept] = OrderedDict()
        self._running: dict[_Key, asyncio.Task[_Kept]] = {}
        # Refreshes of kept figures run one at a time: each period's refresh falls due at
        # once, and together they took both cores of the database from the answers.
        self._one_refresh = asyncio.Semaphore(1)
        self.computed = 0  # how many times figures were computed (for tests and benchmarks)

    async def statistics(
        self,
        uow: UnitOfWork,
        unit: Unit,
        period: Period,
        zone: ZoneInfo,
        *,
        total_name: str,
        now: datetime,
    ) -> tuple[Statistics, datetime]:
        root_id = unit.ancestor_ids[0] if unit.ancestor_ids else unit.id
        if unit.kind is UnitKind.SCHOOL and root_id != unit.id:
            tree = await self._read((root_id, period, zone.key, total_name), root_id)
            school = tree.schools.get(unit.id)
            if school is not None:
                return school, tree.as_of
            # A school added since the tree's figures were computed: its own, until the next.
        # A root is computed with its schools' cuts (by id), whoever asks first.
        kept = await self._read(
            (unit.id, period, zone.key, total_name), unit.id if unit.parent_id is None else unit
        )
        return kept.statistics, kept.as_of

    async def _read(self, key: _Key, unit: Unit | int) -> _Kept:
        """The kept figures of ``key``, starting their refresh when they are too old; the
        first to ask for figures never computed waits for them (with everyone else)."""
        kept = self._kept.get(key)
        if kept is not None:
            self._kept.move_to_end(key)
            if self._clock() - kept.as_of >= self.max_age and key not in self._running:
                task = self._start(key, unit, refresh=True)
                task.add_done_callback(_log_failure)
            return kept
        task = self._running.get(key) or self._start(key, unit, refresh=False)
        return await asyncio.shield(task)

    def _start(self, key: _Key, unit: Unit | int, *, refresh: bool) -> asyncio.Task[_Kept]:
        task = asyncio.create_task(self._compute(key, unit, refresh=refresh))
        self._running[key] = task
        return task

    async def _compute(self, key: _Key, unit: Unit | int, *, refresh: bool) -> _Kept:
        """Compute ``key``'s figures in a unit of work of the task's own. A root of the
        tree (given by id) is computed with every school's cut. A ``refresh`` (figures
        kept meanwhile) waits for the one before it; figures a page waits for do not."""
        try:
            async with self._one_refresh if refresh else contextlib.nullcontext():
                return await self._computed(key, unit)
        finally:
            self._running.pop(key, None)

    async def _computed(self, key: _Key, unit: Unit | int) -> _Kept:
        unit_id, period, zone_key, total_name = key
        zone = ZoneInfo(zone_key)
        as_of = self._clock()
        async with self._open_uow() as uow:
            statistics = uow.statistics.in_background()  # beside answers and pages
            if isinstance(unit, int):
                root = await statistics.unit(unit)
                if root is None:
                    raise LookupError(f"unit {unit_id} is gone")
                figures, schools = await statistics.compile_by_school(
                    root,
                    period,
                    zone,
                    total_name=total_name,
                    now=as_of,
                    sections=LIVE_SECTIONS,
                )
            else:
                figures = await statistics.compile(
                    unit,
                    period,
                    zone,
                    total_name=total_name,
                    now=as_of,
                    sections=LIVE_SECTIONS,
                )
                schools = {}
            await uow.commit()
        kept = _Kept(figures, as_of, schools)
        self.computed += 1
        self._kept[key] = kept
        self._kept.move_to_end(key)
        while len(self._kept) > self._capacity:
            self._kept.popitem(last=False)
        return kept

    async def settle(self) -> None:
        """Wait for the refreshes under way (tests; shutdown)."""
        while self._running:
            with contextlib.suppress(Exception):
                await asyncio.gather(*self._running.values(), return_exceptions=True)

    def forget(self) -> None:
        """Drop every kept figure: the next page computes afresh."""
        self._kept.clear()


def _log_failure(task: asyncio.Task[_Kept]) -> None:
    """A background refresh that failed keeps the old figures; say why once."""
    if not task.cancelled() and (error := task.exception()) is not None:
        log.warning("live figures: refresh failed (%s); kept the older figures", error)
