"""Tables of the scheduler: one row per firing of a scheduled job.

A firing is claimed by inserting its ``(job_id, due_at)``; the unique constraint lets
exactly one bot process win, however many share the database.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base


class JobRunRow(Base):
    __tablename__ = "job_runs"
    __table_args__ = (
        UniqueConstraint("job_id", "due_at"),
        Index("ix_job_runs_started_at", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(128))
    # The moment the firing was due (not when it ran): the same in every process.
    due_at: Mapped[datetime]
    # host:pid:random of the process that won the claim.
    claimed_by: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime]
    # NULL while running, or when the process died or stopped mid-run.
    finished_at: Mapped[datetime | None]
    # The traceback when the job failed; NULL when it succeeded.
    error: Mapped[str | None] = mapped_column(Text)
