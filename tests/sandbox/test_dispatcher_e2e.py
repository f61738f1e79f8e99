"""A real aiogram Dispatcher polling the sandbox, driven through the control API."""

from __future__ import annotations

import asyncio

from aiogram import Bot, Dispatcher, F
from aiogram.filters import CommandObject, CommandStart
from aiogram.methods import SendMessage
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    PollAnswer,
)
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from bot.sandbox.server import RunningSandbox

USER = 6006


async def test_polling_dispatcher_round_trip(bot: Bot, sandbox: RunningSandbox) -> None:
    dp = Dispatcher()
    poll_answers: list[PollAnswer] = []

    @dp.message(CommandStart())
    async def start(message: Message, command: CommandObject) -> None:
        keyboard = InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="开始答题", callback_data="go")]]
        )
        await message.answer(f"欢迎! 参数={command.args}", reply_markup=keyboard)

    @dp.callback_query(F.data == "go")
    async def go(query: CallbackQuery) -> None:
        await query.answer("好的")
        assert isinstance(query.message, Message)
        await query.message.edit_text("第1题")
        await bot.send_poll(
            query.from_user.id, "宪法日?", ["12月4日", "1月1日"], is_anonymous=False
        )

    @dp.poll_answer()
    async def answered(answer: PollAnswer) -> None:
        poll_answers.append(answer)
        assert answer.user is not None
        await bot.send_message(answer.user.id, f"你选了 {answer.option_ids}")

    task = asyncio.create_task(dp.start_polling(bot, polling_timeout=1, handle_signals=False))
    try:
        client = sandbox.client
        await client.send_text(USER, "/start class_129_7", first_name="学生")
        [welcome] = await client.wait_for_messages(USER, 1, timeout=5)
        assert welcome["text"] == "欢迎! 参数=class_129_7"

        query = await client.press_button(USER, welcome["message_id"], "开始答题")
        answer = await client.wait_for_callback_answer(query, timeout=5)
        assert answer["text"] == "好的"
        messages = await client.wait_for_messages(USER, 2, timeout=5)
        assert messages[0]["text"] == "第1题" and messages[0]["edit_count"] == 1
        assert messages[0]["reply_markup"] is None  # editing text without markup drops it
        poll = messages[1]["poll"]

        await client.answer_poll(USER, poll["id"], [0])
        messages = await client.wait_for_messages(USER, 3, timeout=5)
        assert messages[2]["text"] == "你选了 [0]"
        assert poll_answers[0].poll_id == poll["id"]
    finally:
        await dp.stop_polling()
        await asyncio.wait_for(task, 5)


async def test_poll_closes_when_open_period_ends(bot: Bot, sandbox: RunningSandbox) -> None:
    await sandbox.client.send_text(USER, "/start")
    msg = await bot.send_poll(USER, "q", ["a", "b"], open_period=5)
    assert msg.poll is not None and not msg.poll.is_closed
    await bot.get_updates(offset=-1)
    # fire the close timer now instead of waiting 5 seconds
    sandbox.sandbox._expire_poll(msg.poll.id)
    [update] = await bot.get_updates(offset=-1)
    assert update.poll is not None and update.poll.is_closed
    [view] = await sandbox.client.messages(USER)
    assert view["poll"]["is_closed"] is True


async def test_webhook_dispatcher_replies_in_response(bot: Bot, sandbox: RunningSandbox) -> None:
    """aiogram's webhook handler answering inside the HTTP response (multipart body)."""
    dp = Dispatcher()

    @dp.message()
    async def echo(message: Message) -> SendMessage:
        return message.answer(f"回声: {message.text}")

    app = web.Application()
    SimpleRequestHandler(dp, bot, handle_in_background=False, secret_token="abc").register(
        app, path="/wh"
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        await bot.set_webhook(f"http://{host}:{port}/wh", secret_token="abc")
        await sandbox.client.send_text(USER, "你好")
        [reply] = await sandbox.client.wait_for_messages(USER, 1, timeout=5)
        assert reply["text"] == "回声: 你好"
    finally:
        await bot.delete_webhook()
        await runner.cleanup()
