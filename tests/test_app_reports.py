"""The report use cases, with a real unit of work on SQLite and PostgreSQL: who may report
on which unit, compiling and keeping a report asked for in chat, and fetching kept ones.
The figures themselves are tested in test_statistics and test_reports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.application import UnitOfWork
from bot.application.reports import (
    ReportRefusal,
    compile_chat_report,
    participation_figures,
    report_scopes,
    stored_report,
    stored_reports,
)
from bot.i18n import Translator
from bot.reports.compile import REPORT_DOCX, XLSX, ReportFiles
from quizzes.permissions import Permissions
from quizzes.reports import ReportVersion, Trigger
from quizzes.statistics import Period, Statistics
from quizzes.units import Unit
from storage.models_reports import ReportVersionRow
from tests.factories import World, build_world

SHANGHAI = ZoneInfo("Asia/Shanghai")
ADMIN = Permissions(is_admin=True)
NOBODY = Permissions()
PERIOD = Period(date(2026, 11, 1), date(2026, 11, 30))
FIRST = "胡杨河市第一中学"
SECOND = "一三一团中学"


@pytest.fixture
async def world(session_factory: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(session_factory)


@pytest.fixture
async def uow(session_factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[UnitOfWork]:
    async with session_factory() as session:
        yield UnitOfWork.over(session)


def coordinator_of(*units: Unit) -> Permissions:
    return Permissions(coordinator_of=frozenset(unit.id for unit in units))


async def test_admins_report_on_the_root_and_coordinators_on_their_schools(
    world: World, uow: UnitOfWork
) -> None:
    assert await report_scopes(uow, NOBODY) is ReportRefusal.NOT_STAFF
    admin_scopes = await report_scopes(uow, ADMIN)
    assert isinstance(admin_scopes, list)
    assert [unit.name for unit in admin_scopes] == ["第七师"]
    first, second = world.schools[FIRST], world.schools[SECOND]
    assert await report_scopes(uow, coordinator_of(second, first)) == sorted(
        [first, second], key=lambda unit: unit.id
    )
    gone = Permissions(coordinator_of=frozenset({first.id + 10_000}))
    assert await report_scopes(uow, gone) == []  # a staff member with nothing left to report


async def test_a_report_is_compiled_and_kept_only_within_the_viewers_reach(
    world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    first, second = world.schools[FIRST], world.schools[SECOND]
    now = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)

    async def compile_on(scope: Unit, viewer: Permissions) -> ReportFiles | ReportRefusal:
        return await compile_chat_report(
            session_factory,
            scope,
            PERIOD,
            viewer=viewer,
            compiled_by=77,
            now=now,
            zone=SHANGHAI,
            locale="zh-CN",
            translator=Translator.load(),
        )

    assert await compile_on(second, coordinator_of(first)) is ReportRefusal.NOT_IN_REACH
    report = await compile_on(first, coordinator_of(first))
    assert isinstance(report, ReportFiles)
    assert report.statistics.scope_name == FIRST and report.compiled_at == now
    assert {REPORT_DOCX, XLSX} <= set(report.files)
    async with session_factory() as session:
        [kept] = list(await session.scalars(select(ReportVersionRow)))
    assert (kept.scope_unit_id, kept.trigger, kept.compiled_by) == (first.id, "chat", 77)


async def test_the_export_figures_are_refused_outside_the_viewers_reach(
    world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    first, second = world.schools[FIRST], world.schools[SECOND]

    async def figures(scope: Unit, viewer: Permissions) -> Statistics | ReportRefusal:
        return await participation_figures(
            session_factory, scope, PERIOD, viewer=viewer, zone=SHANGHAI, total_name="合计"
        )

    assert await figures(first, coordinator_of(second)) is ReportRefusal.NOT_IN_REACH
    stats = await figures(first, ADMIN)
    assert isinstance(stats, Statistics) and stats.scope_name == FIRST


async def keep(uow: UnitOfWork, scope: Unit, files: dict[str, bytes]) -> ReportVersion:
    version = await uow.reports.save(
        scope,
        PERIOD,
        locale="zh-CN",
        trigger=Trigger.CHAT,
        compiled_by=1,
        compiled_at=datetime.now(UTC),
        files=files,
    )
    await uow.commit()
    return version


async def test_kept_reports_are_listed_and_fetched_by_those_who_may_see_them(
    world: World, uow: UnitOfWork
) -> None:
    first, second = world.schools[FIRST], world.schools[SECOND]
    mine = await keep(uow, first, {XLSX: b"xlsx", REPORT_DOCX: b"docx", "report.md": b"md"})
    theirs = await keep(uow, second, {REPORT_DOCX: b"docx"})
    no_chat_files = await keep(uow, first, {"report.md": b"md"})

    assert await stored_reports(uow, NOBODY) is ReportRefusal.NOT_STAFF
    listed = await stored_reports(uow, coordinator_of(first))
    assert isinstance(listed, list)
    assert {version.id for version in listed} == {mine.id, no_chat_files.id}
    everything = await stored_reports(uow, ADMIN, limit=2)
    assert isinstance(everything, list) and len(everything) == 2

    names = (REPORT_DOCX, XLSX)
    fetched = await stored_report(uow, mine.id, names, viewer=coordinator_of(first))
    assert fetched is not None and fetched.version == mine
    assert list(fetched.files.items()) == [(REPORT_DOCX, b"docx"), (XLSX, b"xlsx")]
    assert await stored_report(uow, theirs.id, names, viewer=coordinator_of(first)) is None
    assert await stored_report(uow, no_chat_files.id, names, viewer=ADMIN) is None
    assert await stored_report(uow, theirs.id + 100, names, viewer=ADMIN) is None
    fetched_by_admin = await stored_report(uow, theirs.id, names, viewer=ADMIN)
    assert fetched_by_admin is not None and fetched_by_admin.files == {REPORT_DOCX: b"docx"}
