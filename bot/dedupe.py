"""Each update is handled once, however many times and to however many processes it comes.

Telegram delivers at least once. It sends a webhook update again when the answer was an
error or came too late (behind a load balancer the second copy may reach another
process), and long polling hands out again the last batch a process fetched but had not
confirmed when it stopped. Before any handler runs, :class:`UpdateDedupe` (an outer
middleware on ``dp.update``, ahead of the database session) claims the update's id:

- nobody had it: the claim is "busy" for a lease (``DEFAULT_LEASE_S``), the update is
  handled, and the claim becomes "done" for ``PUFA_UPDATE_DEDUPE_TTL_S``;
- done: this copy is acknowledged (the webhook has answered 200) and ignored;
- busy: another handler has it now; this copy waits until that one is done (then it is
  ignored), fails, or its lease runs out because its process died (then this copy
  handles it). So a copy is never dropped on the word of a handler that did not finish.

The lease is short (``DEFAULT_LEASE_S``) and renewed while the handler runs (every
quarter lease, one call for all the updates in hand): a handler may take as long as it
needs, and a copy of an update whose process was killed waits seconds, not a minute.

Where the claims live:

- Redis when ``PUFA_REDIS_URL`` is set (:class:`RedisClaims`): a key per bot and update,
  taken with ``SET NX`` and a lifetime. Several processes need Redis anyway (the FSM's
  dialogues and the shared send rate live there), an update costs two round trips of
  well under a millisecond, and the claims outlive a restart.
- Otherwise this process's memory (:class:`MemoryClaims`, the most recent ids). Without
  Redis the bot is one process (its dialogues are in memory too), so every copy Telegram
  re-sends comes back to it. Not the database: a claim row per update would add a write
  to every quiz answer, whose path is kept to one read and three conditional writes.
  What memory cannot catch is a restart in polling mode handing out again the last batch
  fetched before the stop; configure Redis where that matters.

A claim is given back when the handler fails, or is cancelled as the process stops, so
a copy can still succeed. A handler that finishes an update another handler had finished
already (possible only if a lease ran out under a live handler) is logged and counted:
``UpdateDedupe.handled_twice``, and in Redis for all processes
(:meth:`RedisClaims.handled_twice`).

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
from collections.abc import Awaitable, Callable, Sequence
from enum import Enum
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
# How long a claim stays "being handled" unless its process renews it (every quarter
# lease while the handler runs). A copy meeting such a claim waits; once the lease runs
# out (its process died) the copy takes the update over. Under Telegram's 15 s for
# answering a button press, so the copy of a press still gets its answer in.
DEFAULT_LEASE_S = 10.0

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class Claim(Enum):
    NEW = "new"  # ours: handle it
    BUSY = "busy"  # being handled elsewhere: wait for the end or the lease
    DONE = "done"  # handled: ignore this copy


class ClaimStore(Protocol):
    """Where claims live. A claim is taken busy for ``lease_s``; :meth:`renew` extends
    busy ones by another lease, :meth:`finish` makes one done for ``ttl_s``,
    :meth:`release` gives it up. Any exception means the store is unavailable."""

    lease_s: float

    async def claim(self, bot_id: int, update_id: int) -> Claim: ...

    async def renew(self, claims: Sequence[tuple[int, int]]) -> None: ...

    async def finish(self, bot_id: int, update_id: int) -> bool:
        """True when the update was done already: it has now been handled twice."""
        ...

    async def release(self, bot_id: int, update_id: int) -> None: ...

    async def close(self) -> None: ...


_CLAIM = """
if redis.call('SET', KEYS[1], 'busy', 'NX', 'PX', ARGV[1]) then return 'new' end
return redis.call('GET', KEYS[1]) or 'busy'
"""

_FINISH = """
if redis.call('SET', KEYS[1], 'done', 'EX', ARGV[1], 'GET') == 'done' then
  redis.call('INCR', KEYS[2])
  return 1
end
return 0
"""

_RENEW = """
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == 'busy' then redis.call('PEXPIRE', key, ARGV[1]) end
end
"""


class RedisClaims:
    """A key ``pufa:update:<bot id>:<update id>`` per claim: ``busy`` for ``lease_s``,
    then ``done`` for ``ttl_s``. Every call gives up after ``timeout_s``: a Redis that
    hangs must not hold updates."""

    def __init__(
        self,
        redis: Redis,
        *,
        ttl_s: int = DEFAULT_TTL_S,
        lease_s: float = DEFAULT_LEASE_S,
        timeout_s: float = 0.5,
        prefix: str = "pufa:update",
        owns_client: bool = True,
    ) -> None:
        self.redis = redis
        self.ttl_s = ttl_s
        self.lease_s = lease_s
        self.lease_ms = max(1, round(lease_s * 1000))
        self.timeout_s = timeout_s
        self.prefix = prefix
        self.owns_client = owns_client
        self._claim = redis.register_script(_CLAIM)
        self._renew = redis.register_script(_RENEW)
        self._finish = redis.register_script(_FINISH)

    def key(self, bot_id: int, update_id: int) -> str:
        return f"{self.prefix}:{bot_id}:{update_id}"

    async def claim(self, bot_id: int, update_id: int) -> Claim:
        async with asyncio.timeout(self.timeout_s):
            state = await self._claim(keys=[self.key(bot_id, update_id)], args=[self.lease_ms])
        return Claim(state.decode() if isinstance(state, bytes) else state)

    async def renew(self, claims: Sequence[tuple[int, int]]) -> None:
        keys = [self.key(bot_id, update_id) for bot_id, update_id in claims]
        async with asyncio.timeout(self.timeout_s):
            await self._renew(keys=keys, args=[self.lease_ms])

    async def finish(self, bot_id: int, update_id: int) -> bool:
        keys = [self.key(bot_id, update_id), self.twice_key(bot_id)]
        async with asyncio.timeout(self.timeout_s):
            return bool(await self._finish(keys=keys, args=[self.ttl_s]))

    def twice_key(self, bot_id: int) -> str:
        return f"{self.prefix}:twice:{bot_id}"

    async def handled_twice(self, bot_id: int) -> int:
        """Updates finished by a handler when another had finished them already, counted
        in Redis by every process since the key was made: 0 unless dedupe failed."""
        async with asyncio.timeout(self.timeout_s):
            count = await self.redis.get(self.twice_key(bot_id))
        return int(count or 0)

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
        lease_s: float = DEFAULT_LEASE_S,
        max_ids: int = 100_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.lease_s = lease_s
        self.max_ids = max_ids
        self.monotonic = monotonic
        self._claimed: OrderedDict[tuple[int, int], tuple[Claim, float]] = OrderedDict()

    async def claim(self, bot_id: int, update_id: int) -> Claim:
        now = self.monotonic()
        while self._claimed and (
            len(self._claimed) >= self.max_ids
            or now - next(iter(self._claimed.values()))[1] >= self.ttl_s
        ):
            self._claimed.popitem(last=False)
        key = (bot_id, update_id)
        held = self._claimed.get(key)
        if held is not None:
            state, since = held
            if state is Claim.DONE or now - since < self.lease_s:
                return state
        self._set(key, Claim.BUSY, now)
        return Claim.NEW

    async def renew(self, claims: Sequence[tuple[int, int]]) -> None:
        now = self.monotonic()
        for key in claims:
            held = self._claimed.get(key)
            if held is not None and held[0] is Claim.BUSY:
                self._set(key, Claim.BUSY, now)

    async def finish(self, bot_id: int, update_id: int) -> bool:
        held = self._claimed.get((bot_id, update_id))
        self._set((bot_id, update_id), Claim.DONE, self.monotonic())
        return held is not None and held[0] is Claim.DONE

    async def release(self, bot_id: int, update_id: int) -> None:
        self._claimed.pop((bot_id, update_id), None)

    def _set(self, key: tuple[int, int], state: Claim, now: float) -> None:
        self._claimed.pop(key, None)
        self._claimed[key] = (state, now)

    async def close(self) -> None:
        return None


class UpdateDedupe(BaseMiddleware):
    """Outer middleware of ``dp.update``: claims the update before anything else of the
    bot runs; a copy of an update handled already ends here (logged at debug), a copy of
    one being handled elsewhere waits for that to end (checking every ``wait_s``)."""

    def __init__(
        self,
        store: ClaimStore,
        *,
        retry_s: float = 5.0,
        wait_s: float = 0.1,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.retry_s = retry_s
        self.wait_s = wait_s
        self.monotonic = monotonic
        self.ignored = 0  # copies ignored by this process
        self.waiting = 0  # copies waiting now for another handler of the same update
        self.handled_twice = 0  # updates this process finished after another had
        self._log_limit = LogLimit(clock=monotonic)
        self._retry_at = 0.0
        self._held: set[tuple[int, int]] = set()  # claims this process is handling now
        self._renewal: asyncio.TimerHandle | None = None
        self._renewing: set[asyncio.Task[None]] = set()

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        bot: Bot | None = data.get("bot")
        if not isinstance(event, Update) or bot is None:
            return await handler(event, data)
        claim = await self._claim(bot.id, event.update_id)
        if claim is Claim.BUSY:
            claim = await self._wait(bot.id, event.update_id)
        if claim is Claim.DONE:
            self.ignored += 1
            log.debug("update %s came again; already handled, ignored", event.update_id)
            return UNHANDLED
        key = (bot.id, event.update_id)
        if claim is Claim.NEW:
            self._hold(key)
        try:
            result = await handler(event, data)
        except BaseException:
            if claim is Claim.NEW:  # failed or stopped half-way: a copy may try again
                self._let_go(key)
                await self._call(self.store.release, bot.id, event.update_id)
            raise
        if claim is Claim.NEW:
            self._let_go(key)
            try:
                twice = await self.store.finish(bot.id, event.update_id)
            except Exception as error:
                self._unavailable(error)
            else:
                if twice:  # another handler finished it too: a lease ran out under it
                    self.handled_twice += 1
                    if (left_out := self._log_limit.allow("twice")) is not None:
                        log.warning(
                            "update %s was handled twice%s",
                            event.update_id,
                            left_out_note(left_out),
                        )
        return result

    def _hold(self, key: tuple[int, int]) -> None:
        self._held.add(key)
        if self._renewal is None:
            loop = asyncio.get_running_loop()
            self._renewal = loop.call_later(self.store.lease_s / 4, self._renew_due)

    def _let_go(self, key: tuple[int, int]) -> None:
        self._held.discard(key)
        if not self._held and self._renewal is not None:
            self._renewal.cancel()
            self._renewal = None

    def _renew_due(self) -> None:
        """Every quarter lease while updates are in hand: renew all their claims at once."""
        self._renewal = None
        if not self._held:
            return
        task = asyncio.create_task(self._renew(list(self._held)))
        self._renewing.add(task)
        task.add_done_callback(self._renewing.discard)
        loop = asyncio.get_running_loop()
        self._renewal = loop.call_later(self.store.lease_s / 4, self._renew_due)

    async def _renew(self, claims: list[tuple[int, int]]) -> None:
        try:
            await self.store.renew(claims)
        except Exception as error:
            self._unavailable(error)

    async def _claim(self, bot_id: int, update_id: int) -> Claim | None:
        """None: the store is unavailable (handle the update all the same)."""
        if self.monotonic() < self._retry_at:
            return None
        try:
            return await self.store.claim(bot_id, update_id)
        except Exception as error:
            self._unavailable(error)
            return None

    async def _wait(self, bot_id: int, update_id: int) -> Claim | None:
        """Until the other handler finishes (DONE), fails or its lease runs out (NEW)."""
        self.waiting += 1
        try:
            while True:
                await asyncio.sleep(self.wait_s)
                claim = await self._claim(bot_id, update_id)
                if claim is not Claim.BUSY:
                    return claim
        finally:
            self.waiting -= 1

    async def _call(
        self, method: Callable[[int, int], Awaitable[None]], bot_id: int, update_id: int
    ) -> None:
        try:
            await method(bot_id, update_id)
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
        if self._renewal is not None:
            self._renewal.cancel()
            self._renewal = None
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
