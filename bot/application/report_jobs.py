"""Reports compiled from the dashboard's page: in the background, with their progress
kept in the database (any process can show it), once per unit, period and language at a
time, and kept as a version like the chat's.

The rights are :mod:`bot.application.reports`' (:func:`may_report_on`): admins report on
any unit, a school coordinator on their own schools, for the page, the progress and every
download alike.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.application.job_progress import JobProgress, end_job
from bot.application.reports import (
    ReportRefusal,
    SessionFactory,
    compile_and_keep,
    may_report_on,
    report_scopes,
)
from bot.i18n import Translator
from bot.reports.compile import CSV, REPORT_DOCX, XLSX, ReportFiles
from quizzes.dashboard_jobs import DashboardJob, JobKind, JobStatus
from quizzes.permissions import Permissions
from quizzes.reports import ReportVersion, Trigger
from quizzes.statistics import Period
from quizzes.units import Unit, UnitKind
from storage.unit_of_work import UnitOfWork

__all__ = [
    "ReportChoices",
    "ReportJob",
    "ReportStart",
    "UnitChoice",
    "downloadable",
    "form_is_genuine",
    "report_choices",
    "report_job",
    "run_report_job",
    "start_report",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class UnitChoice:
    unit: Unit
    depth: int  # 0 for a root; the page indents by it


@dataclass(frozen=True, slots=True)
class ReportChoices:
    """What the page offers: the units to report on (the viewer's scope first), and the
    kept versions the viewer may download, newest first."""

    units: list[UnitChoice]
    default_unit_id: int | None
    history: list[ReportVersion]
    files: dict[int, list[str]]  # of each version in the history, those offered for download


def downloadable(name: str) -> bool:
    """The files of a kept version that the page offers: the document, the tables and the
    charts (not the Markdown source or the activity photos inside the document)."""
    return name in (REPORT_DOCX, XLSX, CSV) or (name.endswith(".png") and "/" not in name)


async def _downloads(uow: UnitOfWork, version_ids: list[int]) -> dict[int, list[str]]:
    names = await uow.reports.names(version_ids) if version_ids else {}
    order = {REPORT_DOCX: 0, XLSX: 1, CSV: 2}
    return {
        version_id: sorted(filter(downloadable, found), key=lambda n: (order.get(n, 3), n))
        for version_id, found in names.items()
    }


async def report_choices(
    uow: UnitOfWork, viewer: Permissions, *, history: int = 20
) -> ReportChoices | ReportRefusal:
    """Admins: the division, its regiments and schools; a coordinator: their schools. The
    history is the same as ``/reports`` lists in chat. Ends its reads before returning."""
    scopes = await report_scopes(uow, viewer)
    if isinstance(scopes, ReportRefusal):
        return scopes
    units: list[UnitChoice] = []
    if viewer.is_admin:
        wanted = [
            *scopes,
            *await uow.units.of_kind(UnitKind.REGIMENT),
            *await uow.units.of_kind(UnitKind.SCHOOL),
        ]
        below: dict[int | None, list[Unit]] = {}
        for unit in wanted:
            below.setdefault(unit.parent_id, []).append(unit)

        def walk(unit: Unit, depth: int) -> None:
            units.append(UnitChoice(unit, depth))
            for child in sorted(below.get(unit.id, []), key=lambda u: u.name):
                walk(child, depth + 1)

        for root in scopes:
            walk(root, 0)
    else:
        units = [UnitChoice(unit, 0) for unit in scopes]
    versions = await uow.reports.latest(
        None if viewer.is_admin else viewer.coordinator_of, limit=history
    )
    files = await _downloads(uow, [version.id for version in versions])
    await uow.commit()
    default = scopes[0].id if scopes else None
    return ReportChoices(units, default, versions, files)


@dataclass(frozen=True, slots=True)
class ReportStart:
    """The job compiling the report asked for; ``run`` when this request started it (the
    caller runs :func:`run_report_job`), False when the same report was already being
    compiled (that job is shown instead)."""

    job: DashboardJob
    scope: Unit
    run: bool


def form_is_genuine(expected: str, token: str | None) -> bool:
    """The form carries the session's CSRF token."""
    return token is not None and hmac.compare_digest(token.encode(), expected.encode())


async def start_report(
    uow: UnitOfWork,
    viewer: Permissions,
    unit_id: int,
    period: Period,
    *,
    requested_by: int,
    locale: str,
    now: datetime,
) -> ReportStart | ReportRefusal:
    """Start compiling the report on ``unit_id`` over ``period`` in ``locale``, or join
    the same report already being compiled. Commits before returning."""
    if not viewer.is_staff:
        return ReportRefusal.NOT_STAFF
    unit = await uow.units.get(unit_id)
    if unit is None:
        await uow.commit()
        return ReportRefusal.UNKNOWN
    if not may_report_on(viewer, unit.id):
        await uow.commit()
        return ReportRefusal.NOT_IN_REACH
    key = f"report:{unit.id}:{period.start}:{period.end}:{locale}"
    job, started = await uow.dashboard_jobs.start(
        JobKind.REPORT,
        key,
        requested_by=requested_by,
        locale=locale,
        now=now,
        scope_unit_id=unit.id,
        period=period,
    )
    await uow.commit()
    return ReportStart(job, unit, started)


@dataclass(frozen=True, slots=True)
class ReportJob:
    """A report job, the unit it covers, and (once done) the files offered for download."""

    job: DashboardJob
    scope: Unit
    files: list[str]


async def report_job(
    uow: UnitOfWork, viewer: Permissions, job_id: int
) -> ReportJob | ReportRefusal:
    """A report job and how far it has come, for a viewer who may report on its unit.
    Ends its reads before returning."""
    if not viewer.is_staff:
        return ReportRefusal.NOT_STAFF
    job = await uow.dashboard_jobs.get(job_id)
    scope = None
    if job is not None and job.kind is JobKind.REPORT and job.scope_unit_id is not None:
        scope = await uow.units.get(job.scope_unit_id)
    if job is None or scope is None:
        await uow.commit()
        return ReportRefusal.UNKNOWN
    if not may_report_on(viewer, scope.id):
        await uow.commit()
        return ReportRefusal.NOT_IN_REACH
    files: list[str] = []
    if job.version_id is not None:
        files = (await _downloads(uow, [job.version_id])).get(job.version_id, [])
    await uow.commit()
    return ReportJob(job, scope, files)


async def run_report_job(
    session_factory: SessionFactory,
    start: ReportStart,
    *,
    viewer: Permissions,
    compiled_by: int | None,
    zone: ZoneInfo,
    translator: Translator,
    clock: Callable[[], datetime],
) -> None:
    """Compile the report of a started job, writing its progress as it goes, keep it as a
    version compiled on the web, and end the job (failed, if compiling failed)."""
    job = start.job
    assert job.period is not None
    kept: tuple[ReportFiles, ReportVersion] | ReportRefusal = ReportRefusal.FAILED
    try:
        async with JobProgress(session_factory, job.id, clock) as progress:
            kept = await compile_and_keep(
                session_factory,
                start.scope,
                job.period,
                viewer=viewer,
                trigger=Trigger.WEB,
                compiled_by=compiled_by,
                now=clock(),
                zone=zone,
                locale=job.locale,
                translator=translator,
                progress=progress,
            )
    except Exception:  # keeping it failed: the job must end all the same
        log.exception("report job %s failed", job.id)
    finally:
        if isinstance(kept, ReportRefusal):
            await end_job(session_factory, job.id, JobStatus.FAILED, now=clock())
        else:
            await end_job(
                session_factory, job.id, JobStatus.DONE, now=clock(), version_id=kept[1].id
            )
