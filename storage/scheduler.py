"""Job runs: claiming a firing once across processes, and recording how it ended."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import utcnow
from storage.models_scheduler import JobRunRow
from storage.repositories import insert_ignoring_conflicts


@dataclass(frozen=True, slots=True)
class JobRun:
    job_id: str
    due_at: datetime
    claimed_by: str
    started_at: datetime
    finished_at: datetime | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.finished_at is not None and self.error is None


def _run(row: JobRunRow) -> JobRun:
    return JobRun(
        row.job_id, row.due_at, row.claimed_by, row.started_at, row.finished_at, row.error
    )


class JobRunRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim(self, job_id: str, due_at: datetime, claimed_by: str) -> bool:
        """Insert the firing ``(job_id, due_at)``; ``True`` only for the one insert that won."""
        result = await self.session.execute(
            insert_ignoring_conflicts(self.session, JobRunRow).values(
                job_id=job_id, due_at=due_at, claimed_by=claimed_by, started_at=utcnow()
            )
        )
        return bool(getattr(result, "rowcount", 0))

    async def finish(
        self, job_id: str, due_at: datetime, claimed_by: str, error: str | None
    ) -> None:
        await self.session.execute(
            update(JobRunRow)
            .where(
                JobRunRow.job_id == job_id,
                JobRunRow.due_at == due_at,
                JobRunRow.claimed_by == claimed_by,
            )
            .values(finished_at=utcnow(), error=error)
        )

    async def of(self, job_id: str) -> list[JobRun]:
        rows = await self.session.scalars(
            select(JobRunRow).where(JobRunRow.job_id == job_id).order_by(JobRunRow.due_at)
        )
        return [_run(row) for row in rows]

    async def recent(self, limit: int = 20) -> list[JobRun]:
        rows = await self.session.scalars(
            select(JobRunRow)
            .order_by(JobRunRow.started_at.desc(), JobRunRow.id.desc())
            .limit(limit)
        )
        return [_run(row) for row in rows]
