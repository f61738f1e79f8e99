"""Telegram's 400 errors, with Telegram's own wording."""

from __future__ import annotations

import asyncio

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup

from bot.sandbox.server import RunningSandbox
from tests.sandbox.conftest import SandboxFactory

USER = 4004
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


@pytest.fixture
async def started(sandbox: RunningSandbox) -> RunningSandbox:
    await sandbox.client.send_text(USER, "/start")
    return sandbox


def keyboard(data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="x", callback_data=data)]]
    )


async def test_text_length(bot: Bot, started: RunningSandbox) -> None:
    await bot.send_message(USER, "字" * 4096)
    with pytest.raises(TelegramBadRequest) as caught:
        await bot.send_message(USER, "字" * 4097)
    assert caught.value.message == "Bad Request: message is too long"
    # tags and entities don't count: 4096 visible characters are fine
    await bot.send_message(USER, "<b>" + "&lt;" * 4000 + "</b>" + "x" * 96, parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(USER, "<i>" + "&amp;" * 4097 + "</i>", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest) as caught:
        await bot.send_message(USER, "   ")
    assert caught.value.message == "Bad Request: message text is empty"
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_document(USER, BufferedInputFile(b"x", "a.txt"), caption="c" * 1025)


async def test_unbalanced_html(bot: Bot, started: RunningSandbox) -> None:
    cases = {
        "<b>bold": 'Can\'t find end tag corresponding to start tag "b"',
        "<b><i>x</b></i>": 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"',
        "1 < 2": 'Unsupported start tag "" at byte offset 2',
        "<br>": 'Unsupported start tag "br" at byte offset 0',
        "x</b>": "Unexpected end tag at byte offset 1",
    }
    for text, detail in cases.items():
        with pytest.raises(TelegramBadRequest) as caught:
            await bot.send_message(USER, text, parse_mode="HTML")
        assert caught.value.message == f"Bad Request: can't parse entities: {detail}"
    # without parse_mode the same text is fine
    assert (await bot.send_message(USER, "1 < 2")).text == "1 < 2"


async def test_callback_data_limit(bot: Bot, started: RunningSandbox) -> None:
    await bot.send_message(USER, "ok", reply_markup=keyboard("d" * 64))
    for data in ("d" * 65, "题" * 22):  # 66 bytes in UTF-8
        with pytest.raises(TelegramBadRequest) as caught:
            await bot.send_message(USER, "q", reply_markup=keyboard(data))
        assert caught.value.message == "Bad Request: BUTTON_DATA_INVALID"


async def test_edit_errors(bot: Bot, started: RunningSandbox) -> None:
    msg = await bot.send_message(USER, "same", reply_markup=keyboard("a"))
    with pytest.raises(TelegramBadRequest) as caught:
        await bot.edit_message_text(
            "same", chat_id=USER, message_id=msg.message_id, reply_markup=keyboard("a")
        )
    assert caught.value.message == NOT_MODIFIED
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(
            chat_id=USER, message_id=msg.message_id, reply_markup=keyboard("a")
        )
    # same text but the keyboard goes away: that is a modification
    await bot.edit_message_text("same", chat_id=USER, message_id=msg.message_id)
    with pytest.raises(TelegramBadRequest) as caught:
        await bot.edit_message_text("new", chat_id=USER, message_id=99999)
    assert caught.value.message == "Bad Request: message to edit not found"
    assert await bot.delete_message(USER, msg.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("new", chat_id=USER, message_id=msg.message_id)
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(USER, msg.message_id)


async def test_query_too_old(sandbox_with: SandboxFactory) -> None:
    too_old = "Bad Request: query is too old and response timeout expired or query ID is invalid"
    async with sandbox_with(callback_query_ttl_s=0.2) as (sb, bot):
        await sb.client.send_text(USER, "/start")
        msg = await bot.send_message(USER, "q", reply_markup=keyboard("a"))
        query = await sb.client.press(USER, msg.message_id, "a")
        await asyncio.sleep(0.3)
        with pytest.raises(TelegramBadRequest) as caught:
            await bot.answer_callback_query(query)
        assert caught.value.message == too_old
        with pytest.raises(TelegramBadRequest) as caught:
            await bot.answer_callback_query("12345")
        assert caught.value.message == too_old


async def test_poll_validation(bot: Bot, started: RunningSandbox) -> None:
    with pytest.raises(TelegramBadRequest, match="poll must have at least 2 option"):
        await bot.send_poll(USER, "q", ["only one"])
    with pytest.raises(TelegramBadRequest, match="poll question length must not exceed 300"):
        await bot.send_poll(USER, "q" * 301, ["a", "b"])
    with pytest.raises(TelegramBadRequest, match="poll options length must not exceed 100"):
        await bot.send_poll(USER, "q", ["a" * 101, "b"])
    with pytest.raises(TelegramBadRequest, match="wrong open period"):
        await bot.send_poll(USER, "q", ["a", "b"], open_period=3)
    with pytest.raises(TelegramBadRequest, match="wrong correct option ID"):
        await bot.send_poll(USER, "q", ["a", "b"], type="quiz", correct_option_id=5)
    with pytest.raises(TelegramBadRequest, match="explanation is too long"):
        await bot.send_poll(
            USER, "q", ["a", "b"], type="quiz", correct_option_id=0, explanation="e" * 201
        )
