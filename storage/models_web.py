"""Staff dashboard sessions: one row per login through a one-time link."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base


class WebSessionRow(Base):
    """A browser's session. Only the SHA-256 of the cookie's random id is kept, so a copy
    of the table opens no session; the link's nonce is unique, so a link opens one
    session at most (single use without a table of used links)."""

    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_participant_id", "participant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    link_nonce: Mapped[str] = mapped_column(String(32), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
