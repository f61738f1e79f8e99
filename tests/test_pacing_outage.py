"""Redis down or hanging: the shared send rate falls back to this process's share, says so
once, and comes back by itself.

Regression: with Redis refusing, every message sent logged a warning with a full
traceback (about 1.8 MB of log in 20 s), and with Redis hanging every send waited on it,
so a broadcast fell from 25/s to 2.3/s. Time here is virtual: the limiter's clock and
sleeps are the test's, and what is counted is calls to Redis and log lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.app import running_bot
from bot.log_limits import OncePerMinute
from bot.pacing import SendLimiter, SharedRate
from bot.sandbox.config import SandboxConfig
from bot.sandbox.server import run_sandbox
from tests.conftest import REDIS_URL
from tests.factories import World
from tests.test_end_to_end import free_port, settings_for
from tests.test_end_to_end import world as world  # a fixture

RATE = 25.0


class VirtualTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)


class Counted(SharedRate):
    """A real SharedRate that counts the reservations asked of Redis."""

    def __init__(self, redis: Redis, key: str, **kwargs: Any) -> None:
        super().__init__(redis, key, **kwargs)
        self.calls = 0

    async def reserve(self, interval_s: float) -> tuple[int, int]:
        self.calls += 1
        return await super().reserve(interval_s)


class Switch(SharedRate):
    """Redis that goes away and comes back: reservations go to a working Redis, or to
    ``down`` (one that refuses or hangs) while :attr:`away`."""

    def __init__(self, up: Counted, down: Counted) -> None:
        self.up, self.down, self.away = up, down, False
        self.processes = 1

    async def reserve(self, interval_s: float) -> tuple[int, int]:
        rate = self.down if self.away else self.up
        reserved = await rate.reserve(interval_s)
        self.processes = rate.processes
        return reserved

    async def hold(self, seconds: float) -> None:
        await (self.down if self.away else self.up).hold(seconds)

    async def close(self) -> None:
        await self.up.close()
        await self.down.close()


@contextlib.asynccontextmanager
async def hanging_server() -> AsyncIterator[int]:
    """A TCP server that accepts connections and never answers."""
    connections: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        with contextlib.suppress(Exception):
            await reader.read()  # until the client gives up

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in connections:
            writer.close()
        server.close()


async def send(limiter: SendLimiter, time: VirtualTime, messages: int) -> list[float]:
    """Acquire a slot for ``messages`` broadcast messages; the virtual time of each."""
    slots = []
    for chat_id in range(messages):
        await limiter.acquire(10_000 + chat_id, bulk=True)
        slots.append(time.now)
    return slots


def pacing_logs(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "bot.pacing"]


async def outage_and_recovery(down_redis: Redis, caplog: pytest.LogCaptureFixture) -> None:
    key = f"pufa-test:send-rate:{uuid.uuid4().hex}"
    working = Redis.from_url(REDIS_URL)
    other_process = SharedRate(Redis.from_url(REDIS_URL), key)
    shared = Switch(Counted(working, key), Counted(down_redis, key, timeout_s=0.05))
    time = VirtualTime()
    limiter = SendLimiter(RATE, clock=time.clock, sleep=time.sleep, shared=shared, retry_s=5.0)
    caplog.set_level(logging.DEBUG, logger="bot.pacing")
    try:
        await other_process.reserve(1 / RATE)  # another bot process is sending too
        await send(limiter, time, 5)
        assert shared.up.calls == 5 and shared.processes == 2

        shared.away = True
        caplog.clear()
        started = time.now
        slots = await send(limiter, time, 300)
        limiter.hold(1.0)  # a 429 meanwhile: held here, nothing asked of Redis
        elapsed = time.now - started
        # Half the rate each (two processes were sending), at an even pace once the
        # broadcast's own turns have caught up with the change.
        gaps = [round(b - a, 6) for a, b in itertools.pairwise(slots)]
        assert min(gaps[1:]) >= round(2 / RATE, 6)
        assert set(gaps[10:]) == {round(2 / RATE, 6)}
        assert limiter.pacing_alone
        # Redis was asked once, then once per retry period: not once per message.
        assert shared.down.calls <= 2 + elapsed / 5.0
        warnings = [r for r in pacing_logs(caplog) if r.levelno >= logging.WARNING]
        assert len(warnings) == 1 and "pacing this process alone" in warnings[0].getMessage()
        assert not [r for r in pacing_logs(caplog) if r.exc_info and r.levelno > logging.DEBUG]

        shared.away = False  # Redis is back
        await send(limiter, time, 200)  # 8 s at the shared pace: a retry falls in it
        assert not limiter.pacing_alone
        calls = shared.up.calls
        await send(limiter, time, 10)
        assert shared.up.calls == calls + 10  # every slot comes from Redis again
        back = [r for r in pacing_logs(caplog) if "is back" in r.getMessage()]
        assert len(back) == 1
        assert len([r for r in pacing_logs(caplog) if r.levelno >= logging.INFO]) == 2
    finally:
        await asyncio.gather(*limiter._propagating, return_exceptions=True)
        await working.delete(f"{key}:next", f"{key}:hold", f"{key}:processes")
        await limiter.close()
        await other_process.close()


async def test_redis_refusing_paces_at_this_process_share_and_recovers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    closed_port = free_port()
    await outage_and_recovery(Redis.from_url(f"redis://127.0.0.1:{closed_port}/0"), caplog)


async def test_redis_hanging_does_not_hold_the_sends(caplog: pytest.LogCaptureFixture) -> None:
    async with hanging_server() as port:
        await outage_and_recovery(Redis.from_url(f"redis://127.0.0.1:{port}/0"), caplog)


async def test_updates_failing_while_redis_is_down_log_one_traceback_a_minute(
    database_url: str, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """The bot's state lives in Redis and Redis refuses: every update fails the same way;
    each person is told, and the log says so once (with a count later), not per update."""
    closed_port = free_port()
    for name in ("aiogram.event", "handlers.errors"):  # a fresh minute for this test
        logger = logging.getLogger(name)
        for once in [f for f in logger.filters if isinstance(f, OncePerMinute)]:
            logger.removeFilter(once)
    async with run_sandbox(SandboxConfig()) as sandbox:
        settings = settings_for(
            sandbox, database_url, redis_url=f"redis://127.0.0.1:{closed_port}/0"
        )
        async with running_bot(settings, migrate=False):
            people = range(801, 821)
            for user_id in people:
                await sandbox.client.send_text(user_id, "/help")
            for user_id in people:  # each failed update has been answered with an apology
                await sandbox.client.wait_for_messages(user_id, 1)
    failures = [r for r in caplog.records if r.exc_info]
    assert len(failures) == 1
    assert failures[0].exc_info is not None
    assert failures[0].exc_info[0] is RedisConnectionError
    # The replies found the shared send rate down too: said once.
    assert len([r for r in caplog.records if r.name == "bot.pacing"]) == 1
