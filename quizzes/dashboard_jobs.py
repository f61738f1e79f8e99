"""Work started from the dashboard that outlasts its request (a report compiling, a
roster importing) and roster files uploaded there, waiting to be confirmed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from quizzes.statistics import Period

__all__ = ["STALE_AFTER", "DashboardJob", "JobKind", "JobStatus", "RosterUpload"]

# A job that has said nothing for this long died with its process: it no longer stops
# the same work from being started again.
STALE_AFTER = timedelta(minutes=10)


class JobKind(StrEnum):
    REPORT = "report"
    ROSTER = "roster"


class JobStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class DashboardJob:
    """One piece of work and how far it has come: ``step`` names the step under way (in
    the job's language), ``done`` of ``total`` steps (or units written) are behind it."""

    id: int
    kind: JobKind
    status: JobStatus
    requested_by: int | None
    scope_unit_id: int | None
    period: Period | None
    locale: str
    step: str
    done: int
    total: int
    version_id: int | None
    upload_id: int | None
    outcome: str | None
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @property
    def percent(self) -> int:
        if self.status is JobStatus.DONE:
            return 100
        return min(99, 100 * self.done // self.total) if self.total else 0

    def stale(self, now: datetime) -> bool:
        return self.status is JobStatus.RUNNING and now - self.updated_at >= STALE_AFTER

    def status_at(self, now: datetime) -> JobStatus:
        """The status to show: a job gone stale died with its process, so it failed."""
        return JobStatus.FAILED if self.stale(now) else self.status


@dataclass(frozen=True, slots=True)
class RosterUpload:
    id: int
    uploaded_by: int
    filename: str
    uploaded_at: datetime
    confirmed_at: datetime | None
