"""Participants without Telegram: who they are on the participant pages (``/m/``).

A web participant is a participants row with no Telegram id. The browser keeps a long-lived
random token in a cookie; a personal recovery code, shown once, opens the same participant
on another device. Only hashes are stored, so a copy of the tables opens nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base


class WebIdentityRow(Base):
    """One per web participant: the keyed hash of their recovery code."""

    __tablename__ = "web_identities"

    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True
    )
    recovery_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]


class WebDeviceRow(Base):
    """A browser that carries a web participant's cookie (one per device they use)."""

    __tablename__ = "web_devices"
    __table_args__ = (Index("ix_web_devices_participant_id", "participant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
