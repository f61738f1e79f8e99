"""The dashboard's background work and its roster uploads (:mod:`storage.models_dashboard_jobs`).

Starting a job is one ``INSERT`` whose ``running_key`` is unique: of two requests for the
same work at once, one inserts and the other finds the running job. Confirming an upload
is one ``UPDATE ... WHERE confirmed_at IS NULL``: of two confirms, one wins.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from quizzes.dashboard_jobs import DashboardJob, JobKind, JobStatus, RosterUpload
from quizzes.statistics import Period
from storage.models_dashboard_jobs import DashboardJobRow, RosterUploadRow
from storage.repositories import insert_ignoring_conflicts


def _job(row: DashboardJobRow) -> DashboardJob:
    period = None
    if row.period_start is not None and row.period_end is not None:
        period = Period(row.period_start, row.period_end)
    return DashboardJob(
        id=row.id,
        kind=JobKind(row.kind),
        status=JobStatus(row.status),
        requested_by=row.requested_by,
        scope_unit_id=row.scope_unit_id,
        period=period,
        locale=row.locale,
        step=row.step,
        done=row.done,
        total=row.total,
        version_id=row.version_id,
        upload_id=row.upload_id,
        outcome=row.outcome,
        started_at=row.started_at,
        updated_at=row.updated_at,
        finished_at=row.finished_at,
    )


def _upload(row: RosterUploadRow) -> RosterUpload:
    return RosterUpload(row.id, row.uploaded_by, row.filename, row.uploaded_at, row.confirmed_at)


class DashboardJobRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def start(
        self,
        kind: JobKind,
        running_key: str,
        *,
        requested_by: int | None,
        locale: str,
        now: datetime,
        scope_unit_id: int | None = None,
        period: Period | None = None,
        upload_id: int | None = None,
    ) -> tuple[DashboardJob, bool]:
        """The job now running under ``running_key``: a new one (True), or the one already
        running (False). A running job that has gone stale is failed first."""
        running = await self._running(running_key)
        if running is not None and running.stale(now):
            await self.finish(running.id, JobStatus.FAILED, now=now)
        statement = insert_ignoring_conflicts(self.session, DashboardJobRow).values(
            kind=kind.value,
            running_key=running_key,
            requested_by=requested_by,
            scope_unit_id=scope_unit_id,
            period_start=period.start if period else None,
            period_end=period.end if period else None,
            locale=locale,
            status=JobStatus.RUNNING.value,
            step="",
            done=0,
            total=0,
            upload_id=upload_id,
            started_at=now,
            updated_at=now,
        )
        result = await self.session.execute(statement)
        inserted = bool(getattr(result, "rowcount", 0) == 1)
        job = await self._running(running_key)
        assert job is not None  # inserted, or another's still running (not stale)
        return job, inserted

    async def _running(self, running_key: str) -> DashboardJob | None:
        row = await self.session.scalar(
            select(DashboardJobRow).where(DashboardJobRow.running_key == running_key)
        )
        if row is None:
            return None
        await self.session.refresh(row)
        return _job(row)

    async def get(self, job_id: int) -> DashboardJob | None:
        row = await self.session.get(DashboardJobRow, job_id, populate_existing=True)
        return _job(row) if row is not None else None

    async def progress(self, job_id: int, step: str, done: int, total: int, now: datetime) -> None:
        await self.session.execute(
            update(DashboardJobRow)
            .where(DashboardJobRow.id == job_id, DashboardJobRow.status == "running")
            .values(step=step[:128], done=done, total=total, updated_at=now)
        )

    async def finish(
        self,
        job_id: int,
        status: JobStatus,
        *,
        now: datetime,
        version_id: int | None = None,
        outcome: str | None = None,
    ) -> None:
        """Done or failed: the work may be started again (its key is released)."""
        await self.session.execute(
            update(DashboardJobRow)
            .where(DashboardJobRow.id == job_id)
            .values(
                status=status.value,
                running_key=None,
                version_id=version_id,
                outcome=outcome,
                updated_at=now,
                finished_at=now,
            )
        )

    async def add_upload(
        self, uploaded_by: int, filename: str, content: bytes, now: datetime
    ) -> RosterUpload:
        row = RosterUploadRow(
            uploaded_by=uploaded_by, filename=filename[:255], content=content, uploaded_at=now
        )
        self.session.add(row)
        await self.session.flush()
        return _upload(row)

    async def upload(self, upload_id: int) -> tuple[RosterUpload, bytes] | None:
        row = await self.session.get(RosterUploadRow, upload_id, populate_existing=True)
        return (_upload(row), bytes(row.content)) if row is not None else None

    async def confirm_upload(self, upload_id: int, uploaded_by: int, now: datetime) -> bool:
        """Mark the upload confirmed by the person who uploaded it; False when it was
        confirmed before (a replayed form) or is not theirs."""
        result = await self.session.execute(
            update(RosterUploadRow)
            .where(
                RosterUploadRow.id == upload_id,
                RosterUploadRow.uploaded_by == uploaded_by,
                RosterUploadRow.confirmed_at.is_(None),
            )
            .values(confirmed_at=now)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def forget_uploads(self, before: datetime) -> None:
        """Uploads from before ``before`` (previewed and left, or imported long ago) go."""
        await self.session.execute(
            delete(RosterUploadRow).where(RosterUploadRow.uploaded_at < before)
        )

    async def commit(self) -> None:
        await self.session.commit()
