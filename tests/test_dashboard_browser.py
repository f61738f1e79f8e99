"""The staff dashboard in a real browser: Playwright driving the system's Chromium (`make
test` installs it; browser downloads are not used). A login link from /web, the overview,
a figure that changes after an answer and reaches the page by its own polling, and
screenshots at desktop and phone widths, written to ``test-artifacts/screenshots/``
(``PUFA_TEST_ARTIFACTS=docs`` refreshes the ones in docs/screenshots/)."""

from __future__ import annotations

import os
import re
import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, async_playwright, expect
from sqlalchemy import func, select, update
from yarl import URL

from bot.app import running_bot
from bot.application.dashboard import login_key
from bot.config import Settings
from bot.sandbox.server import RunningSandbox, SandboxConfig, run_sandbox
from bot.web import Dashboard, add_dashboard_routes
from storage.models import ParticipantRow
from storage.models_class_reminders import ClassReminderRow
from storage.repositories import Repositories
from tests.conftest import REDIS_URL
from tests.publicity_chat import ADMIN, Chat, chat
from tests.publicity_factories import add_people
from tests.quiz_world import open_campaign
from tests.test_dashboard import LINK, answered
from tests.test_dashboard_campaign import bank_campaign, played, right

__all__ = ["chat"]  # the fixture

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / os.environ.get("PUFA_TEST_ARTIFACTS", "test-artifacts") / "screenshots"
# Generous: the page asks every second here; a slow machine still gets there in time.
WAIT_MS = 30_000


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:  # `make test` installs it; a bare pytest run without it says so
        pytest.fail(
            "Chromium is needed for the dashboard's browser test: apt-get install chromium"
        )
    return found


async def phone_page(browser: Browser, desktop: Page, url: URL) -> Page:
    """``url`` on a 360 px phone, signed in as the desktop page is."""
    context = await browser.new_context(
        viewport={"width": 360, "height": 740},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    phone = await context.new_page()
    await context.add_cookies(await desktop.context.cookies())
    await phone.goto(str(url))
    return phone


def dashboard(chat: Chat) -> web.Application:
    settings = chat.context.settings
    app = web.Application()
    add_dashboard_routes(
        app,
        Dashboard(
            chat.session_factory,
            chat.context.translator,
            settings.admin_ids,
            settings.admin_path,
            login_key(settings.token),
            settings.zone,
            poll_seconds=1,
        ),
    )
    return app


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_overview_in_a_browser_follows_the_answers(chat: Chat) -> None:
    first = chat.world.schools["胡杨河市第一中学"]
    other = chat.world.schools["一三一团中学"]
    await add_people(chat.session_factory, [5000, 5001, 5002], other.id)
    campaign = await open_campaign(chat.session_factory, name="宪法卫士 2026")
    for telegram_id, passed in ((3000, True), (5000, True), (5001, False)):
        await answered(chat.session_factory, campaign.id, telegram_id, passed=passed)
    async with chat.session_factory() as session:
        (root,) = await Repositories.over(session).units.roots()
    reply = await chat.say(ADMIN, "/web")
    found = LINK.search(reply)
    assert found is not None, reply
    server = TestServer(dashboard(chat), host="127.0.0.1")
    await server.start_server()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=chromium())
            try:
                desktop = await browser.new_page(viewport={"width": 1280, "height": 900})
                await desktop.goto(str(server.make_url(found.group(1))))
                assert desktop.url.endswith("/admin/")
                await expect(desktop.locator("h2.scope")).to_have_text(root.name)
                period = desktop.locator('[data-section="period"]')
                took_part = period.locator(f'tr[data-unit="{first.id}"] [data-field="took_part"]')
                await expect(took_part).to_have_text("1")
                await expect(period.locator(f'tr[data-unit="{other.id}"]')).not_to_have_class(
                    "low"
                )
                await desktop.screenshot(
                    path=str(SCREENSHOTS / "dashboard-overview-desktop.png"), full_page=True
                )

                # Another student answers: the open page shows it after its next poll.
                await answered(chat.session_factory, campaign.id, 3001, passed=True)
                await expect(took_part).to_have_text("2", timeout=WAIT_MS)
                total = period.locator('tr[data-unit="total"] [data-field="took_part"]')
                await expect(total).to_have_text("4", timeout=WAIT_MS)
                summary = desktop.locator(f'[data-section="c{campaign.id}"] .campaign-total')
                await expect(summary).to_contain_text("参与 4 人，完成 4 人，合格 3 人")

                # A coordinator's phone: the same page at 360 px, nothing cut off.
                phone = await phone_page(browser, desktop, server.make_url("/admin/"))
                await expect(phone.locator("h2.scope")).to_have_text(root.name)
                width = await phone.evaluate("document.documentElement.scrollWidth")
                assert width <= 360  # the tables scroll inside their box, not the page
                await phone.screenshot(
                    path=str(SCREENSHOTS / "dashboard-overview-phone.png"), full_page=True
                )
            finally:
                await browser.close()
    finally:
        await server.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_class_teacher_reminds_the_unfinished_students_from_the_class_page(
    chat: Chat,
) -> None:
    own = chat.world.classes["七年级1班"]
    await add_people(chat.session_factory, [4000], own.id, "teacher")
    await add_people(chat.session_factory, range(5100, 5106), own.id)
    names = ["小明", "小红", "阿依古丽", "浩然", "欣怡", "子轩", "梓涵", "雨桐"]
    async with chat.session_factory() as session:
        for telegram_id, name in zip((3000, 3001, *range(5100, 5106)), names, strict=True):
            await session.execute(
                update(ParticipantRow)
                .where(ParticipantRow.telegram_id == telegram_id)
                .values(display_name=name)
            )
        await session.execute(
            update(ParticipantRow)
            .where(ParticipantRow.telegram_id == 4000)
            .values(display_name="王老师")
        )
        await session.commit()
    campaign = await open_campaign(chat.session_factory, name="宪法卫士 2026")
    for telegram_id, passed in ((3000, True), (5100, True), (5101, False)):
        await answered(chat.session_factory, campaign.id, telegram_id, passed=passed)
    found = LINK.search(await chat.say(4000, "/web"))
    assert found is not None
    server = TestServer(dashboard(chat), host="127.0.0.1")
    await server.start_server()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=chromium())
            try:
                desktop = await browser.new_page(viewport={"width": 1280, "height": 900})
                await desktop.goto(str(server.make_url(found.group(1))))
                assert desktop.url.endswith(f"/admin/classes/{own.id}")  # the teacher's page
                await expect(desktop.locator('[data-list="not_started"] li')).to_have_count(5)
                await desktop.screenshot(
                    path=str(SCREENSHOTS / "dashboard-class-desktop.png"), full_page=True
                )
                await desktop.get_by_role("button", name="提醒未完成的同学").click()
                await expect(desktop.locator("#notice")).to_contain_text("提醒已发出")
                await expect(desktop.locator('[data-field="reminded"]')).to_contain_text(
                    "提醒 5 名同学"
                )
                await expect(desktop.get_by_role("button", name="提醒未完成的同学")).to_have_count(
                    0
                )
                await desktop.reload()  # the answer was a redirect: reloading sends nothing
                async with chat.session_factory() as session:
                    sent = await session.scalar(select(func.count()).select_from(ClassReminderRow))
                assert sent == 1

                phone_context = await browser.new_context(
                    viewport={"width": 360, "height": 740},
                    device_scale_factor=2,
                    is_mobile=True,
                    has_touch=True,
                )
                phone = await phone_context.new_page()
                await phone.context.add_cookies(await desktop.context.cookies())
                await phone.goto(str(server.make_url(f"/admin/classes/{own.id}")))
                await expect(phone.locator("h2.scope")).to_have_text("七年级1班")
                width = await phone.evaluate("document.documentElement.scrollWidth")
                assert width <= 360
                await phone.screenshot(
                    path=str(SCREENSHOTS / "dashboard-class-phone.png"), full_page=True
                )
            finally:
                await browser.close()
    finally:
        await server.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_campaign_page_shows_its_item_analysis(chat: Chat) -> None:
    far = chat.world.classes["三年级1班"]
    await add_people(chat.session_factory, range(4000, 4004), far.id)
    campaign = await bank_campaign(chat.session_factory)
    await played(chat.session_factory, campaign, 3000, right)
    await played(chat.session_factory, campaign, 3001, lambda s: 1, fast=True)
    for student, wrong_on in ((4000, "宪法日"), (4001, "宪法日"), (4002, "常委会"), (4003, "")):
        await played(
            chat.session_factory,
            campaign,
            student,
            lambda s, w=wrong_on: 2 if w and w in s else 0,
        )
    await chat.say(ADMIN, f"/top 3 {campaign.id}")
    found = LINK.search(await chat.say(ADMIN, "/web"))
    assert found is not None
    server = TestServer(dashboard(chat), host="127.0.0.1")
    await server.start_server()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=chromium())
            try:
                desktop = await browser.new_page(viewport={"width": 1280, "height": 900})
                await desktop.goto(str(server.make_url(found.group(1))))
                await desktop.get_by_role("link", name=campaign.name).click()
                assert desktop.url.endswith(f"/admin/campaigns/{campaign.id}")
                items = desktop.locator("#items tbody tr")
                await expect(items).to_have_count(4)
                await expect(items.first.locator("th")).to_have_text("国家宪法日是哪一天？")
                await expect(items.first.locator('[data-field="wrong"]')).to_contain_text(
                    "10月1日"
                )
                await expect(desktop.locator("#shortlist")).to_contain_text("由 p1 抽取")
                await desktop.screenshot(
                    path=str(SCREENSHOTS / "dashboard-campaign-desktop.png"), full_page=True
                )

                phone = await phone_page(
                    browser, desktop, server.make_url(f"/admin/campaigns/{campaign.id}")
                )
                await expect(phone.locator("h2.scope")).to_have_text(campaign.name)
                width = await phone.evaluate("document.documentElement.scrollWidth")
                assert width <= 360
                await phone.screenshot(
                    path=str(SCREENSHOTS / "dashboard-campaign-phone.png"), full_page=True
                )
            finally:
                await browser.close()
    finally:
        await server.close()


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    async with run_sandbox(SandboxConfig()) as running:
        yield running


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_running_bot_serves_the_dashboard_in_polling_mode(
    sandbox: RunningSandbox, database_url: str
) -> None:
    """The whole bot, long polling the sandbox: /web in the chat, the link it sends opens
    the dashboard on the bot's own web server."""
    admin = 7_000_001
    settings = Settings(
        bot_token=sandbox.config.token,
        bot_api_url=sandbox.url,
        database_url=database_url,
        redis_url=REDIS_URL,
        listen_port=free_port(),
        admin_ids=frozenset({admin}),
    )
    async with running_bot(settings, migrate=True):
        assert not settings.uses_webhook
        await sandbox.client.send_text(admin, "/web", first_name="局")
        (message,) = await sandbox.client.wait_for_messages(admin, 1)
        found = re.search(r"(http://127\.0\.0\.1:\d+/admin/login/\S+)", message["text"])
        assert found is not None, message["text"]
        # Cookies of an IP address host, as browsers keep them (aiohttp's default jar does not).
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get(found.group(1)) as page:  # follows the redirect
                assert page.status == 200
                assert page.url.path == "/admin/"
                assert "请先导入名单" in await page.text()  # no roster imported yet
            async with http.get(found.group(1), allow_redirects=False) as again:
                assert again.status == 410  # one use
