"""Reports: compiling one for a unit and a period, within the viewer's rights, and the
versions kept of earlier ones.

Admins report on the whole tree (its roots), a school coordinator on their own schools;
:func:`report_scopes` says which units those are, and every other use case here checks
the unit asked for against the same rule, so the web pages get it for free. Compiling
counts in SQL for a while and renders in a worker thread, so it opens sessions of its
own from the session factory instead of holding the request's unit of work open.
Every figure comes from :mod:`storage.statistics`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import Translator
from bot.reports.compile import Progress, ReportFiles, compile_report
from quizzes.permissions import Permissions
from quizzes.reports import ReportVersion, Trigger
from quizzes.statistics import Period, Statistics
from quizzes.units import Unit
from storage.reports import ReportRepository
from storage.statistics import StatisticsRepository
from storage.unit_of_work import UnitOfWork

__all__ = [
    "ReportRefusal",
    "StoredReport",
    "compile_and_keep",
    "compile_chat_report",
    "kept_file",
    "may_report_on",
    "participation_figures",
    "report_scopes",
    "stored_report",
    "stored_reports",
]

log = logging.getLogger(__name__)

SessionFactory = async_sessionmaker[AsyncSession]


class ReportRefusal(StrEnum):
    NOT_STAFF = "not_staff"
    NOT_IN_REACH = "not_in_reach"  # a unit outside the viewer's schools
    FAILED = "failed"  # compiling went wrong (logged); nothing was kept
    UNKNOWN = "unknown"  # no such version (or file of it) is kept


@dataclass(frozen=True, slots=True)
class StoredReport:
    """A kept version and those of its files that were asked for, in the order asked."""

    version: ReportVersion
    files: dict[str, bytes]


def may_report_on(viewer: Permissions, unit_id: int) -> bool:
    """Admins on any unit; a coordinator on the schools they coordinate."""
    return viewer.is_admin or unit_id in viewer.coordinator_of


async def report_scopes(uow: UnitOfWork, viewer: Permissions) -> list[Unit] | ReportRefusal:
    """The units this person may report on: the tree's root(s), or their own schools
    (none when the tree or the school is gone). Ends its reads before returning."""
    if not viewer.is_staff:
        return ReportRefusal.NOT_STAFF
    if viewer.is_admin:
        scopes = await uow.units.roots()
    else:
        found = [await uow.units.get(unit_id) for unit_id in sorted(viewer.coordinator_of)]
        scopes = [unit for unit in found if unit is not None]
    await uow.commit()
    return scopes


async def compile_chat_report(
    session_factory: SessionFactory,
    scope: Unit,
    period: Period,
    *,
    viewer: Permissions,
    compiled_by: int,
    now: datetime,
    zone: ZoneInfo,
    locale: str,
    translator: Translator,
) -> ReportFiles | ReportRefusal:
    """Compile every file of the report on ``scope`` over ``period`` and keep it as a
    version asked for in chat, so that ``/reports`` can send it again."""
    kept = await compile_and_keep(
        session_factory,
        scope,
        period,
        viewer=viewer,
        trigger=Trigger.CHAT,
        compiled_by=compiled_by,
        now=now,
        zone=zone,
        locale=locale,
        translator=translator,
    )
    return kept if isinstance(kept, ReportRefusal) else kept[0]


async def compile_and_keep(
    session_factory: SessionFactory,
    scope: Unit,
    period: Period,
    *,
    viewer: Permissions,
    trigger: Trigger,
    compiled_by: int | None,
    now: datetime,
    zone: ZoneInfo,
    locale: str,
    translator: Translator,
    progress: Progress | None = None,
) -> tuple[ReportFiles, ReportVersion] | ReportRefusal:
    """Compile every file of the report and keep it as a version (``trigger`` says which
    door asked); ``progress`` hears of each step as :func:`compile_report` takes it."""
    if not may_report_on(viewer, scope.id):
        return ReportRefusal.NOT_IN_REACH
    try:
        report = await compile_report(
            session_factory,
            scope,
            period,
            zone=zone,
            locale=locale,
            translator=translator,
            compiled_at=now,
            progress=progress,
        )
    except Exception:
        log.exception("report for unit %s failed", scope.id)
        return ReportRefusal.FAILED
    async with session_factory() as session:
        reports = ReportRepository(session)
        version = await reports.save(
            scope,
            period,
            locale=locale,
            trigger=trigger,
            compiled_by=compiled_by,
            compiled_at=report.compiled_at,
            files=report.files,
        )
        await reports.commit()
    return report, version


async def participation_figures(
    session_factory: SessionFactory,
    scope: Unit,
    period: Period,
    *,
    viewer: Permissions,
    zone: ZoneInfo,
    total_name: str,
) -> Statistics | ReportRefusal:
    """The figures of the report on ``scope`` over ``period`` (what the CSV export holds),
    without rendering or keeping anything; ``total_name`` names the total row."""
    if not may_report_on(viewer, scope.id):
        return ReportRefusal.NOT_IN_REACH
    async with session_factory() as session:
        return await StatisticsRepository(session).compile(
            scope, period, zone, total_name=total_name
        )


async def stored_reports(
    uow: UnitOfWork, viewer: Permissions, *, limit: int = 10
) -> list[ReportVersion] | ReportRefusal:
    """The newest kept versions the viewer may fetch: all for admins, their schools' for
    a coordinator. Ends its reads before returning."""
    if not viewer.is_staff:
        return ReportRefusal.NOT_STAFF
    versions = await uow.reports.latest(
        None if viewer.is_admin else viewer.coordinator_of, limit=limit
    )
    await uow.commit()
    return versions


async def stored_report(
    uow: UnitOfWork, version_id: int, names: Sequence[str], *, viewer: Permissions
) -> StoredReport | None:
    """The kept version ``version_id`` with its files of ``names`` (in that order); None
    when it is gone, none of those files is kept, or the viewer may not see it."""
    version = await uow.reports.get(version_id)
    files: dict[str, bytes] = {}
    if version is not None and may_report_on(viewer, version.scope_unit_id):
        files = await uow.reports.files(version.id, names)
    await uow.commit()
    if version is None or not files:
        return None
    return StoredReport(version, {name: files[name] for name in names if name in files})


async def kept_file(
    uow: UnitOfWork, version_id: int, name: str, *, viewer: Permissions
) -> StoredReport | ReportRefusal:
    """One file of a kept version, for a download: refused when the version is of a unit
    outside the viewer's reach, unknown when there is no such version or file."""
    if not viewer.is_staff:
        await uow.commit()
        return ReportRefusal.NOT_STAFF
    version = await uow.reports.get(version_id)
    if version is not None and not may_report_on(viewer, version.scope_unit_id):
        await uow.commit()
        return ReportRefusal.NOT_IN_REACH
    files = await uow.reports.files(version_id, [name]) if version is not None else {}
    await uow.commit()
    if version is None or name not in files:
        return ReportRefusal.UNKNOWN
    return StoredReport(version, files)
