"""Erasing a person (/forgetme in chat, ``pufa participant erase`` for the bureau).

What is erased and what stays is :class:`storage.erasure.ParticipantErasure`'s to say
(:class:`quizzes.privacy.Erasure`); here the erasure is one committed step, so that the
chat confirms it only once it is done. A guardian's consent is asked and confirmed with
the certificates.
"""

from __future__ import annotations

from datetime import datetime

from quizzes.participants import Participant
from quizzes.privacy import Erasure
from storage.unit_of_work import UnitOfWork

__all__ = ["forget", "forget_telegram_user"]


async def forget(uow: UnitOfWork, participant: Participant, *, now: datetime) -> Erasure | None:
    """Erase the person; None if they were erased already (a second press)."""
    erased = await uow.erasure.erase(participant.id, now)
    await uow.commit()
    return erased


async def forget_telegram_user(
    uow: UnitOfWork, telegram_id: int, *, now: datetime
) -> Erasure | None:
    """Erase the person of this Telegram id; None if the bot keeps nobody of that id."""
    participant_id = await uow.erasure.by_telegram_id(telegram_id)
    if participant_id is None:
        return None
    erased = await uow.erasure.erase(participant_id, now)
    await uow.commit()
    return erased
