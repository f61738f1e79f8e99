"""The dashboard's articles page (``{admin path}/articles``): the latest publicity
articles with their reach delivered → read → clicked and who they did not reach, and an
article's page with the same figures per school (``.../articles/{id}``).

Thin, like the other views: read who is asking, call one use case of
:mod:`bot.application.article_reach` (which decides the schools in reach and refuses the
rest), render. The article's page carries the button that reminds those it was
delivered to who have not read it (:mod:`bot.application.read_reminders`: once per
article, reach and day, sent by the broadcaster).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aiohttp import web

from bot.application.article_reach import (
    ArticleReach,
    ReachRefusal,
    articles_in_reach,
)
from bot.application.read_reminders import (
    AlreadyReminded,
    ReadReminderRefusal,
    ReadReminderState,
    Reminded,
    article_with_reminder,
    remind_nonreaders,
)
from bot.i18n import Gettext
from bot.views.publicity import reminder_text
from bot.web.class_view import Dashboard
from bot.web.reports_page import id_of, see_other
from quizzes.read_reminders import ReadReminder
from quizzes.statistics import percent_text

__all__ = ["ArticlePages", "add_article_routes"]

_REFUSALS = {
    ReachRefusal.NOT_STAFF: ("web.publicity.staff_only", 403),
    ReachRefusal.NOT_IN_REACH: ("web.publicity.not_in_reach", 403),
    ReachRefusal.UNKNOWN: ("web.publicity.unknown_article", 404),
}


class ArticlePages:
    def __init__(self, dashboard: Dashboard, headers: Mapping[str, str]) -> None:
        self.dashboard = dashboard
        self.headers = headers  # the dashboard's security headers, on every answer

    def _refused(self, request: web.Request, _: Gettext, refusal: ReachRefusal) -> web.Response:
        return self.dashboard.refused(request, _, _REFUSALS[refusal])

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
            asked = await board.signed_in(request, uow)
            if isinstance(asked, web.Response):
                return asked
            viewer, _ = asked
            found = await articles_in_reach(uow, viewer.rights, total_name=_.plain("web.total"))
        if isinstance(found, ReachRefusal):
            return self._refused(request, _, found)
        return board.page(
            request, "articles.html.j2", _, viewer=viewer, articles=found, **self._context(_)
        )

    def _sent_line(self, reminder: ReadReminder, _: Gettext) -> str:
        """ "今天 10:05 已由 王老师 提醒 12 人"."""
        return _.plain(
            "web.publicity.reminded",
            time=reminder.sent_at.astimezone(self.dashboard.zone).strftime("%H:%M"),
            name=reminder.sent_by_name or _.plain("web.class.someone"),
            count=reminder.recipients,
        )

    async def article_page(
        self, request: web.Request, *, status: int = 200, notice: str | None = None
    ) -> web.StreamResponse:
        """The article's page; ``notice`` says what the button did (a refusal when
        ``status`` is not 200)."""
        board = self.dashboard
        article_id = id_of(request.match_info["article_id"])
        async with board.uow() as uow:
            asked = await board.signed_in(request, uow)
            if isinstance(asked, web.Response):
                return asked
            viewer, _ = asked
            found: tuple[ArticleReach, ReadReminderState] | ReachRefusal = ReachRefusal.UNKNOWN
            if article_id is not None:
                found = await article_with_reminder(
                    uow,
                    viewer,
                    article_id,
                    now=board.clock(),
                    zone=board.zone,
                    total_name=_.plain("web.total"),
                )
        if isinstance(found, ReachRefusal):
            return self._refused(request, _, found)
        reach, reminder = found
        if notice is None and request.query.get("sent") == "1" and reminder.today is not None:
            notice = _.plain("web.publicity.sent")  # back from the button: say it went
        return board.page(
            request,
            "article.html.j2",
            _,
            status=status,
            viewer=viewer,
            found=reach,
            reminder=reminder,
            sent=self._sent_line(reminder.today, _) if reminder.today is not None else None,
            notice=notice,
            refused=status != 200,
            **self._context(_),
        )

    async def remind(self, request: web.Request) -> web.StreamResponse:
        board = self.dashboard
        form = await request.post()
        token = form.get("csrf_token")
        article_id = id_of(request.match_info["article_id"])
        async with board.uow() as uow:
            asked = await board.signed_in(request, uow)
            if isinstance(asked, web.Response):
                return asked
            viewer, _ = asked
            if article_id is None:
                return self._refused(request, _, ReachRefusal.UNKNOWN)
            outcome = await remind_nonreaders(
                uow,
                viewer,
                article_id,
                token if isinstance(token, str) else None,
                text=reminder_text(board.translator, board.zone),
                now=board.clock(),
                zone=board.zone,
            )
        if outcome is ReadReminderRefusal.BAD_FORM:
            return board.refusal(request, _, "web.bad_form", 403, hint=False, also=None)
        if isinstance(outcome, ReadReminderRefusal) and outcome is not ReadReminderRefusal.NOBODY:
            return self._refused(request, _, ReachRefusal(outcome.value))
        if isinstance(outcome, Reminded):  # back to the page, which shows the record
            return see_other(f"{board.path}/articles/{article_id}?sent=1", self.headers)
        if isinstance(outcome, AlreadyReminded):
            line = self._sent_line(outcome.reminder, _)
            notice = _.plain("web.publicity.already", line=line)
        else:
            notice = _.plain("web.publicity.nobody")
        return await self.article_page(request, status=409, notice=notice)


def add_article_routes(
    app: web.Application, dashboard: Dashboard, headers: Mapping[str, str]
) -> None:
    pages = ArticlePages(dashboard, headers)
    base = dashboard.path
    app.router.add_get(f"{base}/articles", pages.list_page)
    app.router.add_get(f"{base}/articles/{{article_id}}", pages.article_page)
    app.router.add_post(f"{base}/articles/{{article_id}}/remind", pages.remind)
