"""Work started from the dashboard that outlasts its request: a report being compiled, a
roster being imported; and the roster files uploaded there, waiting to be confirmed.

A job is a row, not a task in one process's memory, so that any process behind the load
balancer can show its progress, and so that two requests for the same work find each
other: ``running_key`` names the work while it runs (unique; NULL once it ends).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base


class DashboardJobRow(Base):
    __tablename__ = "dashboard_jobs"
    __table_args__ = (
        CheckConstraint("kind IN ('report', 'roster')", name="kind"),
        CheckConstraint("status IN ('running', 'done', 'failed')", name="status"),
        Index("ix_dashboard_jobs_scope_unit_id", "scope_unit_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    running_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    requested_by: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL")
    )
    # A report's unit, period and language; NULL for a roster import.
    scope_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))
    period_start: Mapped[date | None]
    period_end: Mapped[date | None]
    locale: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="running")
    step: Mapped[str] = mapped_column(String(128), default="")
    done: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(default=0)
    version_id: Mapped[int | None] = mapped_column(
        ForeignKey("report_versions.id", ondelete="SET NULL")
    )
    upload_id: Mapped[int | None] = mapped_column(
        ForeignKey("roster_uploads.id", ondelete="SET NULL")
    )
    # What a roster import did (JSON), for the page that shows it.
    outcome: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class RosterUploadRow(Base):
    """A roster file uploaded on the dashboard: previewed, then imported once when
    confirmed (``confirmed_at`` is set by the one request that wins)."""

    __tablename__ = "roster_uploads"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    uploaded_by: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
