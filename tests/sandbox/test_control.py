"""The control API that plays the users."""

from __future__ import annotations

import asyncio

import pytest
from aiogram import Bot
from aiogram.types import InlineKeyboardMarkup

from bot.sandbox.client import SandboxError
from bot.sandbox.server import RunningSandbox

USER = 5005
MARKUP = InlineKeyboardMarkup.model_validate(
    {"inline_keyboard": [[{"text": "答案A", "callback_data": "ans:1:A"}]]}
)


async def test_press_requires_a_real_button_unless_forged(
    bot: Bot, sandbox: RunningSandbox
) -> None:
    await sandbox.client.send_text(USER, "/start")
    msg = await bot.send_message(USER, "第1题", reply_markup=MARKUP)
    with pytest.raises(SandboxError) as caught:
        await sandbox.client.press(USER, msg.message_id, "ans:1:B")
    assert caught.value.status == 400
    assert "no button with callback_data 'ans:1:B'" in caught.value.message
    with pytest.raises(SandboxError):  # another user can't press in this private chat
        await sandbox.client.press(USER + 1, msg.message_id, "ans:1:A", chat_id=USER)

    forged = await sandbox.client.press(USER, msg.message_id, "score:100", forge=True)
    pressed = await sandbox.client.press_button(USER, msg.message_id, "答案A")
    updates = await bot.get_updates()
    callbacks = {u.callback_query.id: u.callback_query.data for u in updates if u.callback_query}
    assert callbacks == {forged: "score:100", pressed: "ans:1:A"}
    with pytest.raises(SandboxError, match="has no button"):
        await sandbox.client.press_button(USER, msg.message_id, "答案Z")


async def test_wait_for_messages(bot: Bot, sandbox: RunningSandbox) -> None:
    await sandbox.client.send_text(USER, "/start")
    waiter = asyncio.create_task(sandbox.client.wait_for_messages(USER, 2, timeout=5))
    await asyncio.sleep(0.1)
    await bot.send_message(USER, "one")
    await asyncio.sleep(0.05)
    assert not waiter.done()
    await bot.send_message(USER, "two")
    got = await asyncio.wait_for(waiter, 2)
    assert [m["text"] for m in got] == ["one", "two"]

    with pytest.raises(TimeoutError) as caught:
        await sandbox.client.wait_for_messages(USER, 3, timeout=0.2)
    text = str(caught.value)
    assert "sent 2 of 3 expected messages" in text
    assert "'one'" in text and "'two'" in text


async def test_callback_answer_wait(bot: Bot, sandbox: RunningSandbox) -> None:
    await sandbox.client.send_text(USER, "/start")
    msg = await bot.send_message(USER, "第1题", reply_markup=MARKUP)
    query = await sandbox.client.press(USER, msg.message_id, "ans:1:A")
    assert await sandbox.client.callback_answer(query) is None
    waiter = asyncio.create_task(sandbox.client.wait_for_callback_answer(query, timeout=5))
    await asyncio.sleep(0.05)
    await bot.answer_callback_query(query, text="已记录")
    answer = await asyncio.wait_for(waiter, 2)
    assert answer["text"] == "已记录" and answer["show_alert"] is False
    other = await sandbox.client.press(USER, msg.message_id, "ans:1:A")
    with pytest.raises(TimeoutError, match="was not answered"):
        await sandbox.client.wait_for_callback_answer(other, timeout=0.1)


async def test_groups_and_messages_view(bot: Bot, sandbox: RunningSandbox) -> None:
    await sandbox.client.create_group(-700, "131团 教师群")
    sent = await sandbox.client.send_text(USER, "/quiz@pufa_sandbox_bot", chat_id=-700)
    [update] = await bot.get_updates()
    assert update.message is not None
    assert update.message.chat.type == "group" and update.message.chat.id == -700
    assert update.message.from_user is not None and update.message.from_user.id == USER
    assert update.message.entities is not None
    assert update.message.entities[0].length == len("/quiz@pufa_sandbox_bot")
    msg = await bot.send_poll(-700, "哪天是宪法日?", ["12月4日", "5月1日"], is_anonymous=False)
    assert msg.message_id == sent.message_id + 1  # ids are per chat, shared with users
    [view] = await sandbox.client.messages(-700)
    assert view["poll"]["question"] == "哪天是宪法日?"
    assert view["deleted"] is False and view["edit_count"] == 0
    await sandbox.client.answer_poll(USER, view["poll"]["id"], [0])
    [view] = await sandbox.client.messages(-700)
    assert view["poll"]["options"][0]["voter_count"] == 1
    await sandbox.client.answer_poll(USER, view["poll"]["id"], [1])  # regular: may revote
    [view] = await sandbox.client.messages(-700)
    assert [o["voter_count"] for o in view["poll"]["options"]] == [0, 1]
    assert view["poll"]["total_voter_count"] == 1
    quiz = await bot.send_poll(-700, "q", ["a", "b"], type="quiz", correct_option_id=1)
    assert quiz.poll is not None
    await sandbox.client.answer_poll(USER, quiz.poll.id, [0])
    with pytest.raises(SandboxError, match="forbids revoting"):
        await sandbox.client.answer_poll(USER, quiz.poll.id, [1])


async def test_stats_and_reset(bot: Bot, sandbox: RunningSandbox) -> None:
    await sandbox.client.send_text(USER, "/start")
    await bot.send_message(USER, "a")
    await sandbox.client.block(USER)
    with pytest.raises(Exception, match="blocked"):
        await bot.send_message(USER, "b")
    stats = await sandbox.client.stats()
    assert stats["calls"]["sendMessage"] == 2
    assert stats["status_403"] == 1 and stats["messages_sent"] == 1
    await sandbox.client.reset_stats()
    stats = await sandbox.client.stats()
    assert stats["calls"] == {} and stats["messages_sent"] == 0
