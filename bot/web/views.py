"""The dashboard's pages: login by link, the overview (HTML and its JSON), logout.

Every request reads its viewer's rights afresh (:func:`bot.application.dashboard.viewer_of`);
nothing but a random session id is in the cookie. Pages are rendered by Jinja2 with
autoescaping, in the participant's language (Chinese first) or the one picked on the page.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.application import Clock, UnitOfWork, system_clock
from bot.application.dashboard import (
    LinkRefusal,
    Overview,
    OverviewRefusal,
    SchoolRow,
    Section,
    Viewer,
    log_out,
    open_session,
    overview,
    viewer_of,
)
from bot.application.live_figures import FigureSource, Fresh, fresh
from bot.i18n import Gettext, Translator
from bot.web.accounts import add_account_routes
from bot.web.activities_page import add_activity_routes
from bot.web.articles_page import add_article_routes
from bot.web.campaign_page import add_campaign_routes
from bot.web.class_view import add_class_routes
from bot.web.reports_page import add_report_routes
from bot.web.roster_page import add_roster_routes
from bot.web.sessions import (
    SESSION_COOKIE,
    chosen_language,
    clear_session_cookie,
    remember_language,
    set_session_cookie,
)
from quizzes.statistics import percent_text

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
POLL_SECONDS = 15
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self';"
        " connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # The login link's token is in the URL: never hand it on as a referrer.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

_environment = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html", "j2"], default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,  # templates ship with the code: no stat of each file per page
)


@dataclass
class Dashboard:
    """What the dashboard's views need, created once with the web app."""

    session_factory: async_sessionmaker[AsyncSession]
    translator: Translator
    admin_ids: Collection[int]
    path: str  # where it is mounted, e.g. /admin
    key: bytes  # signs the login links (bot.application.dashboard.login_key)
    zone: ZoneInfo
    secure: bool = False  # the public URL is https: cookies are Secure
    clock: Clock = system_clock
    poll_seconds: int = POLL_SECONDS  # how often the page's script asks for new figures
    # Where the overview's figures come from: computed for each page, or the live figures
    # all pages share (bot.application.live_figures), as the running bot passes.
    figures: FigureSource = fresh
    # Sessions for the pages that only read (and touch their web session): each statement
    # commits on its own where the database allows it, so such a page sends no BEGIN and
    # no COMMIT. None: the ordinary sessions.
    reading_sessions: async_sessionmaker[AsyncSession] | None = None

    @contextlib.asynccontextmanager
    async def uow(self, *, reading: bool = False) -> AsyncIterator[UnitOfWork]:
        """A unit of work for one request; ``reading`` for a page whose every write is one
        self-contained statement (the overview polled by every open page)."""
        # Figures computed in the page's own unit of work (Fresh) need its transaction: the
        # report's queries share one snapshot.
        kept_figures = not isinstance(self.figures, Fresh)
        sessions = self.reading_sessions if reading and kept_figures else None
        async with (sessions or self.session_factory)() as session:
            yield UnitOfWork.over(session)

    def gettext(self, request: web.Request, participant_locale: str | None) -> Gettext:
        return self.translator.bind(chosen_language(request) or participant_locale)

    def page(
        self,
        request: web.Request,
        template: str,
        _: Gettext,
        *,
        status: int = 200,
        **context: Any,
    ) -> web.Response:
        other = "en" if _.locale != "en" else "zh-CN"
        body = _environment.get_template(template).render(
            t=_.plain,
            locale=_.locale,
            other_locale=other,
            base=self.path,
            **context,
        )
        response = web.Response(
            status=status, text=body, content_type="text/html", charset="utf-8"
        )
        response.headers.update(SECURITY_HEADERS)
        remember_language(request, response, path=self.path, secure=self.secure)
        return response

    def refusal(
        self, request: web.Request, _: Gettext, key: str, status: int, **context: Any
    ) -> web.Response:
        return self.page(request, "message.html.j2", _, status=status, message_key=key, **context)

    def refused(self, request: web.Request, _: Gettext, answer: tuple[str, int]) -> web.Response:
        """A page's refusal as its table of refusals words it: ``(catalog key, status)``,
        with no hint and no further link."""
        key, status = answer
        return self.refusal(request, _, key, status, hint=False, also=None)

    # -- views ------------------------------------------------------------------------

    async def login(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        async with self.uow() as uow:
            opened = await open_session(
                uow, token, key=self.key, admin_ids=self.admin_ids, now=self.clock()
            )
        if isinstance(opened, tuple):
            refusal, locale = opened
            _ = self.translator.bind(locale)
            status = 403 if refusal is LinkRefusal.NOT_STAFF else 410
            if refusal is LinkRefusal.INVALID:
                status = 404
            both = None
            if locale is None:  # nobody known: say it in both languages, Chinese first
                both = self.translator.bind("en").plain(f"web.login.{refusal.value}")
            return self.refusal(
                request, _, f"web.login.{refusal.value}", status, also=both, hint=True
            )
        response = web.Response(status=303, headers={"Location": f"{self.path}/"})
        set_session_cookie(response, opened.cookie, path=self.path, secure=self.secure)
        response.headers.update(SECURITY_HEADERS)
        return response

    async def viewer(self, request: web.Request, uow: UnitOfWork) -> Viewer | None:
        return await viewer_of(
            uow,
            request.cookies.get(SESSION_COOKIE),
            admin_ids=self.admin_ids,
            now=self.clock(),
        )

    async def signed_in(
        self, request: web.Request, uow: UnitOfWork
    ) -> tuple[Viewer, Gettext] | web.Response:
        """Every page's opening: who is asking and the language to answer them in; or,
        when no live session is behind the cookie, the page that says to sign in."""
        viewer = await self.viewer(request, uow)
        if viewer is None:
            return self.signed_out(request)
        return viewer, self.gettext(request, viewer.participant.locale)

    def signed_out(self, request: web.Request) -> web.Response:
        _ = self.gettext(request, None)
        response = self.refusal(request, _, "web.signed_out", 401, hint=True, also=None)
        if SESSION_COOKIE in request.cookies:
            clear_session_cookie(response, path=self.path)
        return response

    async def _overview(
        self, request: web.Request, uow: UnitOfWork, viewer: Viewer, _: Gettext
    ) -> Overview | OverviewRefusal:
        unit_id: int | None = None
        raw = request.match_info.get("unit_id")
        if raw is not None:
            if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
                return OverviewRefusal.UNKNOWN
            unit_id = int(raw)
        return await overview(
            uow,
            viewer,
            unit_id,
            now=self.clock(),
            zone=self.zone,
            total_name=_.plain("web.total"),
            figures=self.figures,
        )

    def _as_of(self, found: Overview) -> datetime:
        """When the oldest of the overview's figures were computed, in the bureau's zone."""
        moments = [section.as_of for section in found.sections if section.as_of is not None]
        return min(moments, default=self.clock()).astimezone(self.zone)

    async def overview_page(self, request: web.Request) -> web.StreamResponse:
        async with self.uow(reading=True) as uow:
            asked = await self.signed_in(request, uow)
            if isinstance(asked, web.Response):
                return asked
            viewer, _ = asked
            rights = viewer.rights
            teacher_only = rights.class_id is not None and not rights.permissions.is_staff
            if teacher_only and "unit_id" not in request.match_info:
                # A class teacher starts at their class's page.
                landing = f"{self.path}/classes/{rights.class_id}"
                return web.Response(status=303, headers={"Location": landing})
            found = await self._overview(request, uow, viewer, _)
        if found is OverviewRefusal.NOT_IN_REACH:
            return self.refusal(request, _, "web.not_in_reach", 403, hint=False, also=None)
        if found is OverviewRefusal.NO_UNITS:
            return self.refusal(request, _, "web.no_units", 200, hint=False, also=None)
        if isinstance(found, OverviewRefusal):
            return self.refusal(request, _, "web.unknown_unit", 404, hint=False, also=None)
        api = f"{self.path}/api/overview"
        if found.scope is not None:
            api = f"{self.path}/api/units/{found.scope.id}"
        here = found.scope.id if found.scope is not None else None
        return self.page(
            request,
            "overview.html.j2",
            _,
            overview=found,
            title=title_of(found, _),
            viewer=viewer,
            api=api,
            poll_seconds=self.poll_seconds,
            percent=percent_text,
            campaign_total=lambda section: campaign_total(section, _),
            reachable={
                row.unit_id
                for section in found.sections
                for row in section.rows
                if row.unit_id is not None and row.unit_id != here
            },
            updated=self._as_of(found).strftime("%H:%M:%S"),
        )

    async def overview_json(self, request: web.Request) -> web.StreamResponse:
        async with self.uow(reading=True) as uow:
            viewer = await self.viewer(request, uow)
            if viewer is None:
                return _json({"error": "signed_out"}, 401)
            _ = self.gettext(request, viewer.participant.locale)
            found = await self._overview(request, uow, viewer, _)
        if found is OverviewRefusal.NOT_IN_REACH:
            return _json({"error": "not_in_reach"}, 403)
        if found is OverviewRefusal.NO_UNITS:
            return _json({"error": "no_units"}, 404)
        if isinstance(found, OverviewRefusal):
            return _json({"error": "unknown_unit"}, 404)
        return _json(overview_data(found, self._as_of(found), _), 200)

    async def logout(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        token = form.get("csrf_token")
        async with self.uow() as uow:
            asked = await self.signed_in(request, uow)
            if isinstance(asked, web.Response):
                return asked
            viewer, _ = asked
            if not isinstance(token, str) or not await log_out(
                uow, viewer, token, now=self.clock()
            ):
                return self.refusal(request, _, "web.bad_form", 403, hint=False, also=None)
        response = self.refusal(request, _, "web.logged_out", 200, hint=True, also=None)
        clear_session_cookie(response, path=self.path)
        return response


def _json(data: dict[str, Any], status: int) -> web.Response:
    response = web.json_response(data, status=status)
    response.headers.update(SECURITY_HEADERS)
    return response


def _row(row: SchoolRow) -> dict[str, Any]:
    return {
        "unit_id": row.unit_id,
        "name": row.name,
        "group": row.group,
        "enrolled": row.enrolled,
        "registered": row.registered,
        "took_part": row.took_part,
        "completed": row.completed,
        "passed": row.passed,
        "rate": percent_text(row.rate),
        "low": row.low,
    }


def title_of(found: Overview, _: Gettext) -> str:
    """The unit shown, or the viewer's units named together ("甲、乙")."""
    if found.scope is not None:
        return found.scope.name
    return _.join(unit.name for unit in found.scopes)


def campaign_total(section: Section, _: Gettext) -> str | None:
    """The line over a campaign's table: the whole campaign's figures, as the report has
    them (each person once in the campaign)."""
    figures = section.campaign_figures
    if figures is None:
        return None
    return _.plain(
        "web.campaign_total",
        took_part=figures.took_part.total,
        completed=figures.completed,
        passed=figures.passed,
        rate=percent_text(figures.participation_rate),
    )


def overview_data(found: Overview, updated: datetime, _: Gettext) -> dict[str, Any]:
    """The overview as the page's script reads it (and as the tests compare it)."""
    return {
        "scope": {
            "id": found.scope.id if found.scope is not None else None,
            "name": title_of(found, _),
        },
        "updated": updated.strftime("%H:%M:%S"),
        "sections": [
            {
                "key": section.key,
                "campaign": section.campaign.name if section.campaign else None,
                "campaign_total": campaign_total(section, _),
                "start": section.period.start.isoformat(),
                "end": section.period.end.isoformat(),
                "rows": [_row(row) for row in section.rows],
                "total": _row(section.total),
            }
            for section in found.sections
        ],
    }


def add_dashboard_routes(app: web.Application, dashboard: Dashboard) -> None:
    base = dashboard.path

    app.router.add_get(f"{base}/login/{{token}}", dashboard.login)
    app.router.add_get(f"{base}/", dashboard.overview_page)
    app.router.add_get(f"{base}/units/{{unit_id}}", dashboard.overview_page)
    app.router.add_get(f"{base}/api/overview", dashboard.overview_json)
    app.router.add_get(f"{base}/api/units/{{unit_id}}", dashboard.overview_json)
    app.router.add_post(f"{base}/logout", dashboard.logout)
    add_campaign_routes(app, dashboard)
    add_class_routes(app, dashboard, SECURITY_HEADERS)
    add_account_routes(app, dashboard, SECURITY_HEADERS)  # staff without Telegram
    add_report_routes(app, dashboard, SECURITY_HEADERS)
    add_roster_routes(app, dashboard, SECURITY_HEADERS)
    add_article_routes(app, dashboard, SECURITY_HEADERS)
    add_activity_routes(app, dashboard, SECURITY_HEADERS)
    app.router.add_static(f"{base}/static/", HERE / "static", append_version=False)

    async def bare(_request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(f"{base}/")

    app.router.add_get(base, bare)
