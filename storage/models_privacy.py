"""Guardian consent for a child's real name: the one-time code a teacher confirms."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, utcnow


class GuardianConsentCodeRow(Base):
    """A student under 14 asked for their real name on certificates; a teacher of their
    class (or a coordinator of their school) confirms it with the code after checking with
    a parent. One live code per student; used once."""

    __tablename__ = "guardian_consent_codes"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), unique=True
    )
    # The certificate to send once the name is confirmed.
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("attempts.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
