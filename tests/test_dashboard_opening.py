"""Every dashboard page opens the same way (``Dashboard.signed_in``): without a live
session, each page and form answers with the page that says to sign in (the JSON
addresses with their 401), clears a stale session cookie, and reads nothing more."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.application.dashboard import login_key
from bot.i18n import Translator
from bot.web import Dashboard, add_dashboard_routes

# Open to anyone: the login forms and the setup link, the static files, the bare root.
OPEN = re.compile(r"^/admin(/login(/.*)?|/setup/.*|/static(/.*)?)?$")
SIGN_IN = Translator.load().get("zh-CN", "web.signed_out")


def dashboard_app(session_factory: async_sessionmaker[AsyncSession]) -> web.Application:
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
    return app


def signed_in_routes() -> list[tuple[str, str]]:
    """(method, path) of every route behind the sign-in, its ids filled in."""
    app = dashboard_app(async_sessionmaker())
    found = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("formatter") or info.get("path") or info.get("prefix") or ""
        if route.method not in ("GET", "POST") or OPEN.match(path):
            continue
        path = path.replace("{action}", "create")
        found.append((route.method, re.sub(r"\{[a-z_]+\}", "7", path)))
    return sorted(set(found))


ROUTES = signed_in_routes()


@pytest.fixture
async def client(
    session_factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async with TestClient(TestServer(dashboard_app(session_factory))) as client:
        yield client


def test_the_pages_behind_the_sign_in_are_all_found() -> None:
    paths = {path for _method, path in ROUTES}
    assert {"/admin/", "/admin/account", "/admin/campaigns/7", "/admin/classes/7"} <= paths
    assert {"/admin/reports/jobs/7", "/admin/roster", "/admin/articles/7/remind"} <= paths
    assert len(ROUTES) >= 25


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
async def test_signed_out_every_page_says_to_sign_in(
    client: TestClient[web.Request, web.Application], method: str, path: str
) -> None:
    stale = {"pufa_session": "x" * 43}
    response = await client.request(
        method, path, cookies=stale, data={"csrf_token": "x"}, allow_redirects=False
    )
    assert response.status == 401
    if "/api/" in path:
        assert await response.json() == {"error": "signed_out"}
        return
    assert SIGN_IN in await response.text()
    cleared = response.cookies.get("pufa_session")
    assert cleared is not None and cleared.value == ""
    assert response.headers["X-Frame-Options"] == "DENY"
