"""The staff dashboard through aiohttp's test client: a login link from /web in chat, the
session it opens, the rights read on every request, and figures equal to the report's."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiogram.methods import SendMessage
from aiogram.types import Chat as TelegramChat
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.application.dashboard import login_key
from bot.application.live_figures import LiveFigures
from bot.application.reports import participation_figures
from bot.web import Dashboard, add_dashboard_routes
from quizzes.permissions import Permissions
from quizzes.statistics import Period, Statistics, percent_text
from quizzes.units import Unit
from storage.database import create_reading_session_factory
from storage.models import ParticipantRow
from storage.models_quiz import AttemptRow
from storage.repositories import Repositories
from storage.unit_of_work import UnitOfWork
from tests.mocked_bot import text_update, user
from tests.publicity_chat import ADMIN, COORDINATOR, Chat, chat
from tests.publicity_factories import add_people
from tests.quiz_world import open_campaign

__all__ = ["chat"]  # the fixture

LINK = re.compile(r"http://127\.0\.0\.1:8080(/admin/login/\S+)")
STUDENTS = (3000, 3001)
ZONE_NAME = "Asia/Shanghai"


@dataclass
class Clock:
    """The dashboard's clock, moved by the test."""

    offset: timedelta = field(default_factory=timedelta)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class Site:
    chat: Chat
    clock: Clock
    make_client: Callable[[], Any]

    async def link(self, telegram_id: int) -> str:
        reply = await self.chat.say(telegram_id, "/web")
        found = LINK.search(reply)
        assert found is not None, reply
        return found.group(1)

    async def login(self, client: TestClient, telegram_id: int) -> None:
        response = await client.get(await self.link(telegram_id), allow_redirects=False)
        assert response.status == 303, await response.text()
        assert response.headers["Location"] == "/admin/"


def dashboard_for(
    chat: Chat,
    clock: Clock,
    *,
    secure: bool = False,
    kept: timedelta | None = None,
    reading: bool | None = None,
) -> web.Application:
    """The dashboard over the chat's database: figures computed for each page, or as the
    running bot has it (figures kept and shared for ``kept``, pages that only read outside
    a transaction)."""
    settings = chat.context.settings
    app = web.Application()
    dashboard = Dashboard(
        chat.session_factory,
        chat.context.translator,
        settings.admin_ids,
        settings.admin_path,
        login_key(settings.token),
        settings.zone,
        secure=secure,
        clock=clock,
    )
    if kept is not None:

        @contextlib.asynccontextmanager
        async def open_uow() -> AsyncIterator[UnitOfWork]:
            async with chat.session_factory() as session:
                yield UnitOfWork.over(session)

        dashboard = replace(dashboard, figures=LiveFigures(open_uow, max_age=kept))
    if reading is None:
        reading = kept is not None  # as the running bot has it
    if reading:
        engine = chat.session_factory.kw["bind"]
        dashboard = replace(dashboard, reading_sessions=create_reading_session_factory(engine))
    add_dashboard_routes(app, dashboard)
    return app


@pytest.fixture(params=[False], ids=["per-page"])  # True: figures kept (refreshed at once)
async def site(chat: Chat, request: pytest.FixtureRequest) -> AsyncIterator[Site]:
    clock = Clock()
    clients: list[TestClient] = []

    def make_client() -> TestClient:
        kept = timedelta(0) if request.param else None
        client = TestClient(TestServer(dashboard_for(chat, clock, kept=kept)))
        clients.append(client)
        return client

    yield Site(chat, clock, make_client)
    for client in clients:
        await client.close()


async def answered(
    session_factory: async_sessionmaker[AsyncSession],
    campaign_id: int,
    telegram_id: int,
    *,
    passed: bool,
) -> None:
    """One finished attempt of ``telegram_id``, as the quiz writes it."""
    now = datetime.now(UTC)
    async with session_factory() as session:
        person = await Repositories.over(session).participants.by_telegram_id(telegram_id)
        assert person is not None
        session.add(
            AttemptRow(
                campaign_id=campaign_id,
                participant_id=person.id,
                number=1,
                status="finished",
                started_at=now - timedelta(minutes=5),
                deadline=None,
                finished_at=now,
                current_seq=5,
                question_count=5,
                points=5.0 if passed else 1.0,
                passed=passed,
                total_ms=60_000,
                flagged=0,
                chat_id=telegram_id,
                message_id=None,
            )
        )
        await session.commit()


async def report_figures(chat: Chat, scope: Unit, period: Period) -> Statistics:
    figures = await participation_figures(
        chat.session_factory,
        scope,
        period,
        viewer=Permissions(is_admin=True),
        zone=chat.context.settings.zone,
        total_name="合计",
    )
    assert isinstance(figures, Statistics)
    return figures


def _same(row: dict[str, Any], school: Any) -> None:
    assert (
        row["enrolled"],
        row["registered"],
        row["took_part"],
        row["completed"],
        row["passed"],
        row["rate"],
    ) == (
        school.enrolled,
        school.registered.total,
        school.took_part.total,
        school.completed,
        school.passed,
        percent_text(school.participation_rate),
    )


@pytest.mark.parametrize("site", [False, True], ids=["per-page", "kept"], indirect=True)
async def test_a_link_from_chat_opens_an_overview_with_the_reports_figures(site: Site) -> None:
    chat = site.chat
    campaign = await open_campaign(chat.session_factory)
    await answered(chat.session_factory, campaign.id, STUDENTS[0], passed=True)
    await answered(chat.session_factory, campaign.id, STUDENTS[1], passed=False)
    first = chat.world.schools["胡杨河市第一中学"]
    async with site.make_client() as client:
        await site.login(client, COORDINATOR)
        page = await client.get("/admin/")
        html = await page.text()
        assert page.status == 200
        assert "胡杨河市第一中学" in html and "一三一团中学" in html
        assert "宪法卫士测试" in html  # the open campaign has its own table
        assert "一三七团第一小学" not in html  # not this coordinator's
        data = await (await client.get(f"/admin/api/units/{first.id}")).json()
    today = datetime.now(UTC).astimezone(chat.context.settings.zone).date()
    report = await report_figures(chat, first, Period.year_to_date(today))
    period = next(s for s in data["sections"] if s["key"] == "period")
    assert (period["start"], period["end"]) == (f"{today.year}-01-01", today.isoformat())
    (row,) = period["rows"]
    (school,) = report.schools
    _same(row, school)
    assert (row["took_part"], row["completed"], row["passed"]) == (2, 2, 1)  # not vacuous
    _same(period["total"], report.total)
    campaign_section = next(s for s in data["sections"] if s["key"] == f"c{campaign.id}")
    _same(campaign_section["rows"][0], school)
    (whole,) = report.campaigns  # the whole campaign, each person once
    assert campaign_section["campaign_total"] == (
        f"本活动合计：参与 {whole.took_part.total} 人，完成 {whole.completed} 人，"
        f"合格 {whole.passed} 人，参与率 {percent_text(whole.participation_rate)}"
    )


async def test_the_admin_sees_every_school_by_regiment_as_the_report_counts_them(
    site: Site,
) -> None:
    chat = site.chat
    campaign = await open_campaign(chat.session_factory)
    await add_people(chat.session_factory, [5000, 5001], chat.world.schools["一三一团中学"].id)
    for telegram_id in (STUDENTS[0], 5000, 5001):
        await answered(chat.session_factory, campaign.id, telegram_id, passed=True)
    async with site.make_client() as client:
        await site.login(client, ADMIN)
        page = await (await client.get("/admin/")).text()
        assert "129团" in page and "131团" in page and "137团" in page
        async with chat.session_factory() as session:
            (root,) = await Repositories.over(session).units.roots()
        data = await (await client.get(f"/admin/api/units/{root.id}")).json()
    today = datetime.now(UTC).astimezone(chat.context.settings.zone).date()
    report = await report_figures(chat, root, Period.year_to_date(today))
    period = next(s for s in data["sections"] if s["key"] == "period")
    assert [r["name"] for r in period["rows"]] == [s.name for s in report.schools]
    for row, school in zip(period["rows"], report.schools, strict=True):
        _same(row, school)
    _same(period["total"], report.total)
    # The lowest schools are those the report names: the lowest rate where someone took
    # part, and where nobody has yet.
    low = {r["name"] for r in period["rows"] if r["low"]}
    assert low == {s.name for s in [*report.lowest(), *report.not_started()]}
    assert low == {"胡杨河市第一中学", "一三七团第一小学"}


async def test_the_session_cookie_is_httponly_lax_and_limited_to_the_dashboard(
    site: Site,
) -> None:
    async with site.make_client() as client:
        response = await client.get(await site.link(ADMIN), allow_redirects=False)
    cookie = response.headers["Set-Cookie"]
    assert "pufa_session=" in cookie
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/admin" in cookie
    assert "Secure" not in cookie  # the public URL here is http
    secure = TestClient(TestServer(dashboard_for(site.chat, site.clock, secure=True)))
    async with secure:
        response = await secure.get(await site.link(ADMIN), allow_redirects=False)
    assert "Secure" in response.headers["Set-Cookie"]


async def test_expired_reused_and_tampered_links_open_no_session(site: Site) -> None:
    async with site.make_client() as client:
        expired = await site.link(COORDINATOR)
        site.clock.offset = timedelta(minutes=10, seconds=1)
        response = await client.get(expired, allow_redirects=False)
        assert response.status == 410
        assert "已过期" in await response.text()
        assert "Set-Cookie" not in response.headers
        site.clock.offset = timedelta(minutes=9, seconds=50)  # still within ten minutes

        link = await site.link(COORDINATOR)
        first = link[:-1] + ("A" if link[-1] != "A" else "B")  # one character changed
        response = await client.get(first, allow_redirects=False)
        assert response.status == 404 and "Set-Cookie" not in response.headers
        text = await response.text()
        assert "无效" in text and "not valid" in text  # whose link is unknown: both
        other = link.replace(f"/login/{link.split('/')[-1].split('.')[0]}.", "/login/1.", 1)
        response = await client.get(other, allow_redirects=False)  # someone else's id
        assert response.status == 404 and "Set-Cookie" not in response.headers

        response = await client.get(link, allow_redirects=False)
        assert response.status == 303
        again = TestClient(TestServer(dashboard_for(site.chat, site.clock)))
        async with again:
            response = await again.get(link, allow_redirects=False)
            assert response.status == 410
            assert "已经用过" in await response.text()
            assert (await again.get("/admin/")).status == 401


async def test_a_coordinator_cannot_open_another_schools_page_or_figures(site: Site) -> None:
    chat = site.chat
    theirs = chat.world.schools["一三一团中学"]
    other = chat.world.schools["一三七团第一小学"]
    async with site.make_client() as client:
        await site.login(client, COORDINATOR)
        assert (await client.get(f"/admin/units/{theirs.id}")).status == 200
        assert (await client.get(f"/admin/units/{other.id}")).status == 403
        assert (await client.get(f"/admin/api/units/{other.id}")).status == 403
        assert (await client.get(f"/admin/api/units/{theirs.id}")).status == 200
        assert (await client.get("/admin/api/units/99999999")).status == 404
    async with site.make_client() as stranger:  # no cookie at all
        assert (await stranger.get(f"/admin/api/units/{theirs.id}")).status == 401
        assert (await stranger.get("/admin/")).status == 401


async def test_logout_needs_the_forms_token_and_ends_the_session(site: Site) -> None:
    async with site.make_client() as client:
        await site.login(client, COORDINATOR)
        page = await (await client.get("/admin/")).text()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        response = await client.post("/admin/logout", data={"csrf_token": "x" * 43})
        assert response.status == 403
        response = await client.post("/admin/logout", data={})
        assert response.status == 403
        assert (await client.get("/admin/")).status == 200  # still signed in
        response = await client.post("/admin/logout", data={"csrf_token": token.group(1)})
        assert response.status == 200
        assert "已退出" in await response.text()
    # The browser may keep the cookie: the session is gone on the server all the same.
    cookie = response.cookies
    assert cookie["pufa_session"].value == ""
    async with site.make_client() as client:
        await site.login(client, COORDINATOR)
        session = client.session.cookie_jar.filter_cookies(client.make_url("/admin/"))
        kept = session["pufa_session"].value
        page = await (await client.get("/admin/")).text()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        await client.post("/admin/logout", data={"csrf_token": token.group(1)})
    async with site.make_client() as replay:
        replay.session.cookie_jar.update_cookies({"pufa_session": kept})
        assert (await replay.get("/admin/")).status == 401


@pytest.mark.parametrize("site", [False, True], ids=["per-page", "kept"], indirect=True)
async def test_a_revoked_grant_takes_effect_on_the_next_request(site: Site) -> None:
    chat = site.chat
    first = chat.world.schools["胡杨河市第一中学"]
    other = chat.world.schools["一三一团中学"]
    async with site.make_client() as client:
        await site.login(client, COORDINATOR)
        assert (await client.get(f"/admin/api/units/{other.id}")).status == 200
        await chat.say(ADMIN, "/revoke coordinator 2 一三一团中学")
        assert (await client.get(f"/admin/api/units/{other.id}")).status == 403
        assert (await client.get(f"/admin/api/units/{first.id}")).status == 200
        await chat.say(ADMIN, "/revoke coordinator 2")
        assert (await client.get(f"/admin/api/units/{first.id}")).status == 401
        # Logged out for good: a grant given back later needs a new link.
        await chat.say(ADMIN, f"/grant coordinator 2 {first.name}")
        assert (await client.get("/admin/")).status == 401


async def test_web_is_for_staff_and_teachers_only(site: Site) -> None:
    chat = site.chat
    reply = await chat.say(STUDENTS[0], "/web")
    assert "只对" in reply and "/admin/login/" not in reply
    # In a group the link would be seen by everyone: it is only sent in private.
    update = text_update(user(ADMIN), "/web")
    assert update.message is not None
    group = TelegramChat(id=-100123, type="supergroup", title="七年级1班")
    await chat.feed(
        update.model_copy(update={"message": update.message.model_copy(update={"chat": group})})
    )
    sent = [m for m in chat.bot.recorder.requests if isinstance(m, SendMessage)]
    assert sent[-1].chat_id == -100123 and "私聊" in sent[-1].text
    assert "/admin/login/" not in sent[-1].text
    # A teacher of a class sees that class, and no other unit.
    own = chat.world.classes["七年级1班"]
    await add_people(chat.session_factory, [4000], own.id, "teacher")
    async with site.make_client() as client:
        await site.login(client, 4000)
        page = await (await client.get("/admin/")).text()
        assert "七年级1班" in page
        assert (await client.get(f"/admin/api/units/{own.id}")).status == 200
        school = chat.world.schools["胡杨河市第一中学"]
        assert (await client.get(f"/admin/api/units/{school.id}")).status == 403
    # A teacher who moves out of the class (to a school, as a teacher) loses the page.
    async with chat.session_factory() as session:
        await session.execute(
            ParticipantRow.__table__.update()
            .where(ParticipantRow.telegram_id == 4000)
            .values(unit_id=chat.world.schools["胡杨河市第一中学"].id)
        )
        await session.commit()
    async with site.make_client() as client:
        assert "只对" in await chat.say(4000, "/web")


async def test_the_page_speaks_the_participants_language_and_switches(site: Site) -> None:
    chat = site.chat
    async with chat.session_factory() as session:
        await session.execute(
            ParticipantRow.__table__.update()
            .where(ParticipantRow.telegram_id == ADMIN)
            .values(locale="en")
        )
        await session.commit()
    async with site.make_client() as client:
        await site.login(client, ADMIN)
        page = await client.get("/admin/")
        text = await page.text()
        assert "Took part" in text and 'lang="en"' in text
        assert page.headers["Referrer-Policy"] == "no-referrer"
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
        chinese = await (await client.get("/admin/?lang=zh-CN")).text()
        assert "参与答题" in chinese
        assert "参与答题" in await (await client.get("/admin/")).text()  # remembered
        script = await client.get("/admin/static/dashboard.js")
        assert script.status == 200 and "fetch(api" in await script.text()


@pytest.mark.parametrize("site", [False, True], ids=["per-page", "kept"], indirect=True)
async def test_a_session_ends_after_eight_idle_hours_and_lives_while_used(site: Site) -> None:
    async with site.make_client() as client:
        await site.login(client, COORDINATOR)
        site.clock.offset = timedelta(hours=7, minutes=59)
        assert (await client.get("/admin/")).status == 200  # used: idle time starts again
        site.clock.offset = timedelta(hours=15, minutes=58)
        assert (await client.get("/admin/")).status == 200
        site.clock.offset = timedelta(hours=23, minutes=58)  # eight hours since
        assert (await client.get("/admin/")).status == 401
        site.clock.offset = timedelta(hours=23, minutes=59)  # and it stays ended
        assert (await client.get("/admin/")).status == 401


async def test_a_coordinator_sees_their_schools_side_by_side_each_as_its_report(
    site: Site,
) -> None:
    chat = site.chat
    first = chat.world.schools["胡杨河市第一中学"]
    other = chat.world.schools["一三一团中学"]
    campaign = await open_campaign(chat.session_factory)
    await add_people(chat.session_factory, [5000, 5001], other.id)
    for telegram_id, passed in ((STUDENTS[0], True), (5000, True), (5001, False)):
        await answered(chat.session_factory, campaign.id, telegram_id, passed=passed)
    async with site.make_client() as client:
        await site.login(client, COORDINATOR)
        page = await (await client.get("/admin/")).text()
        assert 'data-api="/admin/api/overview"' in page
        assert "胡杨河市第一中学、一三一团中学" in page  # both, named together
        data = await (await client.get("/admin/api/overview")).json()
    today = datetime.now(UTC).astimezone(chat.context.settings.zone).date()
    reports = [await report_figures(chat, s, Period.year_to_date(today)) for s in (first, other)]
    period = next(s for s in data["sections"] if s["key"] == "period")
    assert [r["unit_id"] for r in period["rows"]] == [first.id, other.id]
    for row, report in zip(period["rows"], reports, strict=True):
        (school,) = report.schools
        _same(row, school)
    assert period["total"]["took_part"] == 3
    assert period["total"]["enrolled"] == sum(r.total.enrolled for r in reports)
    section = next(s for s in data["sections"] if s["key"] == f"c{campaign.id}")
    took_part = sum(r.campaigns[0].took_part.total for r in reports)
    assert took_part == 3 and f"参与 {took_part} 人" in section["campaign_total"]
    # Lower of the two (and someone took part in both): marked.
    assert [r["low"] for r in period["rows"]] == [True, False]


@pytest.mark.parametrize("kept", [True, False], ids=["kept", "per-page"])
async def test_with_kept_figures_the_overview_reads_outside_a_transaction(
    site: Site, kept: bool
) -> None:
    """On PostgreSQL the overview's statements each commit on their own (no BEGIN and no
    COMMIT round trips); a page that computes its figures itself (PUFA_DASHBOARD_REFRESH_S
    0) keeps its transaction: the report's queries share one snapshot."""
    engine = site.chat.session_factory.kw["bind"]
    levels: list[str | None] = []

    def record(connection: Any, *_args: Any) -> None:
        levels.append(connection.get_execution_options().get("isolation_level"))

    app = dashboard_for(
        site.chat, site.clock, kept=timedelta(hours=1) if kept else None, reading=True
    )
    async with TestClient(TestServer(app)) as client:
        await site.login(client, COORDINATOR)
        assert (await client.get("/admin/")).status == 200  # the figures, computed and kept
        event.listen(engine.sync_engine, "before_cursor_execute", record)
        try:
            assert (await client.get("/admin/")).status == 200
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", record)
    assert len(levels) >= 3  # the session, its person, their grants at least
    if kept and engine.dialect.name == "postgresql":
        assert set(levels) == {"AUTOCOMMIT"}
    else:
        assert "AUTOCOMMIT" not in levels
