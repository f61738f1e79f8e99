"""Middlewares: a database session per update (outer), throttling (outer, messages),
and, once the handler is known, the participant, their language and permissions (inner)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.dispatcher.event.handler import HandlerObject
from aiogram.types import Message, TelegramObject, User
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import Gettext, Translator, normalize_locale
from quizzes.participants import Participant
from quizzes.permissions import Permissions
from storage.database import read_outside_transaction
from storage.presses import DirectPresses
from storage.repositories import Repositories
from storage.unit_of_work import UnitOfWork

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class DatabaseMiddleware(BaseMiddleware):
    """One session and unit of work per update; committed only if the handler succeeded.

    ``presses`` (PostgreSQL) runs a quiz press's own statements on the driver.
    """

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        presses: DirectPresses | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.presses = presses

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        async with self.session_factory() as session:
            uow = UnitOfWork.over(session, self.presses)
            data["uow"] = uow
            result = await handler(event, data)
            await session.commit()
            return result


def _takes(data: dict[str, Any], *names: str) -> bool:
    """Whether the handler chosen for this update takes any of ``names``."""
    target: HandlerObject | None = data.get("handler")
    return target is None or target.varkw or any(name in target.params for name in names)


class ParticipantMiddleware(BaseMiddleware):
    """Inner middleware: loads (or creates) the participant and binds their language.

    Only for the handlers that take ``participant``, ``_`` or ``permissions``. An answer
    to a quiz question takes none of them: the attempt it reads names its owner and their
    language, which spares every answer a look-up.
    """

    def __init__(self, translator: Translator) -> None:
        self.translator = translator

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if "participant" in data or not _takes(data, "participant", "_", "permissions"):
            return await handler(event, data)
        user: User | None = data.get("event_from_user")
        repo: Repositories = data["uow"]
        if user is None or user.is_bot:
            data["_"] = self.translator.bind(self.translator.default_locale)
            return await handler(event, data)
        locale = normalize_locale(user.language_code, self.translator.default_locale)
        await read_outside_transaction(repo.session)
        participant = await repo.participants.get_or_create(user.id, locale)
        # End the read (or the first insert) here, so no lock or connection is held while
        # the handler waits on Telegram; handlers commit their own writes before replying.
        await repo.commit()
        data["participant"] = participant
        data["_"] = self.translator.bind(participant.locale)
        return await handler(event, data)


class PermissionsMiddleware(BaseMiddleware):
    """Inner middleware, after the participant's: ``permissions`` for the handlers that take it."""

    def __init__(self, admin_ids: frozenset[int]) -> None:
        self.admin_ids = admin_ids

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        participant: Participant | None = data.get("participant")
        user: User | None = data.get("event_from_user")
        wanted = _takes(data, "permissions")
        if wanted and participant is not None and user is not None and "permissions" not in data:
            repo: Repositories = data["uow"]
            await read_outside_transaction(repo.session)
            grants = await repo.grants.of(participant.id)
            await repo.commit()  # as above: hold nothing while the handler talks to Telegram
            data["permissions"] = Permissions.from_grants(
                grants, configured_admin=user.id in self.admin_ids
            )
        return await handler(event, data)


class ThrottlingMiddleware(BaseMiddleware):
    """Drops a flood of messages from one user, warning them once per window.

    In-process only: with several bot processes each throttles its own share, which is
    enough to keep one user from starving the others.
    """

    def __init__(self, rate: int = 10, per_seconds: float = 5.0) -> None:
        self.rate = rate
        self.per_seconds = per_seconds
        self._windows: dict[int, tuple[float, int, bool]] = {}

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if not isinstance(event, Message) or user is None:
            return await handler(event, data)
        now = time.monotonic()
        started, count, warned = self._windows.get(user.id, (now, 0, False))
        if now - started >= self.per_seconds:
            started, count, warned = now, 0, False
        count += 1
        if count > self.rate:
            if not warned:
                _ = await self._language_of(user, data)
                await event.answer(_("errors.flood", seconds=int(self.per_seconds)))
            self._windows[user.id] = (started, count, True)
            return None
        self._windows[user.id] = (started, count, warned)
        if len(self._windows) > 10_000:
            self._forget_quiet(now)
        return await handler(event, data)

    @staticmethod
    async def _language_of(user: User, data: dict[str, Any]) -> Gettext:
        """The flooder's chosen language (read once per window, so rarely)."""
        translator: Translator = data["translator"]
        repo: Repositories = data["uow"]
        await read_outside_transaction(repo.session)
        participant = await repo.participants.by_telegram_id(user.id)
        await repo.commit()
        return translator.bind_for(user.language_code, participant.locale if participant else None)

    def _forget_quiet(self, now: float) -> None:
        for user_id in [u for u, w in self._windows.items() if now - w[0] >= self.per_seconds]:
            del self._windows[user_id]
