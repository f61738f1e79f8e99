"""The dashboard's articles page (``{admin path}/articles``): the latest publicity
articles with their reach delivered → read → clicked and who they did not reach, and an
article's page with the same figures per school (``.../articles/{id}``).

Thin, like the other views: read who is asking, call one use case of
:mod:`bot.application.article_reach` (which decides the schools in reach and refuses the
rest), render. There is no "remind those who have not read" button: the chat has no
such sender, and the page would not invent a second one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from bot.application.article_reach import (
    ArticleReach,
    ReachRefusal,
    article_reach,
    articles_in_reach,
)
from bot.i18n import Gettext
from bot.web.campaign_page import Pages
from bot.web.reports_page import id_of
from quizzes.statistics import percent_text

__all__ = ["ArticlePages", "add_article_routes"]

_REFUSALS = {
    ReachRefusal.NOT_STAFF: ("web.publicity.staff_only", 403),
    ReachRefusal.NOT_IN_REACH: ("web.publicity.not_in_reach", 403),
    ReachRefusal.UNKNOWN: ("web.publicity.unknown_article", 404),
}


class ArticlePages:
    def __init__(self, dashboard: Pages) -> None:
        self.dashboard = dashboard

    def _refused(self, request: web.Request, _: Gettext, refusal: ReachRefusal) -> web.Response:
        key, status = _REFUSALS[refusal]
        return self.dashboard.refusal(request, _, key, status, hint=False, also=None)

    def _when(self, moment: datetime | None) -> str:
        zone = self.dashboard.zone
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else ""

    def _context(self, _: Gettext) -> dict[str, Any]:
        return {
            "percent": percent_text,
            "when": self._when,
            "state_of": lambda found: _.plain(
                f"web.publicity.status.{found.article.status.value}"
            ),
        }

    async def list_page(self, request: web.Request) -> web.StreamResponse:
        board = self.dashboard
        async with board.uow() as uow:
            viewer = await board.viewer(request, uow)
            if viewer is None:
                return board.signed_out(request)
            _ = board.gettext(request, viewer.participant.locale)
            found = await articles_in_reach(uow, viewer.rights, total_name=_.plain("web.total"))
        if isinstance(found, ReachRefusal):
            return self._refused(request, _, found)
        return board.page(
            request, "articles.html.j2", _, viewer=viewer, articles=found, **self._context(_)
        )

    async def article_page(self, request: web.Request) -> web.StreamResponse:
        board = self.dashboard
        article_id = id_of(request.match_info["article_id"])
        async with board.uow() as uow:
            viewer = await board.viewer(request, uow)
            if viewer is None:
                return board.signed_out(request)
            _ = board.gettext(request, viewer.participant.locale)
            found: ArticleReach | ReachRefusal = ReachRefusal.UNKNOWN
            if article_id is not None:
                found = await article_reach(
                    uow, viewer.rights, article_id, total_name=_.plain("web.total")
                )
        if isinstance(found, ReachRefusal):
            return self._refused(request, _, found)
        return board.page(
            request, "article.html.j2", _, viewer=viewer, found=found, **self._context(_)
        )


def add_article_routes(app: web.Application, dashboard: Pages) -> None:
    pages = ArticlePages(dashboard)
    base = dashboard.path
    app.router.add_get(f"{base}/articles", pages.list_page)
    app.router.add_get(f"{base}/articles/{{article_id}}", pages.article_page)
