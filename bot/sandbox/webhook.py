"""Delivering updates to a webhook: in order per chat, in parallel across chats, retried.

As Telegram does: an update the bot answers with anything but 2xx, or does not answer
within the timeout, is posted again with the same ``update_id`` after a back-off; so a
bot behind a webhook sees some updates twice and must handle them once. Timeout, back-off
and the number of attempts come from :class:`~bot.sandbox.config.SandboxConfig` and are
read at each attempt, so they may be changed while the sandbox runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.sandbox.config import SandboxConfig
from bot.sandbox.params import Params, Upload

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@dataclass(slots=True)
class UpdateRecord:
    update_id: int
    kind: str
    body: dict[str, Any]
    key: int | str
    created: float


Executor = Callable[[str, Params], Awaitable[Any]]


@dataclass(slots=True)
class DeliveryStats:
    posts: int = 0  # every attempt, the first ones included
    redelivered: int = 0  # attempts after an update's first
    dropped: int = 0  # updates given up after the last attempt


class WebhookDelivery:
    """POSTs updates to ``url``; keeps per-chat order and retries failures with backoff."""

    def __init__(
        self,
        url: str,
        secret_token: str | None,
        max_connections: int,
        execute: Executor,
        *,
        config: SandboxConfig | None = None,
        stats: DeliveryStats | None = None,
    ) -> None:
        self.url = url
        self.secret_token = secret_token
        self.max_connections = max_connections
        self._execute = execute
        self.config = config or SandboxConfig()
        self.stats = stats or DeliveryStats()
        self._queues: dict[int | str, deque[UpdateRecord]] = {}
        self._tasks: dict[int | str, asyncio.Task[None]] = {}
        self._semaphore = asyncio.Semaphore(max_connections)
        self._session: aiohttp.ClientSession | None = None
        self.pending = 0
        self.delivered = 0
        self.last_error_date: int | None = None
        self.last_error_message: str | None = None

    def push(self, update: UpdateRecord) -> None:
        queue = self._queues.get(update.key)
        if queue is None:
            queue = self._queues[update.key] = deque()
        queue.append(update)
        self.pending += 1
        if update.key not in self._tasks:
            self._tasks[update.key] = asyncio.create_task(self._drain(update.key))

    async def _drain(self, key: int | str) -> None:
        queue = self._queues[key]
        try:
            while queue:
                await self._deliver(queue[0])
                queue.popleft()
                self.pending -= 1
                self.delivered += 1
        finally:
            if self._tasks.get(key) is asyncio.current_task():
                del self._tasks[key]
            if not queue and self._queues.get(key) is queue:
                del self._queues[key]

    def _session_get(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=60),
                connector=aiohttp.TCPConnector(limit=self.max_connections),
            )
        return self._session

    def _fail(self, message: str) -> None:
        self.last_error_date = int(time.time())
        self.last_error_message = message

    def _given_up(self, update: UpdateRecord, attempts: int) -> bool:
        config = self.config
        if config.webhook_max_attempts:
            return attempts >= config.webhook_max_attempts
        return time.monotonic() - update.created >= config.update_ttl_s

    async def _deliver(self, update: UpdateRecord) -> None:
        """Post ``update`` until the bot takes it or the attempts run out."""
        config = self.config
        delay = config.webhook_retry_initial_s
        headers = {"Content-Type": "application/json"}
        if self.secret_token:
            headers[SECRET_HEADER] = self.secret_token
        payload = json.dumps(update.body, ensure_ascii=False).encode()
        attempts = 0
        while True:
            attempts += 1
            self.stats.posts += 1
            if attempts > 1:
                self.stats.redelivered += 1
            timeout = aiohttp.ClientTimeout(total=config.webhook_timeout_s)
            try:
                async with self._semaphore:
                    session = self._session_get()
                    async with session.post(
                        self.url, data=payload, headers=headers, timeout=timeout
                    ) as resp:
                        if 200 <= resp.status < 300:
                            await self._run_reply(resp)
                            return
                        self._fail(f"Wrong response from the webhook: {resp.status} {resp.reason}")
            except TimeoutError:  # aiohttp's time-outs are TimeoutErrors too
                self._fail("Read timeout expired")
            except (aiohttp.ClientError, OSError) as exc:
                self._fail(f"Connection failed: {type(exc).__name__}: {exc}")
            if self._given_up(update, attempts):
                self.stats.dropped += 1
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, config.webhook_retry_max_s)

    async def _run_reply(self, resp: aiohttp.ClientResponse) -> None:
        """Execute a method returned in the webhook response body, as Telegram does."""
        ctype = resp.content_type
        values: dict[str, Any] = {}
        files: dict[str, Upload] = {}
        if ctype == "application/json":
            with contextlib.suppress(ValueError, aiohttp.ContentTypeError):
                body = await resp.json()
                if isinstance(body, dict):
                    values = body
        elif ctype == "multipart/form-data":
            reader = aiohttp.MultipartReader(resp.headers, resp.content)
            while True:
                part = await reader.next()
                if part is None:
                    break
                if not isinstance(part, aiohttp.BodyPartReader) or not part.name:
                    continue
                if part.filename is not None:
                    data = await part.read()
                    files[part.name] = Upload(
                        part.filename, part.headers.get("Content-Type"), bytes(data)
                    )
                else:
                    values[part.name] = await part.text()
        method = values.pop("method", None)
        if isinstance(method, str) and method:
            with contextlib.suppress(Exception):
                await self._execute(method, Params(values, files))

    async def stop(self) -> list[UpdateRecord]:
        """Stop delivering; return the updates not delivered yet, oldest first."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        rest = [update for queue in self._queues.values() for update in queue]
        self._queues.clear()
        self.pending = 0
        if self._session is not None:
            await self._session.close()
            self._session = None
        rest.sort(key=lambda u: u.update_id)
        return rest
