"""More of the participant pages in a real browser (Chromium at 360 px, the WeChat-like
user agent, JavaScript off), each outcome checked in the database:

- the back button after an answer shows the current question (the pages are never
  kept); an answered question's form sent again (from a web view that kept the page
  anyway) or twice (a tap the network repeated) gets a clear notice and changes nothing;
- a second device without the cookie continues the same attempt with the recovery code,
  the first device's answers kept, and the report counts one person on the web;
- an article opened twice is one read, a link preview's fetch without the cookie none;
  a check-in pressed twice is one; the report counts the web participant once, apart
  from the chat's people.

One browser per test (each test has its own database, which a browser shared by the
module would outlive); the scenarios are grouped to keep launches few. Screenshots of the
article and check-in pages go where the other browser test puts its own
(``PUFA_TEST_ARTIFACTS=docs`` refreshes docs/screenshots/)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import BrowserContext, Locator, Page, Route, async_playwright, expect
from sqlalchemy import func, select

from bot.application.reports import participation_figures
from bot.views.publicity import CheckinCb, ReadCb
from quizzes.participants import Role
from quizzes.permissions import Permissions
from quizzes.statistics import Period, Statistics, UnitFigures
from storage.models_quiz import AttemptRow
from storage.repositories import Repositories
from storage.unit_of_work import UnitOfWork
from tests.publicity_chat import Chat, chat
from tests.quiz_world import open_campaign
from tests.test_dashboard_browser import chromium
from tests.test_web_participants import CLASS, SCHOOL, MovedClock, Site, pages_app
from tests.test_web_participants_browser import SCREENSHOTS, WECHAT, right_positions
from tests.test_web_participants_more import check_ins, in_class, lecture, publish, reads

__all__ = ["chat"]  # the fixture

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

Phones = Callable[..., Awaitable[BrowserContext]]
# What a chat app's server sends when it fetches a pasted link to draw its preview.
PREVIEW_AGENT = "TelegramBot (like TwitterBot)"
STALE = "这道题已经作答过了，下面是当前的题目。"  # what a form for an answered question gets


@contextlib.asynccontextmanager
async def pages(chat: Chat) -> AsyncIterator[tuple[TestServer, Phones, list[str]]]:
    """The participant pages on a local port, a maker of phones (a browser context each:
    its own cookies, as another device), and the paths of the forms posted to them."""
    app = pages_app(chat)
    posts: list[str] = []

    @web.middleware
    async def count(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.method == "POST":
            posts.append(request.path)
        return await handler(request)

    app.middlewares.append(count)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=chromium())

            async def phone(user_agent: str = WECHAT) -> BrowserContext:
                return await browser.new_context(
                    viewport={"width": 360, "height": 740},
                    device_scale_factor=2,
                    is_mobile=True,
                    has_touch=True,
                    user_agent=user_agent,
                    java_script_enabled=False,  # the pages work without it
                )

            try:
                yield server, phone, posts
            finally:
                await browser.close()
    finally:
        await server.close()


async def invite_code(chat: Chat) -> str:
    async with chat.session_factory() as session:
        found = await Repositories.over(session).invites.active_for(
            chat.world.classes[CLASS].id, Role.STUDENT
        )
        await session.commit()
    return found.code


async def join(page: Page, server: TestServer, chat: Chat, name: str) -> str:
    """Join the class on ``page``; the recovery code the page shows once."""
    await page.goto(str(server.make_url(f"/m/join/{await invite_code(chat)}")))
    await page.fill("#name", name)
    await page.click("button[type=submit]")
    code = await page.locator("#recovery-code").text_content()
    assert code is not None and len(code.strip()) == 6
    await page.click("a.button")
    await expect(page.locator(".who")).to_have_text(f"你好，{name}")
    return code.strip()


async def answered(chat: Chat, attempt_id: int, seq: int) -> tuple[frozenset[int], float | None]:
    """What the database keeps of question ``seq``: the options chosen and its points."""
    async with chat.session_factory() as session:
        question = await UnitOfWork.over(session).attempts.question(attempt_id, seq)
        assert question is not None
        return frozenset(question.chosen or ()), question.points


async def standing(chat: Chat, attempt_id: int) -> tuple[float, int, bool]:
    async with chat.session_factory() as session:
        attempt = await UnitOfWork.over(session).attempts.get(attempt_id)
        assert attempt is not None
        return attempt.points, attempt.current_seq, attempt.finished


def hint(page: Page) -> Locator:
    """The line above a question: the campaign, which question of how many, its kind."""
    return page.locator(".card .hint").first


async def choose(page: Page, positions: list[int]) -> None:
    for position in positions:
        await page.check(f"input[name=option][value='{position}']")


async def wrong_positions(chat: Chat, attempt_id: int, seq: int) -> list[int]:
    right = await right_positions(chat, attempt_id, seq)
    return [next(p for p in range(4) if p not in right)]


async def school_total(chat: Chat) -> Statistics:
    today = datetime.now(UTC).date()
    figures = await participation_figures(
        chat.session_factory,
        chat.world.schools[SCHOOL],
        Period(today - timedelta(days=1), today + timedelta(days=1)),
        viewer=Permissions(is_admin=True),
        zone=chat.context.settings.zone,
        total_name="合计",
    )
    assert isinstance(figures, Statistics)
    return figures


def people(total: UnitFigures) -> tuple[int, int, int, int, int]:
    return (
        total.registered.total,
        total.took_part.total,
        total.passed,
        total.registered_on_web,
        total.took_part_on_web,
    )


async def test_old_and_doubled_forms_change_nothing_and_a_second_device_carries_on(
    chat: Chat,
) -> None:
    before = people((await school_total(chat)).total)
    campaign = await open_campaign(
        chat.session_factory, name="宪法卫士 2026", unit_ids=(chat.world.classes[CLASS].id,)
    )
    async with pages(chat) as (server, phone, posts):
        page = await (await phone()).new_page()
        recovery = await join(page, server, chat, "小林")
        await page.click(f"#campaign-{campaign.id} button")
        await expect(hint(page)).to_contain_text("第 1/5 题")
        here = page.url
        attempt_id = int(here.rstrip("/").rsplit("/", 1)[1])
        old_form = await page.content()
        await choose(page, await right_positions(chat, attempt_id, 1))
        await page.click("button[type=submit]")
        await expect(hint(page)).to_contain_text("第 2/5 题")
        first = await answered(chat, attempt_id, 1)
        assert first[1] == 1.0 and await standing(chat, attempt_id) == (1.0, 2, False)

        # Back: the pages are not kept (no-store), so the browser asks again and gets
        # the question the attempt is at, not the answered one's form.
        await page.go_back()
        await expect(hint(page)).to_contain_text("第 2/5 题")
        await page.go_forward()

        # A web view that keeps the old page all the same: back shows question 1's form,
        # answered again (wrong this time) and sent.
        async def kept(route: Route) -> None:
            if route.request.method == "GET":
                await route.fulfill(body=old_form, content_type="text/html; charset=utf-8")
            else:
                await route.continue_()

        await page.route(here, kept, times=1)
        await page.go_back()
        await expect(hint(page)).to_contain_text("第 1/5 题")
        await choose(page, await wrong_positions(chat, attempt_id, 1))
        await page.click("button[type=submit]")
        await expect(hint(page)).to_contain_text("第 2/5 题")
        await expect(page.locator(".notice")).to_have_text(STALE)
        assert await answered(chat, attempt_id, 1) == first
        assert await standing(chat, attempt_id) == (1.0, 2, False)

        # The same form sent twice (a tap the network repeated): both reach the server,
        # the second is refused and the phone is shown what it says.
        async def twice(route: Route) -> None:
            await route.fetch(max_redirects=0)
            await route.fulfill(response=await route.fetch(max_redirects=0))

        await page.route(here, twice, times=1)
        await choose(page, await right_positions(chat, attempt_id, 2))
        sent = len(posts)
        await page.click("button[type=submit]")
        await expect(hint(page)).to_contain_text("第 3/5 题")
        assert posts[sent:] == [f"/m/attempts/{attempt_id}"] * 2
        await expect(page.locator(".notice")).to_have_text(STALE)
        second = await answered(chat, attempt_id, 2)
        assert second[1] == 1.0 and await standing(chat, attempt_id) == (2.0, 3, False)

        # Another phone, no cookie: the recovery code opens the same participant, and
        # the quiz goes on where the first phone left it.
        other = await (await phone()).new_page()
        await other.goto(str(server.make_url("/m/")))
        await other.click("a[href$='/recover']")
        await other.fill("#code", f"{recovery[:3].lower()} {recovery[3:]}")  # as typed
        await other.click("button[type=submit]")
        await expect(other.locator(".who")).to_have_text("你好，小林")
        await expect(other.locator(f"#campaign-{campaign.id} button")).to_have_text("继续答题")
        await other.click(f"#campaign-{campaign.id} button")
        await expect(other).to_have_url(here)  # the same attempt, not a new one
        for seq in range(3, 6):
            await expect(hint(other)).to_contain_text(f"第 {seq}/5 题")
            await choose(other, await right_positions(chat, attempt_id, seq))
            await other.click("button[type=submit]")
        await expect(other.locator(".score")).to_contain_text("得分 5/5")
        # The first phone's answers are kept, and it sees the same result.
        assert await answered(chat, attempt_id, 1) == first
        assert await answered(chat, attempt_id, 2) == second
        await page.goto(here)
        await expect(page.locator(".score")).to_contain_text("得分 5/5")
    async with chat.session_factory() as session:
        attempts = await session.scalar(
            select(func.count()).where(AttemptRow.campaign_id == campaign.id)
        )
    assert attempts == 1
    # One person, one attempt, passed; all of it on the web.
    after = people((await school_total(chat)).total)
    assert after == (before[0] + 1, before[1] + 1, before[2] + 1, 1, 1)


def figures_of(statistics: Statistics, lecture_id: int) -> tuple[int, ...]:
    total = statistics.total
    (held,) = [held for held in statistics.lectures if held.lecture_id == lecture_id] or [None]
    return (
        total.registered.total,
        total.registered_on_web,
        total.took_part_on_web,
        total.reads,
        total.lecture_checkins,
        total.lecture_attendees.total,
        held.checkins if held is not None else 0,
    )


async def test_an_article_read_and_a_check_in_on_the_pages_count_once(chat: Chat) -> None:
    site = Site(chat, no_client, MovedClock())
    article = await publish(
        site,
        "宪法宣传周：尊崇宪法、学习宪法",
        in_class(site),
        body="<b>宪法是国家的根本法</b>，是治国安邦的总章程。\n每年 12 月 4 日是国家宪法日。",
    )
    running = await lecture(site, in_class(site), starts_in=timedelta(minutes=-5))
    before = figures_of(await school_total(chat), running)
    # Someone of the class in the chat reads it and checks in there.
    await chat.press(3000, ReadCb(article=article).pack())
    await chat.press(3000, CheckinCb(lecture=running).pack())
    assert (await reads(site, article), await check_ins(site, running)) == (1, 1)
    async with pages(chat) as (server, phone, _posts):
        address = str(server.make_url(f"/m/articles/{article}"))
        # The link pasted into a chat: the app's server fetches it for a preview, with
        # no cookie of anyone's. It gets the signed-out page, and nobody has read it.
        preview = await (await phone(user_agent=PREVIEW_AGENT)).new_page()
        await preview.goto(address)
        await expect(preview.locator("main")).to_contain_text("班级邀请链接")
        await expect(preview.locator("main")).not_to_contain_text("根本法")
        assert await reads(site, article) == 1
        page = await (await phone()).new_page()
        await join(page, server, chat, "小周")
        await page.click(f"a[href='/m/articles/{article}']")
        await expect(page.locator("h1")).to_have_text("宪法宣传周：尊崇宪法、学习宪法")
        await expect(page.locator(".body b")).to_have_text("宪法是国家的根本法")
        assert await page.evaluate("document.documentElement.scrollWidth") <= 360
        await page.screenshot(path=str(SCREENSHOTS / "m-article-phone.png"), full_page=True)
        assert await reads(site, article) == 2
        await page.click("text=返回首页")
        await page.click(f"a[href='/m/articles/{article}']")  # opened again
        await page.reload()
        await expect(page.locator("h1")).to_have_text("宪法宣传周：尊崇宪法、学习宪法")
        assert await reads(site, article) == 2  # the chat's reader and this phone, once
        await page.goto(str(server.make_url("/m/")))
        stale = await page.context.new_page()  # a second tab, open before the check-in
        await stale.goto(str(server.make_url("/m/")))
        checkin = page.locator(".lecture button")
        await expect(checkin).to_have_text("签到")
        await checkin.click()
        await expect(page.locator(".notice")).to_have_text("签到成功，谢谢参加！")
        # The card says so instead of offering the button again.
        await expect(page.locator(".lecture .done")).to_contain_text("已签到（")
        await expect(page.locator(".lecture button")).to_have_count(0)
        assert await page.evaluate("document.documentElement.scrollWidth") <= 360
        await page.screenshot(path=str(SCREENSHOTS / "m-checkin-phone.png"), full_page=True)
        await stale.locator(".lecture button").click()  # the old form, sent again
        await expect(stale.locator(".notice")).to_have_text("你已经签到过了，不必重复签到。")
        await expect(stale.locator(".lecture .done")).to_contain_text("已签到（")
        assert await check_ins(site, running) == 2
    # The report: one more person registered, on the web; two reads and two check-ins
    # (one through each door), the lecture's attendance two.
    after = figures_of(await school_total(chat), running)
    registered, on_web, took_part_on_web, read, checked, attendees, held = before
    assert after == (
        registered + 1,
        on_web + 1,
        took_part_on_web,
        read + 2,
        checked + 2,
        attendees + 2,
        held + 2,
    )
    assert on_web == 0


def no_client() -> TestClient:
    raise AssertionError("this test's pages are opened in a browser")
