"""The class teacher's (班主任) page of the dashboard: a class's progress in a campaign,
the button that reminds its unfinished students, and its results as a spreadsheet.

Thin, like the dashboard's other views: each request reads who is asking
(:meth:`Dashboard.viewer`), calls one use case of :mod:`bot.application.class_progress`
and renders it. The rights check is the use case's, for the page, the button and the
download alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol
from urllib.parse import quote
from zoneinfo import ZoneInfo

from aiohttp import web
from openpyxl import Workbook
from openpyxl.styles import Font

from bot.application import UnitOfWork
from bot.application.class_progress import (
    AlreadyReminded,
    ClassRefusal,
    ClassView,
    Reminded,
    ReminderRefusal,
    ReminderText,
    class_view,
    classes_of,
    remind_unfinished,
)
from bot.application.dashboard import Viewer
from bot.i18n import Gettext, Translator
from bot.web.campaign_page import Pages
from bot.when import short_when
from quizzes.campaigns import Campaign
from quizzes.class_progress import ClassReminder, Stage, StudentProgress
from quizzes.spreadsheet_safety import append_row, workbook_bytes
from quizzes.statistics import percent_text
from quizzes.units import Unit


class Dashboard(Pages, Protocol):
    """What the class page needs of :class:`bot.web.views.Dashboard` (imported the other
    way round: views registers these routes)."""

    @property
    def translator(self) -> Translator: ...


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_REFUSALS = {
    ClassRefusal.UNKNOWN: ("web.unknown_unit", 404),
    ClassRefusal.NOT_IN_REACH: ("web.not_in_reach", 403),
}


def _id(raw: str | None) -> int | None:
    if raw is None or not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        return None
    return int(raw)


def reminder_text(translator: Translator, zone: ZoneInfo) -> ReminderText:
    """The reminder's title and body in a language (Telegram HTML)."""

    def text(locale: str, campaign: Campaign, unit: Unit) -> tuple[str, str]:
        _ = translator.bind(locale)
        closes = short_when(campaign.closes_at, zone, _.plain)
        return (
            _.plain("web.class.reminder_title", campaign=campaign.name),
            _("web.class.reminder_body", unit=unit.name, campaign=campaign.name, closes=closes),
        )

    return text


def sent_line(reminder: ClassReminder, dashboard: Dashboard, _: Gettext) -> str:
    """ "今天 10:05 已由 张老师 提醒 12 名同学"."""
    return _.plain(
        "web.class.reminded",
        time=reminder.sent_at.astimezone(dashboard.zone).strftime("%H:%M"),
        name=reminder.sent_by_name or _.plain("web.class.someone"),
        count=reminder.recipients,
    )


def results_xlsx(found: ClassView, _: Gettext) -> bytes:
    """The class's results, one student a row: display name, started, finished, score,
    passed, time taken. Every text cell stays text (formula-safe)."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = _.plain("web.class.sheet")[:31]
    campaign = found.campaign.name if found.campaign is not None else ""
    append_row(sheet, [f"{found.unit.name} · {campaign}"])
    sheet["A1"].font = Font(bold=True, size=14)
    keys = ("name", "started", "finished", "score", "passed", "seconds")
    append_row(sheet, [_.plain(f"web.class.column.{key}") for key in keys])
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    yes, no = _.plain("web.class.yes"), _.plain("web.class.no")
    for line in found.students:
        finished = line.stage is Stage.FINISHED
        append_row(
            sheet,
            [
                line.name,
                yes if line.stage is not Stage.NOT_STARTED else no,
                yes if finished else no,
                line.points if line.points is not None else "",
                (yes if line.passed else no) if finished else "",
                line.seconds if line.seconds is not None else "",
            ],
        )
    for column, width in zip("ABCDEF", (20, 10, 10, 10, 10, 12), strict=True):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "A3"
    return workbook_bytes(book)


class ClassPages:
    """The class page's views, over the dashboard's session, rights and rendering."""

    def __init__(self, dashboard: Dashboard, headers: Mapping[str, str]) -> None:
        self.dashboard = dashboard
        self.headers = headers  # the dashboard's security headers, on every answer

    async def _found(
        self, request: web.Request
    ) -> tuple[ClassView | ClassRefusal, Gettext, Viewer] | web.Response:
        """The class view asked for, or why not, in the viewer's language, with the viewer;
        or the signed-out page."""
        board = self.dashboard
        class_id = _id(request.match_info["class_id"])
        raw_campaign = request.query.get("campaign")
        campaign_id = _id(raw_campaign)
        async with board.uow() as uow:
            asked = await board.signed_in(request, uow)
            if isinstance(asked, web.Response):
                return asked
            viewer, _ = asked
            if class_id is None or (raw_campaign is not None and campaign_id is None):
                return ClassRefusal.UNKNOWN, _, viewer
            found = await self._view(uow, viewer, class_id, campaign_id, _)
        return found, _, viewer

    async def _view(
        self, uow: UnitOfWork, viewer: Viewer, class_id: int, campaign_id: int | None, _: Gettext
    ) -> ClassView | ClassRefusal:
        board = self.dashboard
        return await class_view(
            uow,
            viewer,
            class_id,
            campaign_id,
            now=board.clock(),
            zone=board.zone,
            total_name=_.plain("web.total"),
        )

    def _refused(self, request: web.Request, _: Gettext, refusal: ClassRefusal) -> web.Response:
        return self.dashboard.refused(request, _, _REFUSALS[refusal])

    def _render(
        self,
        request: web.Request,
        found: ClassView,
        _: Gettext,
        viewer: Viewer | None,
        *,
        status: int = 200,
        notice: str | None = None,
    ) -> web.Response:
        """The page; ``notice`` says what the button did (a refusal when ``status`` is not
        200)."""
        board = self.dashboard
        here = f"{board.path}/classes/{found.unit.id}"
        campaign_query = f"?campaign={found.campaign.id}" if found.campaign is not None else ""
        return board.page(
            request,
            "class.html.j2",
            _,
            status=status,
            found=found,
            viewer=viewer,
            here=here,
            campaign_query=campaign_query,
            notice=notice,
            refused=status != 200,
            percent=percent_text,
            sent=sent_line(found.reminder, board, _) if found.reminder is not None else None,
            closes=short_when(found.campaign.closes_at, board.zone, _.plain)
            if found.campaign is not None
            else None,
            stage_of=lambda line: _stage(line, _),
        )

    async def page(self, request: web.Request) -> web.StreamResponse:
        asked = await self._found(request)
        if isinstance(asked, web.Response):
            return asked
        found, _, viewer = asked
        if isinstance(found, ClassRefusal):
            return self._refused(request, _, found)
        notice = None
        if request.query.get("sent") == "1" and found.reminder is not None:
            notice = _.plain("web.class.sent")  # back from the button: say it went
        return self._render(request, found, _, viewer, notice=notice)

    async def classes(self, request: web.Request) -> web.StreamResponse:
        """The classes of a school, each a link to its page."""
        board = self.dashboard
        unit_id = _id(request.match_info["unit_id"])
        async with board.uow() as uow:
            asked = await board.signed_in(request, uow)
            if isinstance(asked, web.Response):
                return asked
            viewer, _ = asked
            found = (
                ClassRefusal.UNKNOWN if unit_id is None else await classes_of(uow, viewer, unit_id)
            )
        if isinstance(found, ClassRefusal):
            return self._refused(request, _, found)
        unit, classes = found
        return board.page(request, "classes.html.j2", _, unit=unit, classes=classes, viewer=viewer)

    async def results(self, request: web.Request) -> web.StreamResponse:
        asked = await self._found(request)
        if isinstance(asked, web.Response):
            return asked
        found, _, _viewer = asked
        if isinstance(found, ClassRefusal):
            return self._refused(request, _, found)
        if found.campaign is None:
            return self.dashboard.refusal(
                request, _, "web.class.no_campaign", 404, hint=False, also=None
            )
        day = self.dashboard.clock().astimezone(self.dashboard.zone).strftime("%Y%m%d")
        name = _.plain("web.class.file", unit=found.unit.name, campaign=found.campaign.name)
        filename = f"{name}-{day}.xlsx"
        response = web.Response(
            body=results_xlsx(found, _),
            content_type=XLSX,
            headers={
                "Content-Disposition": (
                    f'attachment; filename="class-{found.unit.id}-{day}.xlsx"; '
                    f"filename*=UTF-8''{quote(filename)}"
                ),
            },
        )
        response.headers.update(self.headers)
        return response

    async def remind(self, request: web.Request) -> web.StreamResponse:
        board = self.dashboard
        form = await request.post()
        token = form.get("csrf_token")
        class_id = _id(request.match_info["class_id"])
        raw_campaign = form.get("campaign")
        campaign_id = _id(raw_campaign if isinstance(raw_campaign, str) else None)
        async with board.uow() as uow:
            asked = await board.signed_in(request, uow)
            if isinstance(asked, web.Response):
                return asked
            viewer, _ = asked
            if class_id is None or campaign_id is None:
                return board.refusal(request, _, "web.unknown_unit", 404, hint=False, also=None)
            outcome = await remind_unfinished(
                uow,
                viewer,
                class_id,
                campaign_id,
                token if isinstance(token, str) else None,
                text=reminder_text(board.translator, board.zone),
                now=board.clock(),
                zone=board.zone,
            )
        if outcome is ReminderRefusal.BAD_FORM:
            return board.refusal(request, _, "web.bad_form", 403, hint=False, also=None)
        if isinstance(outcome, ReminderRefusal) and outcome.value in _BY_VALUE:
            return self._refused(request, _, _BY_VALUE[outcome.value])
        if isinstance(outcome, Reminded):  # back to the page, which shows the record
            location = f"{board.path}/classes/{class_id}?campaign={campaign_id}&sent=1"
            response = web.Response(status=303, headers={"Location": location})
            response.headers.update(self.headers)
            return response
        if isinstance(outcome, AlreadyReminded):
            notice = _.plain("web.class.already", line=sent_line(outcome.reminder, board, _))
            status = 409
        else:
            notice = _.plain(f"web.class.refused.{outcome.value}")
            status = 409
        async with board.uow() as uow:
            again = await self._view(uow, viewer, class_id, campaign_id, _)
        if isinstance(again, ClassRefusal):
            return self._refused(request, _, again)
        return self._render(request, again, _, viewer, status=status, notice=notice)


_BY_VALUE = {refusal.value: refusal for refusal in ClassRefusal}


def _stage(line: StudentProgress, _: Gettext) -> str:
    return _.plain(f"web.class.stage.{line.stage.value}")


def add_class_routes(
    app: web.Application, dashboard: Dashboard, headers: Mapping[str, str]
) -> None:
    pages = ClassPages(dashboard, headers)
    base = dashboard.path
    app.router.add_get(f"{base}/units/{{unit_id}}/classes", pages.classes)
    app.router.add_get(f"{base}/classes/{{class_id}}", pages.page)
    app.router.add_post(f"{base}/classes/{{class_id}}/remind", pages.remind)
    app.router.add_get(f"{base}/classes/{{class_id}}/results.xlsx", pages.results)


__all__ = ["ClassPages", "add_class_routes", "reminder_text", "results_xlsx"]
