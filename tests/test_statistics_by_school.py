"""A scope's figures cut into its schools' own: for every school, exactly what the
report computes for that school alone (rows, totals, campaigns' lines, days)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from quizzes.statistics import Period, Section
from quizzes.units import UnitKind
from storage.models import UnitRow
from storage.repositories import Repositories
from storage.statistics import BY_SCHOOL_SECTIONS, StatisticsRepository
from tests.report_world import PERIOD, SHANGHAI, Expected, build_history

PERIODS = (
    Period(*PERIOD),
    Period(date(2022, 3, 1), date(2022, 3, 31)),  # a month: attempts fall on both sides
    Period(date(2023, 1, 1), date(2023, 1, 31)),  # after the history: nothing to count
)


@pytest.fixture
async def history(session_factory: async_sessionmaker[AsyncSession]) -> Expected:
    return await build_history(session_factory)


@pytest.mark.parametrize("period", PERIODS, ids=["year", "month", "empty"])
async def test_each_schools_cut_is_the_schools_own_report(
    session_factory: async_sessionmaker[AsyncSession], history: Expected, period: Period
) -> None:
    async with session_factory() as session:
        repo = StatisticsRepository(session)
        root = await repo.root()
        assert root is not None
        schools = await Repositories.over(session).units.of_kind(UnitKind.SCHOOL)
        whole, cut = await repo.compile_by_school(root, period, SHANGHAI, total_name="合计")
        assert whole == await repo.compile(
            root, period, SHANGHAI, total_name="合计", sections=BY_SCHOOL_SECTIONS
        )
        assert sorted(cut) == sorted(school.id for school in schools)
        took_part = 0
        for school in schools:
            alone = await repo.compile(
                school, period, SHANGHAI, total_name="合计", sections=BY_SCHOOL_SECTIONS
            )
            assert cut[school.id] == alone, school.name
            took_part += alone.total.took_part.total
        # the participants of the regiment itself are in no school's cut
        assert whole.elsewhere is not None
        assert took_part + whole.elsewhere.took_part.total == whole.total.took_part.total
        if period == PERIODS[0]:
            assert whole.campaigns and whole.daily and took_part > 0


async def test_two_schools_of_one_name_are_each_cut_under_their_own_name(
    session_factory: async_sessionmaker[AsyncSession], history: Expected
) -> None:
    async with session_factory() as session:
        first, second = (await Repositories.over(session).units.of_kind(UnitKind.SCHOOL))[:2]
        await session.execute(
            update(UnitRow).where(UnitRow.id == second.id).values(name=first.name)
        )
        await session.commit()
        second = replace(second, name=first.name)
    async with session_factory() as session:
        repo = StatisticsRepository(session)
        root = await repo.root()
        assert root is not None
        whole, cut = await repo.compile_by_school(root, PERIODS[0], SHANGHAI)
        shown = {row.unit_id: row.name for row in whole.schools}
        assert shown[second.id] != first.name  # told apart in the scope's table
        alone = await repo.compile(second, PERIODS[0], SHANGHAI, sections=BY_SCHOOL_SECTIONS)
        assert cut[second.id] == alone
        assert cut[second.id].schools[0].name == first.name


async def test_sections_not_counted_per_row_are_not_cut(
    session_factory: async_sessionmaker[AsyncSession], history: Expected
) -> None:
    async with session_factory() as session:
        repo = StatisticsRepository(session)
        root = await repo.root()
        assert root is not None
        with pytest.raises(ValueError, match="not counted per school"):
            await repo.compile_by_school(
                root,
                PERIODS[0],
                SHANGHAI,
                sections=BY_SCHOOL_SECTIONS | {Section.LECTURES},
            )


async def test_in_the_background_the_same_figures_take_one_connection_and_one_core_each(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession], history: Expected
) -> None:
    """The dashboard's refresh (``in_background``) gives the report's figures, its
    statements one after another on one connection, none with parallel workers."""
    seen: list[tuple[int, str]] = []

    def record(connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append((id(connection.connection.dbapi_connection), statement))

    async with session_factory() as session:
        repo = StatisticsRepository(session)
        root = await repo.root()
        assert root is not None
        fast = await repo.compile_by_school(root, PERIODS[0], SHANGHAI, total_name="合计")
        event.listen(engine.sync_engine, "before_cursor_execute", record)
        try:
            quiet = await repo.in_background().compile_by_school(
                root, PERIODS[0], SHANGHAI, total_name="合计"
            )
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", record)
    assert quiet == fast
    assert quiet[0].total.took_part.total > 0
    figures = [(conn, sql) for conn, sql in seen if "GROUP BY" in sql]
    assert len(figures) >= 4
    assert len({conn for conn, _sql in figures}) == 1  # one connection, in turn
    if engine.dialect.name == "postgresql":
        on_that = [sql for conn, sql in seen if conn == figures[0][0]]
        one_core = on_that.index("SET LOCAL max_parallel_workers_per_gather = 0")
        assert one_core < on_that.index(figures[0][1])
        assert "SET TRANSACTION SNAPSHOT" in " ".join(on_that[:one_core])  # one snapshot
