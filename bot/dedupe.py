"""Each update is handled once, however many times and to however many processes it comes.

Telegram delivers at least once. It sends a webhook update again when the answer was an
error or came too late (behind a load balancer the second copy may reach another
process), and long polling hands out again the last batch a process fetched but had not
confirmed when it stopped. Before any handler runs, :class:`UpdateDedupe` (the first
outer middleware of the bot's own on ``dp.update``) claims the update's id; a copy whose
id is already claimed is acknowledged (the webhook has answered 200) and ignored.

Where the claims live:

- Redis when ``PUFA_REDIS_URL`` is set (:class:`RedisClaims`): ``SET NX EX``, one key per
  bot and update, gone after ``PUFA_UPDATE_DEDUPE_TTL_S``. Several processes need Redis
  anyway (the FSM's dialogues and the shared send rate live there), a claim costs one
  round trip of well under a millisecond, and the claims outlive a restart.
- Otherwise this process's memory (:class:`MemoryClaims`, the most recent ids). Without
  Redis the bot is one process (its dialogues are in memory too), so every copy Telegram
  re-sends comes back to it. Not the database: a claim row per update would add a write
  to every quiz answer, whose path is kept to one read and three conditional writes.
  What memory cannot catch is a restart in polling mode handing out again the last batch
  fetched before the stop; configure Redis where that matters.

A claim is given back when the handler fails, or is cancelled as the process stops, so
a re-delivery can still succeed. A process killed outright keeps the claims of the
updates it was handling: in webhook mode Telegram had its 200 already and sends no copy;
in polling mode with Redis the restarted process is handed them again and skips them.

When the store cannot be reached the update is handled all the same: an answer given
twice beats an answer lost. That is said once a minute (:mod:`bot.log_limits`) and the
store is asked again only after ``retry_s``, so an outage does not add a time-out to
every update.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from aiogram import BaseMiddleware, Bot
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.types import TelegramObject, Update

from bot.log_limits import LogLimit, left_out_note

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)

# Telegram keeps an update it could not deliver for 24 hours; a copy never comes later.
DEFAULT_TTL_S = 24 * 3600

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class ClaimStore(Protocol):
    """Where claims live. ``claim`` says whether this call took the update; any
    exception means the store is unavailable."""

    async def claim(self, bot_id: int, update_id: int) -> bool: ...

    async def release(self, bot_id: int, update_id: int) -> None: ...

    async def close(self) -> None: ...


class RedisClaims:
    """A key ``pufa:update:<bot id>:<update id>`` per claim, expiring after ``ttl_s``.
    Every call gives up after ``timeout_s``: a Redis that hangs must not hold updates."""

    def __init__(
        self,
        redis: Redis,
        *,
        ttl_s: int = DEFAULT_TTL_S,
        timeout_s: float = 0.5,
        prefix: str = "pufa:update",
        owns_client: bool = True,
    ) -> None:
        self.redis = redis
        self.ttl_s = ttl_s
        self.timeout_s = timeout_s
        self.prefix = prefix
        self.owns_client = owns_client

    def key(self, bot_id: int, update_id: int) -> str:
        return f"{self.prefix}:{bot_id}:{update_id}"

    async def claim(self, bot_id: int, update_id: int) -> bool:
        async with asyncio.timeout(self.timeout_s):
            taken = await self.redis.set(self.key(bot_id, update_id), 1, nx=True, ex=self.ttl_s)
        return bool(taken)

    async def release(self, bot_id: int, update_id: int) -> None:
        async with asyncio.timeout(self.timeout_s):
            await self.redis.delete(self.key(bot_id, update_id))

    async def close(self) -> None:
        if self.owns_client:
            await self.redis.aclose()


class MemoryClaims:
    """The ids claimed in the last ``ttl_s``, at most ``max_ids`` of them (the oldest go
    first): enough for every copy Telegram re-sends to one process."""

    def __init__(
        self,
        *,
        ttl_s: int = DEFAULT_TTL_S,
        max_ids: int = 100_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_ids = max_ids
        self.monotonic = monotonic
        self._claimed: OrderedDict[tuple[int, int], float] = OrderedDict()

    async def claim(self, bot_id: int, update_id: int) -> bool:
        now = self.monotonic()
        while self._claimed and (
            len(self._claimed) >= self.max_ids
            or now - next(iter(self._claimed.values())) >= self.ttl_s
        ):
            self._claimed.popitem(last=False)
        key = (bot_id, update_id)
        if key in self._claimed:
            return False
        self._claimed[key] = now
        return True

    async def release(self, bot_id: int, update_id: int) -> None:
        self._claimed.pop((bot_id, update_id), None)

    async def close(self) -> None:
        return None


class UpdateDedupe(BaseMiddleware):
    """Outer middleware of ``dp.update``: claims the update before anything else of the
    bot runs; a copy already claimed ends here (logged at debug)."""

    def __init__(
        self,
        store: ClaimStore,
        *,
        retry_s: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.retry_s = retry_s
        self.monotonic = monotonic
        self.ignored = 0  # copies ignored by this process
        self._log_limit = LogLimit(clock=monotonic)
        self._retry_at = 0.0

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        bot: Bot | None = data.get("bot")
        if not isinstance(event, Update) or bot is None:
            return await handler(event, data)
        taken = await self._claim(bot.id, event.update_id)
        if taken is False:
            self.ignored += 1
            log.debug("update %s came again; already handled, ignored", event.update_id)
            return UNHANDLED
        try:
            return await handler(event, data)
        except BaseException:
            if taken:  # failed or stopped half-way: a re-delivery may try again
                await self._release(bot.id, event.update_id)
            raise

    async def _claim(self, bot_id: int, update_id: int) -> bool | None:
        """True: ours. False: someone else's. None: the store is unavailable."""
        if self.monotonic() < self._retry_at:
            return None
        try:
            return await self.store.claim(bot_id, update_id)
        except Exception as error:
            self._unavailable(error)
            return None

    async def _release(self, bot_id: int, update_id: int) -> None:
        try:
            await self.store.release(bot_id, update_id)
        except Exception as error:
            self._unavailable(error)

    def _unavailable(self, error: Exception) -> None:
        self._retry_at = self.monotonic() + self.retry_s
        if (left_out := self._log_limit.allow(type(error).__name__)) is not None:
            log.warning(
                "update dedupe store unavailable (%s: %s); handling updates without it%s",
                type(error).__name__,
                error,
                left_out_note(left_out),
            )

    async def close(self) -> None:
        await self.store.close()


def create_dedupe(
    redis_url: str | None, ttl_s: int = DEFAULT_TTL_S, *, redis: Redis | None = None
) -> UpdateDedupe | None:
    """Redis when configured, else memory; None when ``ttl_s`` is 0 (turned off).

    ``redis``: a client to share (the FSM storage's), closed by its owner; otherwise one
    is made from ``redis_url`` and closed with the middleware."""
    if ttl_s <= 0:
        return None
    store: ClaimStore
    if redis is not None and redis_url:
        store = RedisClaims(redis, ttl_s=ttl_s, owns_client=False)
    elif redis_url:
        from redis.asyncio import Redis

        store = RedisClaims(
            Redis.from_url(redis_url, socket_connect_timeout=1.0, socket_timeout=1.0),
            ttl_s=ttl_s,
        )
    else:
        store = MemoryClaims(ttl_s=ttl_s)
    return UpdateDedupe(store)
