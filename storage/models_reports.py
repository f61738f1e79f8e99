"""Compiled report versions, kept so that an earlier one can be fetched again.

Each version is the scope and period it covers, when and how it was compiled, and its
files (DOCX, XLSX, CSV, Markdown, chart) as they were sent. Aggregate figures only: no
file names a person.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, utcnow


class ReportVersionRow(Base):
    __tablename__ = "report_versions"
    __table_args__ = (
        CheckConstraint("trigger IN ('scheduled', 'chat', 'cli', 'web')", name="trigger"),
        CheckConstraint("period_end >= period_start", name="period"),
        Index("ix_report_versions_compiled_at", "compiled_at"),
        Index("ix_report_versions_scope_unit_id", "scope_unit_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    scope_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))
    # The unit's name when compiled: a later rename does not rewrite history.
    scope_name: Mapped[str] = mapped_column(String(128))
    period_start: Mapped[date]
    period_end: Mapped[date]
    locale: Mapped[str] = mapped_column(String(8))
    trigger: Mapped[str] = mapped_column(String(16))
    compiled_by: Mapped[int | None]  # Telegram id; NULL when scheduled
    compiled_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReportFileRow(Base):
    __tablename__ = "report_files"

    version_id: Mapped[int] = mapped_column(
        ForeignKey("report_versions.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
