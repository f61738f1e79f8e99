"""A roster uploaded on the dashboard: checked row by row as the command line checks it,
previewed (what the import would create and change, worked out by importing it in a
transaction that is rolled back), then imported when confirmed, once, in the background
and all in one transaction, so nothing is ever half-imported.

Importing a roster is the bureau's: the command line (``pufa units import``) is its only
other door, and the chat has none, so on the dashboard it is for admins only.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.application.job_progress import JobProgress, end_job
from quizzes.dashboard_jobs import DashboardJob, JobKind, JobStatus
from quizzes.permissions import Permissions
from quizzes.roster import MAX_ROWS_CORPS, RosterError, RosterProblem, RosterRow, parse_roster
from quizzes.units import UnitKind
from storage.roster_import import RosterImport, import_roster
from storage.unit_of_work import UnitOfWork

__all__ = [
    "DEFAULT_DIVISION",
    "RosterPreview",
    "RosterRefusal",
    "RosterRejected",
    "RosterStart",
    "confirm_roster",
    "may_import_roster",
    "roster_division",
    "roster_job",
    "run_roster_job",
    "upload_roster",
]

log = logging.getLogger(__name__)

DEFAULT_DIVISION = "第七师"  # the command line's default root, for a tree not yet imported
# An upload is kept this long to be confirmed; older ones are deleted with the next upload.
KEEP_UPLOADS = timedelta(days=1)


class RosterRefusal(StrEnum):
    NOT_ADMIN = "not_admin"
    UNKNOWN = "unknown"  # no such upload (or job), or not this person's
    ALREADY = "already"  # confirmed before: a replayed form imports nothing
    NO_DIVISION = "no_division"


def may_import_roster(viewer: Permissions) -> bool:
    """Admins only, as at the command line."""
    return viewer.is_admin


@dataclass(frozen=True, slots=True)
class RosterRejected:
    """The file cannot be imported; every problem, by row and column. Nothing was kept."""

    problems: list[RosterProblem]


@dataclass(frozen=True, slots=True)
class RosterPreview:
    """What importing the upload would do, without doing it."""

    upload_id: int
    filename: str
    division: str
    rows: int
    result: RosterImport


async def roster_division(uow: UnitOfWork) -> str:
    """The root the roster goes under: the tree's one root, else the command line's
    default. Ends its reads before returning."""
    roots = await uow.units.roots()
    await uow.commit()
    return roots[0].name if len(roots) == 1 else DEFAULT_DIVISION


async def _dry_run(uow: UnitOfWork, rows: list[RosterRow], division: str) -> RosterImport:
    """The import, rolled back: exactly what it would create, change and leave out."""
    try:
        return await import_roster(uow.session, rows, division)
    finally:
        await uow.rollback()


async def upload_roster(
    uow: UnitOfWork,
    viewer: Permissions,
    *,
    uploaded_by: int,
    filename: str,
    content: bytes,
    division: str,
    now: datetime,
) -> RosterPreview | RosterRejected | RosterRefusal:
    """Check an uploaded roster; a good one is kept for confirming and previewed."""
    if not may_import_roster(viewer):
        return RosterRefusal.NOT_ADMIN
    division = division.strip()
    if not division:
        return RosterRefusal.NO_DIVISION
    try:
        rows = parse_roster(content, filename, max_rows=MAX_ROWS_CORPS)
    except RosterError as error:
        return RosterRejected(error.problems)
    await uow.dashboard_jobs.forget_uploads(now - KEEP_UPLOADS)
    upload = await uow.dashboard_jobs.add_upload(uploaded_by, filename, content, now)
    await uow.commit()
    result = await _dry_run(uow, rows, division)
    return RosterPreview(upload.id, upload.filename, division, len(rows), result)


@dataclass(frozen=True, slots=True)
class RosterStart:
    """The job importing a confirmed upload, and its rows (for :func:`run_roster_job`)."""

    job: DashboardJob
    rows: list[RosterRow]
    division: str
    retire_missing: bool


async def confirm_roster(
    uow: UnitOfWork,
    viewer: Permissions,
    upload_id: int,
    *,
    confirmed_by: int,
    division: str,
    retire_missing: bool,
    locale: str,
    now: datetime,
) -> RosterStart | RosterRejected | RosterRefusal:
    """Claim the upload (one confirm wins; a replay gets ``ALREADY``) and start its import;
    the caller runs :func:`run_roster_job`. Commits before returning."""
    if not may_import_roster(viewer):
        return RosterRefusal.NOT_ADMIN
    division = division.strip()
    if not division:
        return RosterRefusal.NO_DIVISION
    found = await uow.dashboard_jobs.upload(upload_id)
    if found is None or found[0].uploaded_by != confirmed_by:
        await uow.commit()
        return RosterRefusal.UNKNOWN
    upload, content = found
    try:  # parsed again: what is imported is what the file says now, checked
        rows = parse_roster(content, upload.filename, max_rows=MAX_ROWS_CORPS)
    except RosterError as error:
        await uow.commit()
        return RosterRejected(error.problems)
    if not await uow.dashboard_jobs.confirm_upload(upload.id, confirmed_by, now):
        await uow.commit()
        return RosterRefusal.ALREADY
    job, _started = await uow.dashboard_jobs.start(
        JobKind.ROSTER,
        f"roster:{upload.id}",
        requested_by=confirmed_by,
        locale=locale,
        now=now,
        upload_id=upload.id,
    )
    await uow.commit()
    return RosterStart(job, rows, division, retire_missing)


def outcome_of(result: RosterImport, rows: int) -> dict[str, Any]:
    """What an import did, as the job keeps it for its page (names, not ids: the page
    shows what happened then)."""
    return {
        "rows": rows,
        "created": {kind.value: count for kind, count in result.created.items() if count},
        "changed": len(result.changed),
        "new_schools": [u.name for u in result.new_units if u.kind is UnitKind.SCHOOL],
        "missing": [
            {
                "kind": entry.unit.kind.value,
                "label": entry.label,
                "classes": entry.classes,
                "participants": entry.participants,
            }
            for entry in result.missing
        ],
        "retired": result.retired,
    }


async def run_roster_job(
    session_factory: async_sessionmaker[AsyncSession],
    start: RosterStart,
    *,
    clock: Callable[[], datetime],
) -> None:
    """Import the confirmed rows in one transaction, writing progress (units written) as
    it goes, and end the job with what the import did; a failure leaves the tree as it
    was and the job failed."""
    job = start.job
    outcome: dict[str, Any] | None = None
    try:
        async with (
            JobProgress(session_factory, job.id, clock) as progress,
            session_factory() as session,
        ):
            result = await import_roster(
                session,
                start.rows,
                start.division,
                retire_missing=start.retire_missing,
                now=clock(),
                progress=lambda done, total: progress("", done, total),
            )
            await session.commit()
        outcome = outcome_of(result, len(start.rows))
    except Exception:
        log.exception("roster job %s failed; nothing was imported", job.id)
    finally:
        status = JobStatus.DONE if outcome is not None else JobStatus.FAILED
        text = json.dumps(outcome, ensure_ascii=False) if outcome is not None else None
        await end_job(session_factory, job.id, status, now=clock(), outcome=text)


@dataclass(frozen=True, slots=True)
class RosterJob:
    job: DashboardJob
    outcome: dict[str, Any] | None


async def roster_job(
    uow: UnitOfWork, viewer: Permissions, job_id: int
) -> RosterJob | RosterRefusal:
    """A roster import and how far it has come, or what it did."""
    if not may_import_roster(viewer):
        return RosterRefusal.NOT_ADMIN
    job = await uow.dashboard_jobs.get(job_id)
    await uow.commit()
    if job is None or job.kind is not JobKind.ROSTER:
        return RosterRefusal.UNKNOWN
    outcome = json.loads(job.outcome) if job.outcome else None
    return RosterJob(job, outcome)
