"""SQLAlchemy 2 typed models. Timestamps are timezone-aware and stored in UTC."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, registry
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (which keeps no zone) too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware one")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Telegram ids need 64 bits; SQLite only autoincrements a column declared INTEGER.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    registry = registry(type_annotation_map={int: BigId, datetime: UTCDateTime()})


class UnitRow(Base):
    __tablename__ = "units"
    __table_args__ = (
        UniqueConstraint("parent_id", "name"),
        # NULLs are distinct in a unique constraint, so the roots need an index of their own.
        Index(
            "uq_units_root_name",
            "name",
            unique=True,
            sqlite_where=text("parent_id IS NULL"),
            postgresql_where=text("parent_id IS NULL"),
        ),
        CheckConstraint("kind IN ('division', 'regiment', 'school', 'class')", name="kind"),
        CheckConstraint("students_enrolled >= 0 AND teachers_enrolled >= 0", name="enrolled"),
        Index("ix_units_path", "path"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(128))
    # Materialised path "/1/4/17/": a subtree is one indexed prefix match, no recursion.
    path: Mapped[str] = mapped_column(String(255), default="")
    students_enrolled: Mapped[int] = mapped_column(default=0)
    teachers_enrolled: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Left out of a re-imported roster and retired: kept for its participants' history.
    retired_at: Mapped[datetime | None]


class ParticipantRow(Base):
    __tablename__ = "participants"
    __table_args__ = (
        CheckConstraint("role IS NULL OR role IN ('student', 'teacher', 'parent')", name="role"),
        Index("ix_participants_unit_id", "unit_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    # None for a participant who uses the web pages only (storage.models_web_identity).
    telegram_id: Mapped[int | None] = mapped_column(unique=True)
    display_name: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str | None] = mapped_column(String(16))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))
    locale: Mapped[str] = mapped_column(String(8), default="zh-CN")
    subscribed: Mapped[bool] = mapped_column(default=True)
    blocked_at: Mapped[datetime | None]
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set once, when the last missing field is filled in: the moment a participant counts.
    joined_at: Mapped[datetime | None]
    # Set when the person's data was erased: the row keeps only what the figures count.
    erased_at: Mapped[datetime | None]


class InviteCodeRow(Base):
    __tablename__ = "invite_codes"
    __table_args__ = (
        CheckConstraint("role IN ('student', 'teacher', 'parent')", name="role"),
        Index("ix_invite_codes_unit_id", "unit_id"),
    )

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    uses: Mapped[int] = mapped_column(default=0)


class GrantRow(Base):
    __tablename__ = "grants"
    __table_args__ = (
        UniqueConstraint("participant_id", "kind", "unit_id"),
        Index(
            "uq_grants_admin",
            "participant_id",
            unique=True,
            sqlite_where=text("kind = 'admin'"),
            postgresql_where=text("kind = 'admin'"),
        ),
        CheckConstraint("kind IN ('admin', 'coordinator')", name="kind"),
        CheckConstraint("kind = 'admin' OR unit_id IS NOT NULL", name="coordinator_unit"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))
    granted_by: Mapped[int | None] = mapped_column()
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
