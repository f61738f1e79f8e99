"""Waiting on the sandbox until the bot edits a message (latency of an answer, in bench/)."""

from __future__ import annotations

import asyncio

import pytest
from aiogram import Bot
from aiogram.types import InlineKeyboardMarkup

from bot.sandbox.client import SandboxError
from bot.sandbox.server import RunningSandbox

USER = 5105


def markup(data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup.model_validate(
        {"inline_keyboard": [[{"text": "A", "callback_data": data}]]}
    )


async def test_wait_for_edit_returns_once_the_count_is_exceeded(
    bot: Bot, sandbox: RunningSandbox
) -> None:
    await sandbox.client.send_text(USER, "/start")
    msg = await bot.send_message(USER, "第1题", reply_markup=markup("q:1"))
    waiter = asyncio.create_task(sandbox.client.wait_for_edit(USER, msg.message_id, 0, 5))
    await asyncio.sleep(0.1)
    await bot.send_message(USER, "something else")  # another message does not count
    await asyncio.sleep(0.05)
    assert not waiter.done()
    await bot.edit_message_text("第2题", chat_id=USER, message_id=msg.message_id)
    edited = await asyncio.wait_for(waiter, 2)
    assert edited["text"] == "第2题" and edited["edit_count"] == 1

    # Already past the count: answers at once, with the message as it is now.
    again = await sandbox.client.wait_for_edit(USER, msg.message_id, 0, 0.1)
    assert again["edit_count"] == 1

    with pytest.raises(TimeoutError, match="not edited more than 1 times"):
        await sandbox.client.wait_for_edit(USER, msg.message_id, 1, 0.2)


async def test_wait_for_edit_sees_a_deletion_and_refuses_unknown_messages(
    bot: Bot, sandbox: RunningSandbox
) -> None:
    await sandbox.client.send_text(USER, "/start")
    msg = await bot.send_message(USER, "第1题")
    waiter = asyncio.create_task(sandbox.client.wait_for_edit(USER, msg.message_id, 0, 5))
    await asyncio.sleep(0.05)
    await bot.delete_message(USER, msg.message_id)
    gone = await asyncio.wait_for(waiter, 2)
    assert gone["deleted"] is True and gone["edit_count"] == 0

    with pytest.raises(SandboxError) as caught:
        await sandbox.client.wait_for_edit(USER, 99_999, 0, 0.1)
    assert caught.value.status == 404
    with pytest.raises(SandboxError):
        await sandbox.client.wait_for_edit(USER + 1, msg.message_id, 0, 0.1)


async def test_press_and_wait_for_edit_is_one_round_trip(
    bot: Bot, sandbox: RunningSandbox
) -> None:
    await sandbox.client.send_text(USER, "/start")
    msg = await bot.send_message(USER, "第1题", reply_markup=markup("q:1"))
    await bot.edit_message_reply_markup(
        chat_id=USER, message_id=msg.message_id, reply_markup=markup("q:1:A")
    )
    pressing = asyncio.create_task(
        sandbox.client.press_and_wait_for_edit(USER, msg.message_id, "q:1:A", timeout=5)
    )
    await asyncio.sleep(0.1)
    assert not pressing.done()
    updates = await bot.get_updates()
    query = updates[-1].callback_query
    assert query is not None and query.data == "q:1:A"
    await bot.answer_callback_query(query.id)
    await bot.edit_message_text(
        "第2题", chat_id=USER, message_id=msg.message_id, reply_markup=markup("q:2:A")
    )
    query_id, edited = await asyncio.wait_for(pressing, 2)
    assert query_id == query.id
    assert edited["text"] == "第2题" and edited["edit_count"] == 2
    assert edited["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "q:2:A"

    with pytest.raises(SandboxError, match="no button"):  # the old button is gone
        await sandbox.client.press_and_wait_for_edit(USER, msg.message_id, "q:1:A", timeout=1)
    with pytest.raises(TimeoutError, match="not edited within"):
        await sandbox.client.press_and_wait_for_edit(USER, msg.message_id, "q:2:A", timeout=0.2)
