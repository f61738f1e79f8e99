"""The Mini App in a real browser, as Telegram's phone app opens it: Chromium at 360 px,
the page's address carrying the launch data the sandbox signed (``#tgWebAppData=``),
the pages' own CSP (the script is a static file). The script hands the data to the
server, and the chat's student lands on the campaign and answers it; opened outside
Telegram, the page says where to open it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Page, async_playwright, expect

from bot.sandbox.config import SandboxConfig
from bot.sandbox.server import RunningSandbox, run_sandbox
from tests.publicity_chat import Chat, chat
from tests.quiz_world import open_campaign
from tests.test_dashboard_browser import chromium
from tests.test_mini_app import STUDENT, mini_app
from tests.test_web_participants import CLASS

__all__ = ["chat"]  # the fixture

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
async def phone(url: str, events: list[str] | None = None) -> AsyncIterator[Page]:
    """``url`` on a phone; with ``events``, in Telegram's web view, which records what
    the page posts to Telegram."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium())
        try:
            context = await browser.new_context(
                viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True
            )
            if events is not None:
                await context.expose_function("telegramEvent", lambda name: events.append(name))
                await context.add_init_script(WEBVIEW)
            page = await context.new_page()
            await page.goto(url)
            yield page
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
        # As Telegram opens a web_app button's address: its data after the '#'.
        fragment = f"tgWebAppData={quote(init_data, safe='')}&tgWebAppVersion=8.0"
        url = str(server.make_url(f"/m/app?campaign={campaign.id}")) + f"#{fragment}"
        events: list[str] = []
        async with phone(url, events) as page:
            section = page.locator(f"#campaign-{campaign.id}")
            await expect(section.locator("h2")).to_have_text(campaign.name)
            assert events == ["web_app_ready", "web_app_expand"]
            await section.locator("button").click()
            await expect(page.locator(".card .hint").first).to_contain_text("第 1/5 题")
    finally:
        await server.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_outside_telegram_the_page_says_where_to_open_it(chat: Chat) -> None:
    server = TestServer(mini_app(chat), host="127.0.0.1")
    await server.start_server()
    try:
        async with phone(str(server.make_url("/m/app"))) as page:
            await expect(page.locator("#mini-app-outside")).to_be_visible()
            await expect(page.locator("#mini-app-wait")).to_be_hidden()
    finally:
        await server.close()
