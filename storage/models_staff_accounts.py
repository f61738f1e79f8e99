"""Web accounts for staff who cannot use Telegram: a login name and a password (and, if
they turn it on, one-time codes) in front of an ordinary participants row and its grants."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base


class StaffAccountRow(Base):
    """One per account. Only the argon2 hash of the password and the SHA-256 of the
    pending setup link's token are kept; the TOTP secret has to be kept as it is, since
    codes are computed from it."""

    __tablename__ = "staff_accounts"

    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True
    )
    login_name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))  # None until set up
    setup_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    setup_expires_at: Mapped[datetime | None]
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_pending: Mapped[str | None] = mapped_column(String(64))  # shown, not yet confirmed
    totp_last_step: Mapped[int | None]  # the last 30 s step whose code was accepted
    created_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL")
    )  # None: made on the command line
    disabled_at: Mapped[datetime | None]


class LoginFailureRow(Base):
    """A refused password login (a wrong password or code, an unknown name, or a try while
    locked): what the rate limit counts and what an operator reads. Never the password."""

    __tablename__ = "login_failures"
    __table_args__ = (
        CheckConstraint("outcome IN ('failure', 'locked')", name="outcome"),
        Index("ix_login_failures_login_name_at", "login_name", "at"),
        Index("ix_login_failures_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    login_name: Mapped[str] = mapped_column(String(64))  # as typed, normalised
    address: Mapped[str] = mapped_column(String(64))  # the client's IP address
    outcome: Mapped[str] = mapped_column(String(8))
