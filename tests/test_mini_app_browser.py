"""The Mini App in a real browser, as Telegram's phone app opens it: Chromium at 360 px,
the page's address carrying the launch data the sandbox signed (``#tgWebAppData=``),
the pages' own CSP (the script is a static file). The script hands the data to the
server, and the chat's student lands on the campaign and answers it; opened outside
Telegram, the page says where to open it. The running bot serves it, checking the
launch data against its own token."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Page, async_playwright, expect

from bot.app import running_bot
from bot.config import Settings
from bot.sandbox.config import SandboxConfig
from bot.sandbox.server import RunningSandbox, run_sandbox
from tests.conftest import REDIS_URL
from tests.publicity_chat import Chat, chat
from tests.quiz_world import open_campaign
from tests.test_dashboard_browser import chromium, free_port, sandbox
from tests.test_mini_app import STRANGER, STUDENT, mini_app
from tests.test_web_participants import CLASS, FORM_TOKEN

__all__ = ["chat", "sandbox"]  # the fixtures

# Telegram's phone app: what its web view offers a page; the events reach the test.
WEBVIEW = """
window.TelegramWebviewProxy = {
  postEvent: function (name, data) { window.telegramEvent(name); }
};
"""


@pytest.fixture
async def telegram(chat: Chat) -> AsyncIterator[RunningSandbox]:
    async with run_sandbox(SandboxConfig(token=chat.context.settings.token)) as running:
        yield running


@contextlib.asynccontextmanager
async def phones() -> AsyncIterator[Callable[[list[str] | None], Awaitable[Page]]]:
    """Pages on a phone; given a list, in Telegram's web view, which records there what
    the page posts to Telegram."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium())

        async def phone(events: list[str] | None) -> Page:
            context = await browser.new_context(
                viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True
            )
            if events is not None:
                await context.expose_function("telegramEvent", lambda name: events.append(name))
                await context.add_init_script(WEBVIEW)
            return await context.new_page()

        try:
            yield phone
        finally:
            await browser.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_mini_app_signs_the_student_in_and_the_quiz_opens(
    chat: Chat, telegram: RunningSandbox
) -> None:
    campaign = await open_campaign(
        chat.session_factory, name="宪法卫士 2026", unit_ids=(chat.world.classes[CLASS].id,)
    )
    init_data = await telegram.client.web_app_init_data(STUDENT)
    server = TestServer(mini_app(chat), host="127.0.0.1")
    await server.start_server()
    try:
        async with phones() as phone:
            # Outside Telegram: nothing to sign in with, and the page says where to go.
            page = await phone(None)
            await page.goto(str(server.make_url("/m/app")))
            await expect(page.locator("#mini-app-outside")).to_be_visible()
            await expect(page.locator("#mini-app-wait")).to_be_hidden()
            # As Telegram opens a web_app button's address: its data after the '#'.
            fragment = f"tgWebAppData={quote(init_data, safe='')}&tgWebAppVersion=8.0"
            url = str(server.make_url(f"/m/app?campaign={campaign.id}")) + f"#{fragment}"
            events: list[str] = []
            page = await phone(events)
            await page.goto(url)
            section = page.locator(f"#campaign-{campaign.id}")
            await expect(section.locator("h2")).to_have_text(campaign.name)
            assert events == ["web_app_ready", "web_app_expand"]
            await section.locator("button").click()
            await expect(page.locator(".card .hint").first).to_contain_text("第 1/5 题")
    finally:
        await server.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_running_bot_serves_the_mini_app_under_its_own_token(
    sandbox: RunningSandbox, database_url: str
) -> None:
    settings = Settings(
        bot_token=sandbox.config.token,
        bot_api_url=sandbox.url,
        database_url=database_url,
        redis_url=REDIS_URL,
        listen_port=free_port(),
    )
    launch = await sandbox.client.web_app_init_data(STRANGER)
    async with running_bot(settings, migrate=True):
        base = f"http://127.0.0.1:{settings.listen_port}/m"
        # The form's token is also a cookie: kept for a numeric host too.
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get(f"{base}/app") as page:
                assert page.status == 200
                token = FORM_TOKEN.search(await page.text())
                assert token is not None
            form = {"form_token": token.group(1), "init_data": launch}
            async with http.post(f"{base}/app/login", data=form) as login:
                assert "你还没有在 Telegram 中完成注册" in await login.text()
            async with http.get(f"{base}/static/mini-app.js") as script:
                assert script.status == 200
