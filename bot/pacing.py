"""Pacing sends under Telegram's limits, shared by everything one bot process sends.

One limiter per process (``ServiceContext.limiter``): article broadcasts, campaign
announcements and the handlers' replies running at the same time share the global rate
instead of adding up. The broadcaster takes a slot before each message itself; whatever
else is sent through the bot takes its slot in :class:`PacedSends`, a request middleware
of the bot's session. Bulk messages (broadcasts, announcements) give way to replies, so
someone using the bot during a long broadcast is not answered at the broadcast's pace.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.methods import (
    CopyMessage,
    ForwardMessage,
    Response,
    SendDocument,
    SendMediaGroup,
    SendMessage,
    SendPhoto,
    SendPoll,
    TelegramMethod,
)
from aiogram.methods.base import TelegramType

if TYPE_CHECKING:
    from aiogram import Bot
    from redis.asyncio import Redis


log = logging.getLogger(__name__)

# Set while an announcement sends to its audience (:func:`in_bulk`).
_BULK: ContextVar[bool] = ContextVar("pufa_bulk_send", default=False)

_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local following = tonumber(redis.call('GET', KEYS[1]) or '0')
local held = tonumber(redis.call('GET', KEYS[2]) or '0')
local slot = math.max(now, following, held)
redis.call('SET', KEYS[1], string.format('%.0f', slot + tonumber(ARGV[1])), 'PX', 600000)
redis.call('ZADD', KEYS[3], now, ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - 60000000)
redis.call('PEXPIRE', KEYS[3], 120000)
local processes = redis.call('ZCARD', KEYS[3])
return {string.format('%.0f', slot), string.format('%.0f', now), processes}
"""

_HOLD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local till = now + tonumber(ARGV[1])
local held = tonumber(redis.call('GET', KEYS[1]) or '0')
if till > held then
  local ttl = math.floor(tonumber(ARGV[1]) / 1000) + 1000
  redis.call('SET', KEYS[1], string.format('%.0f', till), 'PX', ttl)
end
return string.format('%.0f', till)
"""


class SharedRate:
    """The overall rate kept across bot processes: the next free slot and the current hold
    live in Redis, so several processes sending with one token share Telegram's limit
    instead of each taking all of it. Times are Redis's own clock (microseconds), so the
    processes' clocks need not agree.

    Each reservation also marks this process as sending; :attr:`processes` is how many
    did in the last minute, which tells the process its share should Redis go away.
    Every call gives up after ``timeout_s``: a Redis that hangs must not hold the sends.
    """

    def __init__(self, redis: Redis, key: str, *, timeout_s: float = 0.25) -> None:
        self.redis = redis
        self.slot_key = f"{key}:next"
        self.hold_key = f"{key}:hold"
        self.processes_key = f"{key}:processes"
        self.timeout_s = timeout_s
        self.processes = 1
        self._me = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._reserve = redis.register_script(_RESERVE)
        self._hold = redis.register_script(_HOLD)

    async def reserve(self, interval_s: float) -> tuple[int, int]:
        """Reserve the next slot ``interval_s`` after the last one (and after any hold):
        ``(slot, now)`` in microseconds of Redis's clock."""
        async with asyncio.timeout(self.timeout_s):
            slot, now, processes = await self._reserve(
                keys=[self.slot_key, self.hold_key, self.processes_key],
                args=[round(interval_s * 1_000_000), self._me],
            )
        self.processes = max(1, int(processes))
        return int(slot), int(now)

    async def hold(self, seconds: float) -> None:
        async with asyncio.timeout(self.timeout_s):
            await self._hold(keys=[self.hold_key], args=[round(seconds * 1_000_000)])

    async def close(self) -> None:
        await self.redis.aclose()


class SendLimiter:
    """Paces requests for all workers: ``rate`` per second overall, ``per_chat_s`` between
    two messages to one chat, ``group_per_minute`` to one group; :meth:`hold` stops
    everyone (a 429's ``retry_after``).

    Slots are reserved in order, ``1/rate`` apart, so any number of workers together
    never exceed the rate, and a late wake-up does not shift the slots after it.

    With ``shared`` (Redis), the slots come from Redis. When Redis refuses or does not
    answer in time, the process paces alone at its share of the rate (``rate`` divided by
    the processes seen sending in the last minute), says so once, and asks Redis again
    every ``retry_s`` (one reservation, the others keep pacing locally meanwhile), until
    it answers; then it says that too.
    """

    def __init__(
        self,
        rate: float,
        *,
        per_chat_s: float = 1.0,
        group_per_minute: int = 20,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        shared: SharedRate | None = None,
        retry_s: float = 5.0,
    ) -> None:
        self.interval = 1.0 / rate
        self.shared = shared
        self.retry_s = retry_s
        self.sleep = sleep
        self._shared_down_since: float | None = None  # when Redis stopped answering
        self._shared_retry_at = 0.0
        self._propagating: set[asyncio.Task[None]] = set()
        self.per_chat_s = per_chat_s
        self.group_per_minute = group_per_minute
        self.clock = clock
        self._next = 0.0
        self._bulk_next = 0.0  # the next turn of a bulk message (local to the process)
        self._hold_until = 0.0
        self._holds = 0
        self._chat_last: dict[int, float] = {}
        self._group_sends: dict[int, deque[float]] = {}
        self._marks = 0

    @property
    def held_until(self) -> float:
        return self._hold_until

    def hold(self, seconds: float) -> None:
        until = self.clock() + seconds
        if until > self._hold_until:
            self._hold_until = until
            self._holds += 1
        self._next = max(self._next, self._hold_until)
        if self.shared is not None and self._shared_down_since is None:
            # The other processes learn of it a moment later (while Redis is away, only
            # this process holds).
            task = asyncio.get_running_loop().create_task(self._share_hold(seconds))
            self._propagating.add(task)
            task.add_done_callback(self._propagating.discard)

    async def _share_hold(self, seconds: float) -> None:
        assert self.shared is not None
        try:
            await self.shared.hold(seconds)
        except Exception as error:  # Redis gone: this process still holds
            self._shared_failed(self.clock(), error)

    @property
    def pacing_alone(self) -> bool:
        """Whether Redis is away and this process paces at its own share."""
        return self._shared_down_since is not None

    def _shared_failed(self, now: float, error: BaseException) -> None:
        self._shared_retry_at = now + self.retry_s
        if self._shared_down_since is not None:
            return  # said once per outage
        self._shared_down_since = now
        assert self.shared is not None
        log.warning(
            "shared send rate unavailable (%s); pacing this process alone at %.3g/s "
            "(%d process(es) were sending), asking Redis again every %g s",
            _reason(error),
            1.0 / (self.interval * self.shared.processes),
            self.shared.processes,
            self.retry_s,
        )
        log.debug("shared send rate failure", exc_info=error)

    async def _reserve(self, now: float) -> float:
        """The time of this process's next slot: from Redis when shared, else local."""
        shared = self.shared
        interval = self.interval
        if shared is not None:
            if self._shared_down_since is None or now >= self._shared_retry_at:
                self._shared_retry_at = now + self.retry_s  # one asks; the others go on
                try:
                    slot, shared_now = await shared.reserve(self.interval)
                except Exception as error:  # Redis gone: pace alone rather than stop
                    self._shared_failed(now, error)
                else:
                    if self._shared_down_since is not None:
                        log.info(
                            "shared send rate is back after %.0f s",
                            self.clock() - self._shared_down_since,
                        )
                        self._shared_down_since = None
                    return max(now + (slot - shared_now) / 1_000_000, self._hold_until)
            interval = self.interval * shared.processes  # this process's share
        local = max(now, self._next, self._hold_until)
        self._next = local + interval
        return local

    async def close(self) -> None:
        if self.shared is not None:
            await self.shared.close()

    def _chat_ready(self, chat_id: int, now: float) -> float:
        ready = self._chat_last.get(chat_id, -1e9) + self.per_chat_s
        if chat_id < 0:
            sends = self._group_sends.get(chat_id)
            if sends:
                while sends and sends[0] <= now - 60.0:
                    sends.popleft()
                if len(sends) >= self.group_per_minute:
                    ready = max(ready, sends[0] + 60.0)
        return ready

    def _mark(self, chat_id: int, now: float) -> None:
        self._chat_last[chat_id] = now
        if chat_id < 0:
            self._group_sends.setdefault(chat_id, deque()).append(now)
        self._marks += 1
        if self._marks % 4096 == 0:
            horizon = now - max(self.per_chat_s, 60.0)
            for key in [k for k, at in self._chat_last.items() if at < horizon]:
                del self._chat_last[key]
                self._group_sends.pop(key, None)

    async def acquire(self, chat_id: int | None, *, bulk: bool = False) -> None:
        """Wait for a slot to send one message to ``chat_id``; ``None``: a slot of the
        overall rate only (a reply, where Telegram tolerates a short burst to one chat).

        ``bulk``: a message of a broadcast or an announcement, which gives way to replies.
        Bulk messages first wait their turn among themselves, at the same rate, and only
        then take the next overall slot; so the overall queue holds about one bulk message
        at a time, and a reply waits behind that one instead of behind every message
        the broadcast has queued. Each reply that cuts in puts the bulk turns back by
        one slot, so together they still keep to the rate.
        """
        turn = await self._bulk_turn() if bulk else None
        while True:
            now = self.clock()
            ready = self._chat_ready(chat_id, now) if chat_id is not None else now
            if ready > now:
                await self.sleep(ready - now)
                continue
            holds = self._holds
            slot = await self._reserve(now)
            if slot > now:
                await self.sleep(slot - now)
            now = self.clock()
            if self._holds != holds and now < self._hold_until:
                continue  # a 429 came in while we waited: queue up behind it
            if chat_id is not None and self._chat_ready(chat_id, now) > now:
                continue  # another worker took this chat meanwhile
            if chat_id is not None:
                self._mark(chat_id, now)
            if turn is not None and slot > turn + self.interval / 2:
                # Others took slots before this one (replies cut in, another process
                # shares the rate): the bulk turns move back. Waking a little late
                # does not count.
                self._bulk_next = max(self._bulk_next, slot + self.interval)
            return

    async def _bulk_turn(self) -> float:
        now = self.clock()
        turn = max(now, self._bulk_next, self._hold_until)
        self._bulk_next = turn + self.interval
        if turn > now:
            await self.sleep(turn - now)
        return turn


def _reason(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


@contextlib.contextmanager
def in_bulk() -> Iterator[None]:
    """Messages sent through the bot inside are bulk (an announcement to an audience):
    they give way to replies (see :meth:`SendLimiter.acquire`)."""
    token = _BULK.set(True)
    try:
        yield
    finally:
        _BULK.reset(token)


# The methods that put a new message in a chat: what Telegram's limits count.
_SENDS = (
    SendMessage,
    SendPhoto,
    SendDocument,
    SendPoll,
    SendMediaGroup,
    CopyMessage,
    ForwardMessage,
)


def _counted(method: TelegramMethod[Any]) -> bool:
    return isinstance(method, _SENDS)


class PacedSends(BaseRequestMiddleware):
    """Every message sent through the bot takes a slot of the shared limiter first:
    replies, announcements, progress messages.

    Without it, a whole class registering at once sent faster than Telegram allows; each
    reply over the limit was refused, waited out its ``retry_after`` and tried again, all
    of them together, and one refused five times was lost. Paced, they queue for slots
    with whatever is being broadcast (the broadcaster's own requests bypass the bot's
    session and take their slots themselves). For a private chat only the overall rate
    is kept: Telegram tolerates a short burst to one chat, which a reply of two or three
    messages is. A group also keeps its own limits (1/s, 20/min).

    A 429 on such a message is waited out by the request that got it (the retrying
    middleware, outside this one, so that the retry takes a new slot); it does not hold
    the others, since it may concern one chat only, and the pacing keeps the process
    under the overall limit anyway. Edits and callback answers are not paced: Telegram's
    message limits do not count them.
    """

    def __init__(self, limiter: SendLimiter) -> None:
        self.limiter = limiter

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if not _counted(method):
            return await make_request(bot, method)
        chat_id = getattr(method, "chat_id", None)
        group = isinstance(chat_id, int) and chat_id < 0
        await self.limiter.acquire(chat_id if group else None, bulk=_BULK.get())
        return await make_request(bot, method)
