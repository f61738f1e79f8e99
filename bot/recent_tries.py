"""Counting recent tries of a recovery code, so that guessing one takes forever: the
participant pages count them per client address, the chat's ``/link`` per person.

Behind the load balancer several bot processes take these tries; counted in each
process's memory, an attacker would get the budget once per process. With Redis (the
bot has it whenever it runs more than one process) the count is shared
(:class:`SharedTries`): one sorted set per key in a sliding minute, on Redis's own
clock, expiring with its last try. When Redis does not answer, each process counts alone
in its memory (:class:`Tries`) rather than let every try through or refuse them all.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from bot.log_limits import LogLimit, left_out_note

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)

RECOVERY_TRIES = 5  # per key and minute
KEY_PREFIX = "pufa:recovery-tries"


class RecentTries(Protocol):
    async def allow(self, key: str) -> bool:
        """Count a try under ``key``; False (and not counted) once ``limit`` tries were
        counted within the window."""
        ...


@dataclass
class Tries:
    """Recent tries per key (an address, a person) in a sliding minute, in this process."""

    limit: int
    window_s: float = 60.0
    now: Callable[[], float] = time.monotonic
    seen: dict[str, deque[float]] = field(default_factory=dict)

    async def allow(self, key: str) -> bool:
        return self.allow_now(key)

    def allow_now(self, key: str) -> bool:
        now = self.now()
        recent = self.seen.setdefault(key, deque())
        while recent and now - recent[0] >= self.window_s:
            recent.popleft()
        if len(recent) >= self.limit:
            return False
        recent.append(now)
        if len(self.seen) > 10_000:  # forget the quiet ones rather than grow without end
            self.seen = {k: v for k, v in self.seen.items() if v and now - v[-1] < self.window_s}
        return True


# KEYS[1] the key's tries; ARGV: window (µs), limit, this try's member. 1: allowed.
_ALLOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now - window))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], string.format('%.0f', now), ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
return 1
"""


class SharedTries:
    """:class:`Tries` shared by every process through Redis: a sorted set
    ``{prefix}:{key}`` of the tries in the window, on Redis's clock (the processes' clocks
    need not agree), expiring ``window_s`` after the last try counted.

    Every call gives up after ``timeout_s``; then this process counts in its memory
    (``local``), says so once a minute, and asks Redis again after ``retry_s``."""

    def __init__(
        self,
        redis: Redis,
        limit: int = RECOVERY_TRIES,
        *,
        window_s: float = 60.0,
        prefix: str = KEY_PREFIX,
        timeout_s: float = 0.25,
        retry_s: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.redis = redis
        self.limit = limit
        self.window_us = round(window_s * 1_000_000)
        self.prefix = prefix
        self.timeout_s = timeout_s
        self.retry_s = retry_s
        self.monotonic = monotonic
        self.local = Tries(limit, window_s, now=monotonic)
        self._allow = redis.register_script(_ALLOW)
        self._retry_at = 0.0
        self._log_limit = LogLimit(clock=monotonic)

    def key(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    async def allow(self, key: str) -> bool:
        if self.monotonic() < self._retry_at:
            return self.local.allow_now(key)
        try:
            async with asyncio.timeout(self.timeout_s):
                allowed = await self._allow(
                    keys=[self.key(key)], args=[self.window_us, self.limit, uuid.uuid4().hex]
                )
        except Exception as error:  # unreachable or slow: count here meanwhile
            self._retry_at = self.monotonic() + self.retry_s
            if (left_out := self._log_limit.allow(type(error).__name__)) is not None:
                log.warning(
                    "recovery tries: Redis unavailable (%s: %s); counting in this process%s",
                    type(error).__name__,
                    error,
                    left_out_note(left_out),
                )
            return self.local.allow_now(key)
        return bool(int(allowed))


def recovery_tries(redis: Redis | None, bot_id: str | None = None) -> RecentTries:
    """Shared through ``redis`` (a client its owner closes) when the bot has one, else
    this process's own count. ``bot_id`` keeps bots that share one Redis apart."""
    if redis is None:
        return Tries(RECOVERY_TRIES)
    prefix = KEY_PREFIX if bot_id is None else f"{KEY_PREFIX}:{bot_id}"
    return SharedTries(redis, RECOVERY_TRIES, prefix=prefix)
