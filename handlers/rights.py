"""Rights as filters: a handler registered with ``Allowed(rule)`` runs only for someone
whose permissions pass ``rule``, so it never starts with a permission check. The
permissions the filter read are handed on to the handler (no second look-up)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiogram.filters import Filter
from aiogram.types import TelegramObject, User

from bot.application import UnitOfWork
from bot.application.rights import permissions_of
from bot.config import Settings
from quizzes.permissions import Permissions

__all__ = ["Allowed"]


class Allowed(Filter):
    """Passes when ``rule(permissions)`` holds for the person behind the update."""

    def __init__(self, rule: Callable[[Permissions], bool]) -> None:
        self.rule = rule

    async def __call__(
        self,
        event: TelegramObject,
        uow: UnitOfWork,
        settings: Settings,
        event_from_user: User | None = None,
        permissions: Permissions | None = None,
    ) -> bool | dict[str, Any]:
        if event_from_user is None or event_from_user.is_bot:
            return False
        if permissions is None:
            permissions = await permissions_of(
                uow,
                event_from_user.id,
                configured_admin=event_from_user.id in settings.admin_ids,
            )
        return {"permissions": permissions} if self.rule(permissions) else False
