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


def _png(width: int, height: int) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


async def test_a_user_photo_comes_in_telegrams_sizes(bot: Bot, sandbox: RunningSandbox) -> None:
    """A picture sent as a photo arrives as JPEG sizes, smallest first, each fetchable
    with getFile and the file download URL, and the bot can send it on by file_id."""
    import io

    from PIL import Image

    await sandbox.client.send_text(USER, "/start")
    bold = [{"type": "bold", "offset": 0, "length": 4}]
    await sandbox.client.send_photo(
        USER, _png(2000, 1000), caption="宪法日海报 12月4日", caption_entities=bold
    )
    updates = await bot.get_updates()
    message = updates[-1].message
    assert message is not None and message.photo is not None
    assert message.caption == "宪法日海报 12月4日"
    assert message.caption_entities is not None
    assert message.caption_entities[0].type == "bold"
    sides = [(size.width, size.height) for size in message.photo]
    assert sides == [(90, 45), (320, 160), (800, 400), (1280, 640)]
    assert len({size.file_id for size in message.photo}) == 4

    largest = message.photo[-1]
    file = await bot.get_file(largest.file_id)
    assert file.file_path is not None and file.file_path.endswith(".jpg")
    data = await bot.download_file(file.file_path)
    assert data is not None
    with Image.open(io.BytesIO(data.read())) as picture:
        assert picture.format == "JPEG" and picture.size == (1280, 640)

    sent = await bot.send_photo(USER, largest.file_id, caption="转发")
    assert sent.photo is not None
    assert await sandbox.client.sent_file(USER, sent.message_id) == await sandbox.client.download(
        largest.file_id
    )


async def test_a_small_photo_is_not_enlarged(bot: Bot, sandbox: RunningSandbox) -> None:
    await sandbox.client.send_text(USER, "/start")
    await sandbox.client.send_photo(USER, _png(300, 200))
    message = (await bot.get_updates())[-1].message
    assert message is not None and message.photo is not None
    assert [(size.width, size.height) for size in message.photo] == [(90, 60), (300, 200)]


async def test_a_photo_must_be_an_image(sandbox: RunningSandbox) -> None:
    with pytest.raises(SandboxError, match="not an image"):
        await sandbox.client.send_photo(USER, b"%PDF-1.4 not a picture")
