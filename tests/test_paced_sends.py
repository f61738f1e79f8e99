"""Every message sent through the bot takes a slot of the shared limiter."""

from __future__ import annotations

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

from bot.pacing import PacedSends, SendLimiter


class CountingLimiter(SendLimiter):
    def __init__(self) -> None:
        super().__init__(rate=1_000_000.0)
        self.acquired: list[int | None] = []
        self.held: list[float] = []

    async def acquire(self, chat_id: int | None) -> None:
        self.acquired.append(chat_id)
        await super().acquire(chat_id)

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
