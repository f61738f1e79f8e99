"""The participant pages in a real browser, as a phone without Telegram opens them:
Playwright driving the system's Chromium at 360 x 740 with a WeChat-like user agent. Join
by the invite link, answer, reload in the middle and carry on, see the result; screenshots
of the join, question and result pages go to ``test-artifacts/screenshots/``
(``PUFA_TEST_ARTIFACTS=docs`` refreshes the ones in docs/screenshots/)."""

from __future__ import annotations

import os
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import async_playwright, expect

from bot.app import running_bot
from bot.config import Settings
from bot.sandbox.server import RunningSandbox
from quizzes.participants import Role
from storage.repositories import Repositories
from storage.unit_of_work import UnitOfWork
from tests.conftest import REDIS_URL
from tests.publicity_chat import Chat, chat
from tests.quiz_world import open_campaign
from tests.test_dashboard_browser import chromium, free_port, sandbox
from tests.test_web_participants import CLASS, pages_app

__all__ = ["chat", "sandbox"]  # the fixtures

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / os.environ.get("PUFA_TEST_ARTIFACTS", "test-artifacts") / "screenshots"
WECHAT = (
    "Mozilla/5.0 (Linux; Android 13; V2227A Build/TP1A.220624.014; wv) AppleWebKit/537.36"
    " (KHTML, like Gecko) Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160065"
    " MMWEBSDK/20231202 MMWEBID/2585 MicroMessenger/8.0.47.2560(0x28002F30) WeChat/arm64"
    " Weixin NetType/WIFI Language/zh_CN ABI/arm64"
)


async def right_positions(chat: Chat, attempt_id: int, seq: int) -> list[int]:
    async with chat.session_factory() as session:
        question = await UnitOfWork.over(session).attempts.question(attempt_id, seq)
        assert question is not None
        return [question.order.index(i) for i in sorted(question.question.correct)]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_phone_joins_answers_resumes_after_a_reload_and_sees_the_result(
    chat: Chat,
) -> None:
    campaign = await open_campaign(
        chat.session_factory, name="宪法卫士 2026", unit_ids=(chat.world.classes[CLASS].id,)
    )
    async with chat.session_factory() as session:
        invite = await Repositories.over(session).invites.active_for(
            chat.world.classes[CLASS].id, Role.STUDENT
        )
        await session.commit()
    server = TestServer(pages_app(chat), host="127.0.0.1")
    await server.start_server()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=chromium())
            try:
                context = await browser.new_context(
                    viewport={"width": 360, "height": 740},
                    device_scale_factor=2,
                    is_mobile=True,
                    has_touch=True,
                    user_agent=WECHAT,
                    java_script_enabled=False,  # the pages work without it
                )
                page = await context.new_page()
                sizes: list[int] = []
                page.on(
                    "response", lambda r: sizes.append(int(r.headers.get("content-length", 0)))
                )
                await page.goto(str(server.make_url(f"/m/join/{invite.code}")))
                assert sum(sizes) < 100_000  # the first page, its stylesheet included
                await expect(page.locator("h1")).to_have_text("加入班级")
                assert await page.evaluate("document.documentElement.scrollWidth") <= 360
                await page.screenshot(path=str(SCREENSHOTS / "m-join-phone.png"), full_page=True)
                await page.fill("#name", "小林")
                await page.click("button[type=submit]")
                code = await page.locator("#recovery-code").text_content()
                assert code is not None and len(code.strip()) == 6
                await page.click("a.button")
                await expect(page.locator(".campaign h2")).to_have_text(campaign.name)
                await page.click(".campaign button")
                attempt_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
                for seq in range(1, 6):
                    await expect(page.locator(".card .hint").first).to_contain_text(
                        f"第 {seq}/5 题"
                    )
                    if seq == 2:
                        await page.screenshot(
                            path=str(SCREENSHOTS / "m-question-phone.png"), full_page=True
                        )
                    if seq == 3:  # closed and opened again: the same question
                        await page.reload()
                        await expect(page.locator(".card .hint").first).to_contain_text(
                            "第 3/5 题"
                        )
                    for position in await right_positions(chat, attempt_id, seq):
                        await page.check(f"input[name=option][value='{position}']")
                    await page.click("button[type=submit]")
                await expect(page.locator(".score")).to_contain_text("得分 5/5")
                await expect(page.locator(".verdict")).to_contain_text("合格")
                await page.screenshot(path=str(SCREENSHOTS / "m-result-phone.png"), full_page=True)
            finally:
                await browser.close()
    finally:
        await server.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_running_bot_serves_the_participant_pages_in_polling_mode(
    sandbox: RunningSandbox, database_url: str
) -> None:
    settings = Settings(
        bot_token=sandbox.config.token,
        bot_api_url=sandbox.url,
        database_url=database_url,
        redis_url=REDIS_URL,
        listen_port=free_port(),
    )
    async with running_bot(settings, migrate=True):
        assert not settings.uses_webhook
        base = f"http://127.0.0.1:{settings.listen_port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/m/") as home:
                assert home.status == 200
                assert "班级邀请链接" in await home.text()
                assert home.headers["X-Frame-Options"] == "DENY"
            async with http.get(f"{base}/m/join/NOSUCHCODE123") as unknown:
                assert unknown.status == 404
            async with http.get(f"{base}/m/static/m.css") as style:
                assert style.status == 200
