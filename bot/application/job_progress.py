"""Progress of the dashboard's background work, written to the job's row as it goes, so
that any process can show it.

The work calls the object (from the event loop or from a worker thread); a task writes
the latest step at most every quarter second. Writing is a courtesy: a write that fails
(on SQLite, one that waits out a roster import's own transaction) is logged and the work
goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from quizzes.dashboard_jobs import JobStatus
from storage.dashboard_jobs import DashboardJobRepository

__all__ = ["JobProgress", "end_job"]

log = logging.getLogger(__name__)

WRITE_EVERY_S = 0.25


class JobProgress:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        job_id: int,
        clock: Callable[[], datetime],
    ) -> None:
        self.session_factory = session_factory
        self.job_id = job_id
        self.clock = clock
        self._latest: tuple[str, int, int] | None = None
        self._told = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._writer: asyncio.Task[None] | None = None
        self._written: tuple[str, int, int] | None = None

    def __call__(self, step: str, done: int, total: int) -> None:
        self._loop.call_soon_threadsafe(self._note, step, done, total)

    def _note(self, step: str, done: int, total: int) -> None:
        self._latest = (step, done, total)
        self._told.set()

    async def _write_latest(self) -> None:
        latest = self._latest
        if latest is None or latest == self._written:
            return
        try:
            async with self.session_factory() as session:
                jobs = DashboardJobRepository(session)
                await jobs.progress(self.job_id, *latest, self.clock())
                await jobs.commit()
            self._written = latest
        except Exception:
            log.warning("progress of job %s not written", self.job_id, exc_info=True)

    async def _write(self) -> None:
        while True:
            await self._told.wait()
            self._told.clear()
            await self._write_latest()
            await asyncio.sleep(WRITE_EVERY_S)

    async def __aenter__(self) -> JobProgress:
        self._writer = asyncio.create_task(self._write())
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
        await asyncio.sleep(0)  # a step told from the worker thread just now
        await self._write_latest()  # the last step, which the pause may have held back


async def end_job(
    session_factory: async_sessionmaker[AsyncSession],
    job_id: int,
    status: JobStatus,
    *,
    now: datetime,
    version_id: int | None = None,
    outcome: str | None = None,
) -> None:
    """Mark the job done or failed. Called in a ``finally``: a job cancelled by a shutdown
    is failed too, rather than left running until it goes stale."""
    async with session_factory() as session:
        jobs = DashboardJobRepository(session)
        await jobs.finish(job_id, status, now=now, version_id=version_id, outcome=outcome)
        await jobs.commit()
