"""The webhook endpoint: only Telegram, which was given the secret, gets updates in.

Anyone can POST to a public URL. Without a check, an update forged "from" an admin's
Telegram id (``/grant admin ...``) would be obeyed; so the secret is always checked,
and when ``PUFA_WEBHOOK_SECRET`` is not set it is derived from the bot token
(:attr:`bot.config.Settings.webhook_secret_token`): every process agrees on it without
storing anything. A bad request is answered with a 4xx and at most a log line a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.methods import TelegramMethod
from aiogram.types import Update
from aiohttp import web
from pydantic import ValidationError

from bot.log_limits import LogLimit, left_out_note

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Telegram's updates are a few kilobytes; a megabyte is far beyond any of them.
MAX_UPDATE_BYTES = 1024 * 1024


class WebhookEndpoint:
    """``POST`` handler: checks the secret in constant time, parses the update, answers
    at once and handles the update in the background (as aiogram's own handler does)."""

    def __init__(self, dp: Dispatcher, bot: Bot, secret: str, **data: Any) -> None:
        self.dp = dp
        self.bot = bot
        self._secret = secret.encode("ascii")
        self.data = data
        self._tasks: set[asyncio.Task[None]] = set()
        self._log_limit = LogLimit()

    def register(self, app: web.Application, path: str) -> None:
        app.router.add_post(path, self.handle)
        app.on_shutdown.append(self._finish)

    async def handle(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        # Bytes, so that a header that is not ASCII is simply wrong, not an error.
        if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), self._secret):
            self._note("refused", "webhook: refused a request without the right secret")
            return web.Response(status=401, text="Unauthorized")
        body = await request.read()  # beyond the app's client_max_size: 413
        try:
            update = Update.model_validate(json.loads(body), context={"bot": self.bot})
        except (ValueError, ValidationError) as error:  # JSON, encoding or shape
            self._note("malformed", "webhook: malformed update (%s)", type(error).__name__)
            return web.Response(status=400, text="Bad Request")
        task = asyncio.create_task(self._feed(update))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return web.json_response({})

    async def _feed(self, update: Update) -> None:
        try:
            result = await self.dp.feed_update(self.bot, update, **self.data)
            if isinstance(result, TelegramMethod):
                await self.dp.silent_call_request(self.bot, result)
        except Exception as error:
            if (left_out := self._log_limit.allow(("update", type(error)))) is not None:
                log.exception("update %s failed%s", update.update_id, left_out_note(left_out))

    def _note(self, kind: str, message: str, *args: object) -> None:
        if (left_out := self._log_limit.allow(kind)) is not None:
            log.warning(message + left_out_note(left_out), *args)

    async def _finish(self, _app: web.Application) -> None:
        """Updates being handled at shutdown finish; Telegram has been answered already."""
        if self._tasks:
            with contextlib.suppress(Exception):
                await asyncio.gather(*self._tasks, return_exceptions=True)
