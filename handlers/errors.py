"""Errors escaping a handler: log them, tell the user, never leave them in silence.

The update's open transaction has been rolled back by the time these run, so nothing is
half-written; what they record or read, they do in a session of their own. What the
handler committed before it failed (a recorded answer, say, before its reply) stays, so
the apology says nothing about what was or was not saved.
"""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import ErrorEvent, User
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.application import Clock, UnitOfWork, roster
from bot.i18n import Gettext, Translator

log = logging.getLogger(__name__)


async def user_blocked_us(
    event: ErrorEvent,
    session_factory: async_sessionmaker[AsyncSession],
    clock: Clock,
    event_from_user: User | None = None,
) -> None:
    if event_from_user is None:
        return
    async with session_factory() as session:
        await roster.mark_blocked(UnitOfWork.over(session), event_from_user.id, now=clock())


async def bad_request(
    event: ErrorEvent,
    translator: Translator,
    session_factory: async_sessionmaker[AsyncSession],
    event_from_user: User | None = None,
) -> None:
    # "message is not modified" after a double press is harmless; anything else is a bug.
    if "message is not modified" in str(event.exception):
        return
    log.error(
        "Bad request while handling update %s", event.update.update_id, exc_info=event.exception
    )
    await _apologise(event, await _language(translator, session_factory, event_from_user))


async def unexpected(
    event: ErrorEvent,
    translator: Translator,
    session_factory: async_sessionmaker[AsyncSession],
    event_from_user: User | None = None,
) -> None:
    log.error("Error while handling update %s", event.update.update_id, exc_info=event.exception)
    await _apologise(event, await _language(translator, session_factory, event_from_user))


async def _language(
    translator: Translator,
    session_factory: async_sessionmaker[AsyncSession],
    user: User | None,
) -> Gettext:
    """The language the user chose, read afresh: the handler may have failed before it
    was known, and its session is gone. Telegram's language if that read fails too."""
    if user is None:
        return translator.bind(None)
    chosen = None
    try:
        async with session_factory() as session:
            chosen = await roster.chosen_language(UnitOfWork.over(session), user.id)
    except Exception:  # the database may be what failed
        log.warning("Could not read the language of %s", user.id, exc_info=True)
    return translator.bind_for(user.language_code, chosen)


async def _apologise(event: ErrorEvent, _: Gettext) -> None:
    query = event.update.callback_query
    try:
        if query is not None:
            await query.answer(_("errors.internal"), show_alert=True)
        elif event.update.message is not None:
            await event.update.message.answer(_("errors.internal"))
    except Exception:  # the apology itself must never raise out of the error handler
        log.warning("Could not tell the user about the error", exc_info=True)


def create_router() -> Router:
    router = Router(name=__name__)
    router.errors.register(user_blocked_us, ExceptionTypeFilter(TelegramForbiddenError))
    router.errors.register(bad_request, ExceptionTypeFilter(TelegramBadRequest))
    router.errors.register(unexpected)
    return router
