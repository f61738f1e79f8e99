"""Retrying Bot API calls the way Telegram asks: wait ``retry_after`` on 429, back off on 5xx.

aiogram retries nothing by itself. Without this, one burst over the limit turns into an
error the user sees instead of a reply that arrives a second later.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import AnswerCallbackQuery, Response, TelegramMethod
from aiogram.methods.base import TelegramType

if TYPE_CHECKING:
    from aiogram import Bot

log = logging.getLogger(__name__)


class RetryMiddleware(BaseRequestMiddleware):
    def __init__(
        self, *, max_attempts: int = 5, max_wait_s: float = 60.0, backoff_s: float = 0.5
    ) -> None:
        self.max_attempts = max_attempts
        self.max_wait_s = max_wait_s
        self.backoff_s = backoff_s

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        attempt = 1
        while True:
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as error:
                if attempt >= self.max_attempts or error.retry_after > self.max_wait_s:
                    raise
                log.info("%s: 429, waiting %s s", type(method).__name__, error.retry_after)
                await asyncio.sleep(error.retry_after)
            except (TelegramServerError, TelegramNetworkError):
                if attempt >= self.max_attempts:
                    raise
                await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
            attempt += 1


class ExpiredCallbackMiddleware(BaseRequestMiddleware):
    """An answer to a callback query that has expired is dropped, not raised.

    Telegram forgets a query after a while; by then the button's spinner has stopped by
    itself, so answering it changes nothing for the user. Raising would abort the handler
    after its work was committed and before the reply went out.
    """

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        try:
            return await make_request(bot, method)
        except TelegramBadRequest as error:
            if not isinstance(method, AnswerCallbackQuery) or "query is too old" not in str(error):
                raise
            log.info("callback query %s expired before it was answered", method.callback_query_id)
            return Response[TelegramType](ok=True, result=True)
