"""The dashboard's roster and reports pages in a real browser (Playwright driving the
system's Chromium): a roster upload with an error shows its row and column and imports
nothing; a good one is previewed, confirmed and imported; a report compiled from the page
reaches its download links by the page's own polling. Screenshots at desktop and phone
widths go to ``test-artifacts/screenshots/`` (``PUFA_TEST_ARTIFACTS=docs`` refreshes the
ones in docs/screenshots/)."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import async_playwright, expect
from sqlalchemy import func, select

from storage.models import UnitRow
from tests.publicity_chat import ADMIN, Chat, chat
from tests.test_dashboard import LINK
from tests.test_dashboard_browser import SCREENSHOTS, WAIT_MS, chromium, dashboard, phone_page
from tests.test_dashboard_reports import BAD_ROSTER, GOOD_ROSTER

__all__ = ["chat"]  # the fixture


async def _units(chat: Chat) -> int:
    async with chat.session_factory() as session:
        return int(await session.scalar(select(func.count()).select_from(UnitRow)) or 0)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_roster_upload_with_an_error_shows_the_row_in_a_browser(chat: Chat) -> None:
    before = await _units(chat)
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
                await desktop.get_by_role("link", name="导入名册").click()
                file = desktop.locator('input[name="file"]')
                await file.set_input_files(
                    {"name": "名册.csv", "mimeType": "text/csv", "buffer": BAD_ROSTER}
                )
                await desktop.get_by_role("button", name="上传并预览").click()
                problems = desktop.locator('[data-list="problems"] li')
                await expect(problems).to_have_count(1)
                await expect(problems).to_have_text(
                    "第 3 行，“学生人数”列：“四十五”不是数字，请填写不小于 0 的整数。"
                )
                assert await _units(chat) == before  # nothing imported
                await desktop.screenshot(
                    path=str(SCREENSHOTS / "dashboard-roster-error-desktop.png"), full_page=True
                )
                phone = await phone_page(browser, desktop, server.make_url("/admin/roster"))
                await phone.locator('input[name="file"]').set_input_files(
                    {"name": "名册.csv", "mimeType": "text/csv", "buffer": BAD_ROSTER}
                )
                await phone.get_by_role("button", name="上传并预览").click()
                await expect(phone.locator('[data-list="problems"] li')).to_contain_text("第 3 行")
                width = await phone.evaluate("document.documentElement.scrollWidth")
                assert width <= 360
                await phone.screenshot(
                    path=str(SCREENSHOTS / "dashboard-roster-error-phone.png"), full_page=True
                )

                # The corrected file: previewed, confirmed, imported.
                await desktop.locator('input[name="file"]').set_input_files(
                    {"name": "名册.csv", "mimeType": "text/csv", "buffer": GOOD_ROSTER}
                )
                await desktop.get_by_role("button", name="上传并预览").click()
                await expect(desktop.locator('[data-list="new_schools"] li')).to_have_text(
                    "新湖学校"
                )
                await desktop.screenshot(
                    path=str(SCREENSHOTS / "dashboard-roster-preview-desktop.png"),
                    full_page=True,
                )
                await desktop.get_by_role("button", name="确认导入").click()
                await expect(desktop.locator('[data-field="status"]')).to_have_text(
                    "名册已导入。", timeout=WAIT_MS
                )
                assert await _units(chat) == before + 1

                # A report from the page: its links arrive without a reload by hand.
                await desktop.goto(str(server.make_url("/admin/reports")))
                await desktop.get_by_role("button", name="生成报告").click()
                links = desktop.locator(".downloads a")
                await expect(links.first).to_have_text("工作报告（Word）", timeout=WAIT_MS)
                await desktop.screenshot(
                    path=str(SCREENSHOTS / "dashboard-report-desktop.png"), full_page=True
                )
                await desktop.get_by_role("link", name="← 返回统计报告").click()
                await expect(desktop.locator("table.history tbody tr")).to_have_count(1)
                await desktop.screenshot(
                    path=str(SCREENSHOTS / "dashboard-reports-desktop.png"), full_page=True
                )
            finally:
                await browser.close()
    finally:
        await server.close()
