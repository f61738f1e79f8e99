"""A web account in a real browser (Playwright driving the system's Chromium): the login
form with a password, the overview it opens, the account page's QR code for TOTP
(drawn as inline SVG, which the pages' security policy lets through) and its password
change. Screenshots go to
``test-artifacts/screenshots/`` as the dashboard's do."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from argon2 import PasswordHasher
from playwright.async_api import async_playwright, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.application import staff_accounts
from bot.application.dashboard import login_key
from bot.application.staff_accounts import AccountKind, CreatedAccount, create_account
from bot.i18n import Translator
from bot.web import Dashboard, add_dashboard_routes
from storage.unit_of_work import UnitOfWork
from tests.factories import build_world
from tests.test_dashboard_browser import SCREENSHOTS, WAIT_MS, chromium

PASSWORD = "晨读宪法-2026-春"
NEW_PASSWORD = "法治校园-秋季-2026"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_password_login_in_a_browser_opens_the_overview(
    session_factory: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        staff_accounts, "PASSWORDS", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    await build_world(session_factory)
    now = datetime.now(UTC)
    async with session_factory() as session:
        uow = UnitOfWork.over(session)
        created = await create_account(
            uow,
            by=None,
            by_participant=None,
            display_name="周主任",
            login_name="zhou",
            kind=AccountKind.ADMIN,
            unit_id=None,
            now=now,
        )
        assert isinstance(created, CreatedAccount)
        (root,) = await uow.units.roots()
        await uow.commit()
    app = web.Application()
    add_dashboard_routes(
        app,
        Dashboard(
            session_factory,
            Translator.load(),
            (),
            "/admin",
            login_key("123456:TEST"),
            ZoneInfo("Asia/Shanghai"),
        ),
    )
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=chromium())
            try:
                page = await browser.new_page(viewport={"width": 1280, "height": 900})
                page.set_default_timeout(WAIT_MS)
                await page.goto(str(server.make_url(f"/admin/setup/{created.setup_token}")))
                await page.fill('input[name="password"]', PASSWORD)
                await page.fill('input[name="repeated"]', PASSWORD)
                await page.click('button[type="submit"]')
                await expect(page.locator("#notice")).to_contain_text("密码已设置")
                await page.screenshot(path=str(SCREENSHOTS / "dashboard-login-desktop.png"))
                await page.fill('input[name="login_name"]', "zhou")
                await page.fill('input[name="password"]', PASSWORD)
                await page.click('button[type="submit"]')
                await expect(page.locator("h2.scope")).to_have_text(root.name)
                assert page.url.endswith("/admin/")
                await page.click('a[href="/admin/account"]')
                await page.click('form[action="/admin/account/totp"] button')
                qr = page.locator("svg.qr")
                await expect(qr).to_be_visible()
                box = await qr.bounding_box()
                assert box is not None and box["width"] > 100
                await page.screenshot(path=str(SCREENSHOTS / "dashboard-account-totp-desktop.png"))
                await page.click('a[href="/admin/accounts"]')
                await expect(
                    page.locator('tr[data-login="zhou"] [data-field="status"]')
                ).to_have_text("正常")
                await page.screenshot(
                    path=str(SCREENSHOTS / "dashboard-accounts-desktop.png"), full_page=True
                )
                await page.click('a[href="/admin/account"]')
                changing = page.locator('form[action="/admin/account/password"]')
                await changing.locator('input[name="current"]').fill(PASSWORD)
                await changing.locator('input[name="password"]').fill(NEW_PASSWORD)
                await changing.locator('input[name="repeated"]').fill(NEW_PASSWORD)
                await changing.locator("button").click()
                await expect(page.locator("#notice")).to_contain_text("密码已修改")
                await expect(page.locator("header .who")).to_contain_text("周主任")
                await page.set_viewport_size({"width": 390, "height": 844})
                await page.screenshot(
                    path=str(SCREENSHOTS / "dashboard-account-phone.png"), full_page=True
                )
            finally:
                await browser.close()
    finally:
        await server.close()
