"""Every message sent through the bot takes a slot of the shared limiter."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageText,
    SendDocument,
    SendMessage,
    TelegramMethod,
)
from aiogram.types import BufferedInputFile
from redis.asyncio import Redis

from bot.pacing import PacedSends, SendLimiter, SharedRate, in_bulk
from tests.conftest import REDIS_URL


class CountingLimiter(SendLimiter):
    def __init__(self) -> None:
        super().__init__(rate=1_000_000.0)
        self.acquired: list[int | None] = []
        self.bulk: list[bool] = []
        self.held: list[float] = []

    async def acquire(self, chat_id: int | None, *, bulk: bool = False) -> None:
        self.acquired.append(chat_id)
        self.bulk.append(bulk)
        await super().acquire(chat_id, bulk=bulk)

    def hold(self, seconds: float) -> None:
        self.held.append(seconds)
        super().hold(seconds)


async def test_sends_take_a_slot_and_edits_and_answers_do_not() -> None:
    limiter = CountingLimiter()
    paced = PacedSends(limiter)
    sent: list[TelegramMethod[Any]] = []

    async def make_request(bot: Bot, method: TelegramMethod[Any]) -> Any:
        sent.append(method)
        return True

    bot = Bot("42:TEST-token")
    methods: list[TelegramMethod[Any]] = [
        SendMessage(chat_id=7, text="欢迎"),
        EditMessageText(chat_id=7, message_id=1, text="第 2 题"),
        AnswerCallbackQuery(callback_query_id="1"),
        SendDocument(chat_id=8, document=BufferedInputFile(b"x", "report.docx")),
    ]
    for method in methods:
        await paced(make_request, bot, method)
    await bot.session.close()

    assert sent == methods  # everything goes out
    assert limiter.acquired == [None, None]  # the two sends, an overall slot each


async def test_a_group_keeps_its_own_limits() -> None:
    limiter = CountingLimiter()
    paced = PacedSends(limiter)

    async def make_request(bot: Bot, method: TelegramMethod[Any]) -> Any:
        return True

    bot = Bot("42:TEST-token")
    await paced(make_request, bot, SendMessage(chat_id=-1001, text="排行榜"))
    await paced(make_request, bot, SendMessage(chat_id=7, text="欢迎"))
    await bot.session.close()
    assert limiter.acquired == [-1001, None]


async def test_a_429_is_left_to_the_request_that_got_it() -> None:
    """It may concern one chat only: the others are not held; the retrying middleware
    (outside this one) waits it out and tries again, taking a new slot."""
    limiter = CountingLimiter()
    paced = PacedSends(limiter)

    async def refused(bot: Bot, method: TelegramMethod[Any]) -> Any:
        raise TelegramRetryAfter(method=method, message="Too Many Requests", retry_after=3)

    bot = Bot("42:TEST-token")
    with pytest.raises(TelegramRetryAfter):
        await paced(refused, bot, SendMessage(chat_id=7, text="欢迎"))
    await bot.session.close()
    assert limiter.held == []


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


async def test_two_processes_share_one_rate_through_redis(redis: Redis) -> None:
    """Two limiters (as in two bot processes) reserving together get one chain of slots,
    each 1/rate after the last, from Redis's clock: the token's limit is shared."""
    key = f"pufa-test:send-rate:{uuid.uuid4().hex}"
    first, second = SharedRate(redis, key), SharedRate(redis, key)
    try:
        reserved = await asyncio.gather(
            *(limiter.reserve(0.1) for _ in range(10) for limiter in (first, second))
        )
        slots = sorted(slot for slot, _now in reserved)
        assert [later - earlier for earlier, later in itertools.pairwise(slots)] == [100_000] * 19

        # A 429 seen by one holds the other: its next slot comes after the hold.
        await first.hold(30.0)
        slot, now = await second.reserve(0.1)
        assert slot - now > 20_000_000
    finally:
        await redis.delete(f"{key}:next", f"{key}:hold")


async def test_a_limiter_with_redis_gone_paces_alone() -> None:
    """Redis unreachable: the process keeps sending, at its own rate, rather than stop."""
    unreachable = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    limiter = SendLimiter(1_000.0, shared=SharedRate(unreachable, "pufa-test:gone"))
    try:
        for chat_id in (7, 8, None):
            await limiter.acquire(chat_id)
        limiter.hold(0.001)
        await asyncio.sleep(0.01)  # the failed hold is logged, not raised
    finally:
        await limiter.close()


async def test_a_reply_goes_before_the_queued_bulk_messages() -> None:
    """Eight broadcast messages queued, then a reply: the reply goes second, not ninth.
    (All of them take slots of the one overall chain, so the rate holds either way.)"""
    limiter = SendLimiter(40.0)  # a slot every 25 ms
    order: list[str] = []

    async def bulk(n: int) -> None:
        await limiter.acquire(1000 + n, bulk=True)
        order.append(f"bulk{n}")

    async def reply() -> None:
        await asyncio.sleep(0)  # after every bulk message has queued
        await limiter.acquire(None)
        order.append("reply")

    await asyncio.gather(*(bulk(n) for n in range(8)), reply())
    assert len(order) == 9 and order.index("reply") <= 1


async def test_announcements_are_bulk_and_replies_are_not() -> None:
    limiter = CountingLimiter()
    paced = PacedSends(limiter)

    async def make_request(bot: Bot, method: TelegramMethod[Any]) -> Any:
        return True

    bot = Bot("42:TEST-token")
    await paced(make_request, bot, SendMessage(chat_id=7, text="你好"))
    with in_bulk():
        await paced(make_request, bot, SendMessage(chat_id=8, text="答题开始了"))
    await paced(make_request, bot, SendMessage(chat_id=9, text="再见"))
    assert limiter.bulk == [False, True, False]
