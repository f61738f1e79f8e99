"""Who is asking, for the chat's permission filters: the grants of a Telegram user,
read before a handler is chosen (the filter decides whether it is)."""

from __future__ import annotations

from quizzes.permissions import Permissions
from storage.unit_of_work import UnitOfWork

__all__ = ["permissions_of"]


async def permissions_of(
    uow: UnitOfWork, telegram_id: int, *, configured_admin: bool
) -> Permissions:
    """The permissions of ``telegram_id`` (someone never seen has those of the
    configuration only); the read is over when it returns."""
    participant = await uow.participants.by_telegram_id(telegram_id)
    grants = await uow.grants.of(participant.id) if participant is not None else []
    await uow.commit()
    return Permissions.from_grants(grants, configured_admin=configured_admin)
