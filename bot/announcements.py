"""Best-effort messages to an audience: campaign openings, closings and reminders.
Paced under Telegram's bulk limit by the shared limiter, giving way to replies.

Articles do not come here: they go through the broadcaster's outbox, which survives a
crash; an announcement lost to a crash is not sent again.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from aiogram.exceptions import TelegramAPIError, TelegramForbiddenError, TelegramRetryAfter

from bot.pacing import in_bulk
from bot.services import ServiceContext
from bot.when import short_when
from storage.repositories import Repositories

log = logging.getLogger(__name__)


async def announce(
    context: ServiceContext, audience: list[tuple[int, str]], key: str, **params: object
) -> None:
    """Tell the audience, paced under Telegram's bulk limit; a blocked user is marked.

    Announcements are best effort: one lost to a crash is not sent again (the quiz itself
    is listed by /quiz either way), unlike articles, which go through the outbox.
    A datetime parameter is written as the reader's language writes a date.
    """
    for chat_id, locale in audience:  # each send takes its slot in the bot's session
        _ = context.translator.bind(locale)
        values = {
            name: short_when(value, context.settings.zone, _)
            if isinstance(value, datetime)
            else value
            for name, value in params.items()
        }
        text = _(key, **values)
        try:
            with in_bulk():  # replies go first
                await context.bot.send_message(chat_id, text)
        except TelegramRetryAfter as error:  # another process shares Telegram's limit
            context.limiter.hold(error.retry_after)
        except TelegramForbiddenError:
            async with context.session_factory() as session:
                await Repositories.over(session).participants.set_blocked(
                    chat_id, datetime.now(UTC)
                )
                await session.commit()
        except TelegramAPIError as error:
            log.info("announcement to %s failed: %s", chat_id, error)
