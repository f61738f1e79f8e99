"""Offline activities recorded by schools and the bureau, and each school's 法治副校长."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base


class ActivityRow(Base):
    """One event. The same school, day, kind and title is the same event: importing a
    file twice records it once."""

    __tablename__ = "activities"
    __table_args__ = (
        UniqueConstraint("unit_id", "held_on", "kind", "title"),
        Index("ix_activities_status_held_on", "status", "held_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40))
    theme: Mapped[str] = mapped_column(String(40))
    held_on: Mapped[date] = mapped_column(Date)
    title: Mapped[str] = mapped_column(String(200))
    # The organiser: a school for a school-wide event, or one of its classes.
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))
    students: Mapped[int] = mapped_column(default=0)
    teachers: Mapped[int] = mapped_column(default=0)
    parents: Mapped[int] = mapped_column(default=0)
    speaker: Mapped[str] = mapped_column(String(80), default="")
    speaker_organisation: Mapped[str] = mapped_column(String(80), default="")
    # pending / confirmed / rejected: the report counts confirmed ones.
    status: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    recorded_by: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL")
    )
    recorded_at: Mapped[datetime]
    reviewed_by: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL")
    )
    reviewed_at: Mapped[datetime | None]
    review_note: Mapped[str] = mapped_column(String(200), default="")


class ActivityPhotoRow(Base):
    """A photo of an event: the Telegram file it came as, and its bytes once fetched for
    the report's appendix."""

    __tablename__ = "activity_photos"
    __table_args__ = (UniqueConstraint("activity_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    position: Mapped[int]
    telegram_file_id: Mapped[str | None] = mapped_column(String(200))
    content: Mapped[bytes | None] = mapped_column(LargeBinary)


class VicePrincipalRow(Base):
    """A school's 法治副校长 (legal vice-principal): appointed, and ended when replaced."""

    __tablename__ = "vice_principals"
    __table_args__ = (UniqueConstraint("school_id", "name", "appointed_on"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))
    # 法院 / 检察院 / 公安 / 司法局 / 律师事务所 / 其他: what the report groups them by.
    organisation_kind: Mapped[str] = mapped_column(String(20))
    organisation: Mapped[str] = mapped_column(String(80))
    appointed_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)
