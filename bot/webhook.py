"""The webhook endpoint: only Telegram, which was given the secret, gets updates in, and
Telegram is told an update is done only once it is.

Anyone can POST to a public URL. Without a check, an update forged "from" an admin's
Telegram id (``/grant admin ...``) would be obeyed; so the secret is always checked,
and when ``PUFA_WEBHOOK_SECRET`` is not set it is derived from the bot token
(:attr:`bot.config.Settings.webhook_secret_token`): every process agrees on it without
storing anything. A bad request is answered with a 4xx and at most a log line a minute.

An update is answered after it was handled, not on receipt: a process killed while
handling never answers, so Telegram sends the update again (to another process behind
the load balancer) instead of having been told "done". The outcome decides the answer:

- handled (or a copy of one handled already): ``200``;
- failed (an exception, even one the error handlers apologised for): ``500``, so Telegram
  sends it again; not when Telegram refused a request of the handler (400, 403...: it
  would refuse it again); the update's claim (:mod:`bot.dedupe`) was given back, so the copy is
  handled, and one that succeeded stays done. An update this process has seen fail
  before is answered ``200`` when it fails again: a bug that fails every time costs at
  most one more try per process, not a day of retries;
- still being handled after ``answer_within_s`` (45 s; nginx gives up at 50 s and
  Telegram at about 60 s): ``200``, and the handling goes on here. Answering later would
  only bring a copy that waits for this handler anyway.

A method a handler returns ("answer in the webhook response") is called by the bot
itself, not put in the response body: so it goes through the bot's pacing and retries,
and its errors are seen here instead of lost in Telegram.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from aiogram import Bot, Dispatcher, exceptions
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.methods import TelegramMethod
from aiogram.types import ErrorEvent, Update
from aiohttp import web
from pydantic import ValidationError

from bot.log_limits import LogLimit, left_out_note

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Telegram's updates are a few kilobytes; a megabyte is far beyond any of them.
MAX_UPDATE_BYTES = 1024 * 1024
# Under nginx's proxy_read_timeout (50 s, deploy/nginx) and Telegram's ~60 s.
ANSWER_WITHIN_S = 45.0
# Update ids that failed here lately: enough for every update of a busy minute.
REMEMBERED_FAILURES = 10_000
# Telegram refused the handler's request itself: the same update again would meet the same
# refusal (a blocked bot, "message is not modified" after a double press).
REFUSALS = (
    exceptions.TelegramBadRequest,
    exceptions.TelegramConflictError,
    exceptions.TelegramEntityTooLarge,
    exceptions.TelegramForbiddenError,
    exceptions.TelegramNotFound,
    exceptions.TelegramUnauthorizedError,
)


@dataclass
class Handling:
    """What became of one update fed through the webhook (read back after feeding)."""

    failed: bool = False


async def _note_failure(event: ErrorEvent, webhook_handling: Handling | None = None) -> None:
    """The Dispatcher's own first error handler: marks the update failed, then lets the
    bot's error handlers (log, apologise) run as before."""
    if webhook_handling is not None and not isinstance(event.exception, REFUSALS):
        webhook_handling.failed = True
    raise SkipHandler


class WebhookEndpoint:
    """``POST`` handler: checks the secret in constant time, parses the update, handles it
    and answers with the outcome (see the module's docstring)."""

    def __init__(
        self,
        dp: Dispatcher,
        bot: Bot,
        secret: str,
        *,
        answer_within_s: float = ANSWER_WITHIN_S,
        **data: Any,
    ) -> None:
        self.dp = dp
        self.bot = bot
        self.secret = secret
        self._secret = secret.encode("ascii")
        self.answer_within_s = answer_within_s
        self.data = data
        self._tasks: set[asyncio.Task[bool]] = set()
        self._failed_before: OrderedDict[int, None] = OrderedDict()
        self._log_limit = LogLimit()
        dp.errors.register(_note_failure)

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
        # A task of its own: past answer_within_s it goes on after the answer.
        task = asyncio.create_task(self._feed(update))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        try:
            async with asyncio.timeout(self.answer_within_s):
                failed = await asyncio.shield(task)
        except TimeoutError:
            self._note(
                "slow", "webhook: update %s still being handled; answered", update.update_id
            )
            return web.json_response({})
        if failed and self._first_failure(update.update_id):
            return web.Response(status=500, text="Internal Server Error")
        return web.json_response({})

    async def _feed(self, update: Update) -> bool:
        """Handle ``update``; True when it failed."""
        handling = Handling()
        try:
            result = await self.dp.feed_update(
                self.bot, update, **self.data, webhook_handling=handling
            )
            if isinstance(result, TelegramMethod):
                await self.dp.silent_call_request(self.bot, result)
        except Exception as error:  # not even the error handlers took it
            handling.failed = True
            if (left_out := self._log_limit.allow(("update", type(error)))) is not None:
                log.exception("update %s failed%s", update.update_id, left_out_note(left_out))
        return handling.failed

    def _first_failure(self, update_id: int) -> bool:
        if update_id in self._failed_before:
            return False
        self._failed_before[update_id] = None
        if len(self._failed_before) > REMEMBERED_FAILURES:
            self._failed_before.popitem(last=False)
        return True

    def _note(self, kind: str, message: str, *args: object) -> None:
        if (left_out := self._log_limit.allow(kind)) is not None:
            log.warning(message + left_out_note(left_out), *args)

    async def _finish(self, _app: web.Application) -> None:
        """Updates still being handled at shutdown finish (answered or not)."""
        if self._tasks:
            with contextlib.suppress(Exception):
                await asyncio.gather(*self._tasks, return_exceptions=True)
