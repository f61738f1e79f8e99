"""Who has been inactive long enough for their personal data to be erased.

A person's last activity is the latest of: first contact, joining, a quiz attempt, a
live-quiz answer, an article read or clicked, a lecture check-in, the dashboard used (a
staff web account has nothing else to show for its use). Their personal data
is then erased as ``/forgetme`` erases it (:mod:`storage.erasure`): the report's past
figures stay the same.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ParticipantRow
from storage.models_livequiz import LiveAnswerRow
from storage.models_publicity import ArticleReadRow, LectureCheckinRow, LinkClickRow
from storage.models_quiz import AttemptRow
from storage.models_web import WebSessionRow

__all__ = ["inactive_since"]


async def inactive_since(session: AsyncSession, cutoff: datetime) -> list[int]:
    """Participants not yet erased whose last activity is before ``cutoff``."""
    moments = union_all(
        select(ParticipantRow.id.label("who"), ParticipantRow.first_seen_at.label("at")),
        select(ParticipantRow.id, ParticipantRow.joined_at).where(
            ParticipantRow.joined_at.is_not(None)
        ),
        select(AttemptRow.participant_id, AttemptRow.started_at),
        select(LiveAnswerRow.participant_id, LiveAnswerRow.answered_at),
        select(ArticleReadRow.participant_id, ArticleReadRow.read_at),
        select(LinkClickRow.participant_id, LinkClickRow.last_clicked_at),
        select(LectureCheckinRow.participant_id, LectureCheckinRow.checked_in_at),
        select(WebSessionRow.participant_id, WebSessionRow.last_seen_at),
    ).subquery("moments")
    latest = (
        select(moments.c.who, func.max(moments.c.at).label("last"))
        .group_by(moments.c.who)
        .subquery("latest")
    )
    query = (
        select(ParticipantRow.id)
        .join(latest, latest.c.who == ParticipantRow.id)
        .where(ParticipantRow.erased_at.is_(None), latest.c.last < cutoff)
        .order_by(ParticipantRow.id)
    )
    return list(await session.scalars(query))
