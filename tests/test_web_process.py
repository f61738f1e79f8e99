"""A process for the web pages alone (``PUFA_RECEIVE_UPDATES=false``): it serves the
dashboard and the participant pages from the same database while another process answers
the chat, and takes no update itself (Telegram allows one poller per bot)."""

from __future__ import annotations

import gc

import aiohttp
import pytest

from bot.app import running_bot
from bot.config import Settings
from bot.sandbox.server import RunningSandbox
from tests.conftest import REDIS_URL
from tests.test_dashboard_browser import free_port, sandbox

__all__ = ["sandbox"]  # the fixture


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_web_process_serves_the_pages_beside_the_chat_and_takes_no_update(
    sandbox: RunningSandbox, database_url: str
) -> None:
    def settings(*, receive_updates: bool) -> Settings:
        return Settings(
            bot_token=sandbox.config.token,
            bot_api_url=sandbox.url,
            database_url=database_url,
            redis_url=REDIS_URL,
            listen_port=free_port(),
            receive_updates=receive_updates,
        )

    pages = settings(receive_updates=False)
    client = sandbox.client
    async with running_bot(pages, migrate=True):
        assert gc.get_freeze_count() > 0  # what start-up made is out of the collector's sight
        base = f"http://127.0.0.1:{pages.listen_port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/m/") as home:
                assert home.status == 200 and "班级邀请链接" in await home.text()
            async with http.get(f"{base}/admin/") as dashboard:
                assert dashboard.status == 401  # the sign-in page: served, nobody signed in
        calls = (await client.stats())["calls"]
        assert not {"getUpdates", "setWebhook", "deleteWebhook", "setMyCommands"} & set(calls)
        async with running_bot(settings(receive_updates=True), migrate=False):
            await client.send_text(5001, "/start")
            replies = await client.wait_for_messages(5001, 1)  # the chat's process answers
            assert replies
        calls = (await client.stats())["calls"]
        assert calls.get("getUpdates", 0) > 0 and "setWebhook" not in calls
