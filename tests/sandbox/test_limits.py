"""Telegram's sending limits: per chat, global, per group; 429 with retry_after."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from aiogram.exceptions import TelegramRetryAfter
from aiogram.types import InlineKeyboardMarkup

from tests.sandbox.conftest import SandboxFactory

ONE_BUTTON = InlineKeyboardMarkup.model_validate(
    {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
)
LOOSE_GLOBAL = {"global_burst": 10_000, "global_per_s": 10_000.0}


async def test_per_chat_limit_429(sandbox_with: SandboxFactory) -> None:
    async with sandbox_with(per_chat_per_s=1.0, per_chat_burst=2, **LOOSE_GLOBAL) as (sb, bot):
        await sb.client.send_text(1, "/start")
        await bot.send_message(1, "a")
        await bot.send_message(1, "b")
        with pytest.raises(TelegramRetryAfter) as caught:
            await bot.send_message(1, "c")
        assert caught.value.retry_after == 1
        assert "Too Many Requests: retry after 1" in str(caught.value)

        # raw response: status, description and parameters exactly like Telegram
        url = f"{sb.url}/bot{sb.config.token}/sendMessage"
        async with (
            aiohttp.ClientSession() as http,
            http.post(url, data={"chat_id": "1", "text": "d"}) as resp,
        ):
            assert resp.status == 429
            assert await resp.json() == {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 1",
                "parameters": {"retry_after": 1},
            }
        # another chat is not affected
        await sb.client.send_text(2, "/start")
        await bot.send_message(2, "other chat")
        stats = await sb.client.stats()
        assert stats["status_429"] == 2
        assert stats["messages_sent"] == 3
        assert stats["calls"]["sendMessage"] == 5


async def test_rejected_requests_do_not_consume(sandbox_with: SandboxFactory) -> None:
    async with sandbox_with(per_chat_per_s=10.0, per_chat_burst=1, **LOOSE_GLOBAL) as (sb, bot):
        await sb.client.send_text(1, "/start")
        await bot.send_message(1, "ok")
        for _ in range(5):
            with pytest.raises(TelegramRetryAfter):
                await bot.send_message(1, "too fast")
        await asyncio.sleep(0.15)  # one token refilled; the 5 rejections took none
        await bot.send_message(1, "ok again")
        assert [m["text"] for m in await sb.client.messages(1)] == ["ok", "ok again"]


async def test_edits_and_answers_are_not_limited(sandbox_with: SandboxFactory) -> None:
    async with sandbox_with(per_chat_per_s=0.1, per_chat_burst=1, **LOOSE_GLOBAL) as (sb, bot):
        await sb.client.send_text(1, "/start")
        msg = await bot.send_message(1, "q", reply_markup=ONE_BUTTON)
        with pytest.raises(TelegramRetryAfter) as caught:
            await bot.send_message(1, "x")
        assert caught.value.retry_after == 10
        for i in range(5):
            await bot.edit_message_text(f"v{i}", chat_id=1, message_id=msg.message_id)
        query = await sb.client.press(1, msg.message_id, "a", forge=True)
        assert await bot.answer_callback_query(query)
        assert await bot.send_chat_action(1, "typing")


async def test_global_limit(sandbox_with: SandboxFactory) -> None:
    async with sandbox_with(per_chat_burst=100, global_per_s=2.0, global_burst=3) as (sb, bot):
        for user in range(1, 5):
            await sb.client.send_text(user, "/start")
        for user in range(1, 4):
            await bot.send_message(user, "broadcast")
        with pytest.raises(TelegramRetryAfter) as caught:
            await bot.send_message(4, "broadcast")
        assert caught.value.retry_after == 1


async def test_group_limit_per_minute(sandbox_with: SandboxFactory) -> None:
    async with sandbox_with(per_chat_burst=100, group_per_minute=3, **LOOSE_GLOBAL) as (sb, bot):
        await sb.client.create_group(-500, "家长群")
        for i in range(3):
            await bot.send_message(-500, f"通知{i}")
        with pytest.raises(TelegramRetryAfter) as caught:
            await bot.send_message(-500, "one too many")
        assert caught.value.retry_after == 20  # 3 per minute: a token every 20 s
        # private chats are not affected by the group bucket
        await sb.client.send_text(9, "/start")
        await bot.send_message(9, "fine")


async def test_default_group_limit_is_20_per_minute(sandbox_with: SandboxFactory) -> None:
    async with sandbox_with(per_chat_burst=100, **LOOSE_GLOBAL) as (sb, bot):
        await sb.client.create_group(-600, "班级群")
        for i in range(20):
            await bot.send_message(-600, f"m{i}")
        with pytest.raises(TelegramRetryAfter) as caught:
            await bot.send_message(-600, "21st")
        assert caught.value.retry_after == 3


async def test_limits_can_be_lifted(sandbox_with: SandboxFactory) -> None:
    async with sandbox_with(enforce_limits=False, per_chat_burst=1, global_burst=1) as (sb, bot):
        await sb.client.send_text(1, "/start")
        for i in range(50):
            await bot.send_message(1, f"m{i}")
        await sb.client.set_limits(enforce_limits=True)
        await bot.send_message(1, "first token")
        with pytest.raises(TelegramRetryAfter):
            await bot.send_message(1, "limited again")
        limits = await sb.client.set_limits(enforce_limits=False, latency_ms=5)
        assert limits["latency_ms"] == 5.0
        await bot.send_message(1, "free")
        assert sb.config.latency_ms == 5.0


async def test_latency_is_added_to_bot_api_calls(sandbox_with: SandboxFactory) -> None:
    async with sandbox_with(latency_ms=150) as (sb, bot):
        started = time.monotonic()
        await bot.get_me()
        assert time.monotonic() - started >= 0.15
        started = time.monotonic()
        await sb.client.stats()  # the control API is not slowed down
        assert time.monotonic() - started < 0.15
