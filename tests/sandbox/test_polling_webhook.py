"""Long polling, offsets, conflicts, and webhook delivery."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramConflictError
from aiogram.types import InlineKeyboardMarkup, Update
from aiohttp import web

from bot.sandbox.server import RunningSandbox

ONE_BUTTON = InlineKeyboardMarkup.model_validate(
    {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
)
USER = 3003


async def test_long_poll_waits_and_wakes(bot: Bot, sandbox: RunningSandbox) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == []
    assert time.monotonic() - started >= 0.9  # really waited

    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.2)
    assert not poll.done()
    started = time.monotonic()
    sent = await sandbox.client.send_text(USER, "你好")
    result = await asyncio.wait_for(poll, 2)
    assert time.monotonic() - started < 1.0  # woken by the update, not by the timeout
    assert [u.update_id for u in result] == [sent.update_id]


async def test_offset_confirms_and_limit(bot: Bot, sandbox: RunningSandbox) -> None:
    sent = [await sandbox.client.send_text(USER, f"m{i}") for i in range(5)]
    ids = [s.update_id for s in sent]
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert [u.update_id for u in await bot.get_updates(limit=2)] == ids[:2]
    # unconfirmed updates come again
    assert [u.update_id for u in await bot.get_updates()] == ids
    assert [u.update_id for u in await bot.get_updates(offset=ids[3])] == ids[3:]
    # earlier updates are gone for good
    assert [u.update_id for u in await bot.get_updates(offset=0)] == ids[3:]
    assert await bot.get_updates(offset=ids[-1] + 1) == []


async def test_allowed_updates_honoured(bot: Bot, sandbox: RunningSandbox) -> None:
    await sandbox.client.send_text(USER, "/start")
    msg = await bot.send_message(USER, "q", reply_markup=ONE_BUTTON)
    await sandbox.client.press(USER, msg.message_id, "a")
    only_callbacks = await bot.get_updates(allowed_updates=["callback_query"])
    assert [u.event_type for u in only_callbacks] == ["callback_query"]
    everything = await bot.get_updates(allowed_updates=[])
    assert [u.event_type for u in everything] == ["message", "callback_query"]


async def test_concurrent_poll_conflict(bot: Bot, sandbox: RunningSandbox) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.2)
    second = asyncio.create_task(bot.get_updates(timeout=10))
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
        await asyncio.wait_for(first, 2)
    sent = await sandbox.client.send_text(USER, "still served")
    result = await asyncio.wait_for(second, 2)
    assert [u.update_id for u in result] == [sent.update_id]


class Receiver:
    """A tiny webhook endpoint that records what it receives."""

    def __init__(self, fail_first: int = 0) -> None:
        self.received: list[dict[str, Any]] = []
        self.secrets: list[str | None] = []
        self.fail_first = fail_first
        self.arrived = asyncio.Event()
        self.reply: dict[str, Any] | None = None

    async def handle(self, request: web.Request) -> web.Response:
        if self.fail_first > 0:
            self.fail_first -= 1
            return web.Response(status=500)
        self.received.append(await request.json())
        self.secrets.append(request.headers.get("X-Telegram-Bot-Api-Secret-Token"))
        self.arrived.set()
        if self.reply is not None:
            return web.json_response(self.reply)
        return web.json_response({})

    async def wait_for(self, count: int, timeout: float = 5.0) -> None:
        async def loop() -> None:
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(loop(), timeout)


@pytest.fixture
async def receiver() -> Any:
    rec = Receiver(fail_first=1)
    app = web.Application()
    app.router.add_post("/hook", rec.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield rec, f"http://{host}:{port}/hook"
    await runner.cleanup()


async def test_webhook_delivery(
    bot: Bot, sandbox: RunningSandbox, receiver: tuple[Receiver, str]
) -> None:
    rec, url = receiver
    early = await sandbox.client.send_text(USER, "before the webhook")
    with pytest.raises(TelegramBadRequest, match="secret token contains unallowed characters"):
        await bot.set_webhook(url, secret_token="bad secret!")
    assert await bot.set_webhook(url, secret_token="s3cr3t_-X")
    info = await bot.get_webhook_info()
    assert info.url == url

    with pytest.raises(TelegramConflictError, match="can't use getUpdates method while webhook"):
        await bot.get_updates()

    later = [await sandbox.client.send_text(USER, f"m{i}") for i in range(3)]
    await rec.wait_for(4)  # the first POST failed (500) and was retried
    assert [u["update_id"] for u in rec.received] == [early.update_id] + [
        s.update_id for s in later
    ]
    assert set(rec.secrets) == {"s3cr3t_-X"}
    for body in rec.received:
        Update.model_validate(body)
    info = await bot.get_webhook_info()
    assert info.pending_update_count == 0
    assert info.last_error_message is not None and "500" in info.last_error_message

    # a method returned in the webhook response is executed
    rec.reply = {"method": "sendMessage", "chat_id": USER, "text": "回复"}
    await sandbox.client.send_text(USER, "reply please")
    [view] = await sandbox.client.wait_for_messages(USER, 1, timeout=5)
    assert view["text"] == "回复"

    assert await bot.delete_webhook()
    sent = await sandbox.client.send_text(USER, "polling again")
    assert [u.update_id for u in await bot.get_updates()] == [sent.update_id]
