"""The dashboard's reports page (``{admin path}/reports``): compile a report for a unit and
a period in the background, watch its progress, download its files; and the history of
the reports kept (the chat's ``/reports`` list), each downloadable again.

Thin, like the other views: read who is asking, call one use case of
:mod:`bot.application.report_jobs` or :mod:`bot.application.reports` (which check the
rights on every request and every download), render.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.application import UnitOfWork
from bot.application.dashboard import Viewer
from bot.application.report_jobs import (
    ReportChoices,
    ReportJob,
    downloadable,
    form_is_genuine,
    report_choices,
    report_job,
    run_report_job,
    start_report,
)
from bot.application.reports import ReportRefusal, kept_file
from bot.i18n import Gettext, Translator
from bot.reports.compile import CSV, PNG, REPORT_DOCX, TIMELINE_PNG, XLSX
from bot.reports.jobs import file_name
from bot.web.background import background_of
from bot.web.campaign_page import Pages
from quizzes.dashboard_jobs import DashboardJob, JobStatus
from quizzes.permissions import Permissions
from quizzes.reports import ReportVersion
from quizzes.statistics import Period, PeriodError, parse_period

__all__ = [
    "ReportPages",
    "add_report_routes",
    "attachment",
    "id_of",
    "job_data",
    "job_state",
    "read_job",
    "see_other",
]

CONTENT_TYPES = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".csv": "text/csv",
    ".png": "image/png",
}
REFRESH_SECONDS = 2  # how often a page without script reloads while a report compiles
_REFUSALS = {
    ReportRefusal.NOT_STAFF: ("web.reports.staff_only", 403),
    ReportRefusal.NOT_IN_REACH: ("web.not_in_reach", 403),
    ReportRefusal.UNKNOWN: ("web.reports.unknown", 404),
    ReportRefusal.FAILED: ("web.reports.failed", 500),
}


class Dashboard(Pages, Protocol):
    """What the reports page needs of :class:`bot.web.views.Dashboard`."""

    @property
    def session_factory(self) -> async_sessionmaker[AsyncSession]: ...

    @property
    def translator(self) -> Translator: ...


def id_of(raw: str | None) -> int | None:
    """A row id from a path or a form; None for anything else."""
    if raw is None or not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        return None
    return int(raw)


Found = TypeVar("Found")
Refusal = TypeVar("Refusal")


async def read_job(
    board: Pages,
    request: web.Request,
    lookup: Callable[[UnitOfWork, Permissions, int], Awaitable[Found]],
    unknown: Refusal,
) -> tuple[Found | Refusal, Gettext, Viewer] | web.Response:
    """The job of the path's ``job_id`` as ``lookup`` finds it for who is asking, in their
    language; or the signed-out page."""
    job_id = id_of(request.match_info["job_id"])
    async with board.uow() as uow:
        asked = await board.signed_in(request, uow)
        if isinstance(asked, web.Response):
            return asked
        viewer, _ = asked
        if job_id is None:
            return unknown, _, viewer
        return await lookup(uow, viewer.rights.permissions, job_id), _, viewer


def see_other(location: str, headers: Mapping[str, str]) -> web.Response:
    """After a form: on to the page that shows what it started."""
    response = web.Response(status=303, headers={"Location": location})
    response.headers.update(headers)
    return response


def attachment(ascii_name: str, name: str) -> str:
    """A Content-Disposition that names the file in UTF-8 (RFC 6266), with a plain ASCII
    name for clients that read only that."""
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


def download_name(name: str, scope: str, period: Period, _: Gettext) -> str:
    """ "第七师-普法工作报告-20260101-20261207.docx": what the file is, of which unit and days."""
    stem, _dot, suffix = name.rpartition(".")
    kind = _.plain(f"web.reports.file.{stem}") if stem in _FILE_KEYS else stem
    return f"{scope}-{kind}-{period.start:%Y%m%d}-{period.end:%Y%m%d}.{suffix}"


_FILE_KEYS = {name.rpartition(".")[0] for name in (REPORT_DOCX, XLSX, CSV, PNG, TIMELINE_PNG)}


def period_from(form: Mapping[str, Any], today: date) -> Period:
    """This year to date, or the start and end days chosen (as ``/report`` reads them)."""
    if form.get("period") != "range":
        return parse_period(None, today)
    start, end = (str(form.get(key) or "").strip() for key in ("start", "end"))
    return parse_period(f"{start or '-'} {end or '-'}", today)


class ReportPages:
    def __init__(self, dashboard: Dashboard, headers: Mapping[str, str]) -> None:
        self.dashboard = dashboard
        self.headers = headers  # the dashboard's security headers, on every answer

    def _refused(self, request: web.Request, _: Gettext, refusal: ReportRefusal) -> web.Response:
        return self.dashboard.refused(request, _, _REFUSALS[refusal])

    def _today(self) -> date:
        board = self.dashboard
        return board.clock().astimezone(board.zone).date()

    def _render_form(
        self,
        request: web.Request,
        viewer: Viewer,
        choices: ReportChoices,
        _: Gettext,
        *,
        status: int = 200,
        problem: str | None = None,
        form: Mapping[str, Any] | None = None,
    ) -> web.Response:
        board = self.dashboard
        today = self._today()
        form = form or {}
        chosen = id_of(str(form.get("unit") or "")) or choices.default_unit_id
        return board.page(
            request,
            "reports.html.j2",
            _,
            status=status,
            viewer=viewer,
            choices=choices,
            chosen=chosen,
            problem=problem,
            ranged=form.get("period") == "range",
            start=str(form.get("start") or date(today.year, 1, 1).isoformat()),
            end=str(form.get("end") or today.isoformat()),
            today=today.isoformat(),
            compiled_at=lambda version: self._moment(version),
            trigger=lambda version: _.plain(f"report.trigger.{version.trigger.value}"),
            label=lambda name: self._label(name, _),
        )

    def _moment(self, version: ReportVersion) -> str:
        return version.compiled_at.astimezone(self.dashboard.zone).strftime("%Y-%m-%d %H:%M")

    @staticmethod
    def _label(name: str, _: Gettext) -> str:
        stem, _dot, suffix = name.rpartition(".")
        return _.plain(f"web.reports.link.{stem}_{suffix}") if stem in _FILE_KEYS else name

    async def page(self, request: web.Request) -> web.StreamResponse:
        board = self.dashboard
        async with board.uow() as uow:
            asked = await board.signed_in(request, uow)
            if isinstance(asked, web.Response):
                return asked
            viewer, _ = asked
            choices = await report_choices(uow, viewer.rights.permissions)
        if isinstance(choices, ReportRefusal):
            return self._refused(request, _, choices)
        return self._render_form(request, viewer, choices, _)

    async def compile(self, request: web.Request) -> web.StreamResponse:
        board = self.dashboard
        form = await request.post()
        token = form.get("csrf_token")
        async with board.uow() as uow:
            asked = await board.signed_in(request, uow)
            if isinstance(asked, web.Response):
                return asked
            viewer, _ = asked
            permissions = viewer.rights.permissions
            if not form_is_genuine(viewer.csrf_token, token if isinstance(token, str) else None):
                return board.refusal(request, _, "web.bad_form", 403, hint=False, also=None)
            unit_id = id_of(str(form.get("unit") or ""))
            problem = None
            try:
                period = period_from(form, self._today())
            except PeriodError as error:
                problem = _.plain(f"web.reports.period_problem.{error.problem.value}")
            if problem is not None or unit_id is None:
                choices = await report_choices(uow, permissions)
                if isinstance(choices, ReportRefusal):
                    return self._refused(request, _, choices)
                problem = problem or _.plain("web.reports.choose_unit")
                return self._render_form(
                    request, viewer, choices, _, status=400, problem=problem, form=form
                )
            started = await start_report(
                uow,
                permissions,
                unit_id,
                period,
                requested_by=viewer.participant.id,
                locale=_.locale,
                now=board.clock(),
            )
        if isinstance(started, ReportRefusal):
            return self._refused(request, _, started)
        if started.run:
            background_of(request.app).start(
                run_report_job(
                    board.session_factory,
                    started,
                    viewer=permissions,
                    compiled_by=viewer.participant.telegram_id,
                    zone=board.zone,
                    translator=board.translator,
                    clock=board.clock,
                )
            )
        return see_other(f"{board.path}/reports/jobs/{started.job.id}", self.headers)

    async def _job(
        self, request: web.Request
    ) -> tuple[ReportJob | ReportRefusal, Gettext, Viewer] | web.Response:
        return await read_job(self.dashboard, request, report_job, ReportRefusal.UNKNOWN)

    def _links(self, found: ReportJob) -> list[tuple[str, str]]:
        base = f"{self.dashboard.path}/reports/{found.job.version_id}"
        return [(name, f"{base}/{name}") for name in found.files]

    async def job_page(self, request: web.Request) -> web.StreamResponse:
        asked = await self._job(request)
        if isinstance(asked, web.Response):
            return asked
        found, _, viewer = asked
        if isinstance(found, ReportRefusal):
            return self._refused(request, _, found)
        job = found.job
        return self.dashboard.page(
            request,
            "report_job.html.j2",
            _,
            viewer=viewer,
            found=found,
            **job_state(job, self.dashboard.clock()),
            links=self._links(found),
            label=lambda name: self._label(name, _),
            api=f"{self.dashboard.path}/api/reports/jobs/{job.id}",
        )

    async def job_json(self, request: web.Request) -> web.StreamResponse:
        asked = await self._job(request)
        if isinstance(asked, web.Response):
            return self._json({"error": "signed_out"}, 401)
        found, _, _viewer = asked
        if isinstance(found, ReportRefusal):
            return self._json({"error": found.value}, _REFUSALS[found][1])
        return self._json(job_data(found.job, self._links(found), self.dashboard.clock()), 200)

    def _json(self, data: dict[str, Any], status: int) -> web.Response:
        response = web.json_response(data, status=status)
        response.headers.update(self.headers)
        return response

    async def download(self, request: web.Request) -> web.StreamResponse:
        board = self.dashboard
        version_id = id_of(request.match_info["version_id"])
        name = request.match_info["name"]
        async with board.uow() as uow:
            asked = await board.signed_in(request, uow)
            if isinstance(asked, web.Response):
                return asked
            viewer, _ = asked
            if version_id is None or not downloadable(name):
                return self._refused(request, _, ReportRefusal.UNKNOWN)
            found = await kept_file(uow, version_id, name, viewer=viewer.rights.permissions)
        if isinstance(found, ReportRefusal):
            return self._refused(request, _, found)
        version = found.version
        suffix = "." + name.rpartition(".")[2]
        response = web.Response(
            body=found.files[name],
            content_type=CONTENT_TYPES[suffix],
            charset="utf-8" if suffix == ".csv" else None,
            headers={
                "Content-Disposition": attachment(
                    file_name(name, version.period),
                    download_name(name, version.scope_name, version.period, _),
                )
            },
        )
        response.headers.update(self.headers)
        return response


def job_state(job: DashboardJob, now: datetime) -> dict[str, Any]:
    """What a job's page shows of it, whatever the work: running (and reloading itself
    without script), failed, or done."""
    status = job.status_at(now)
    return {
        "job": job,
        "running": status is JobStatus.RUNNING,
        "failed": status is JobStatus.FAILED,
        "refresh": REFRESH_SECONDS,
    }


def job_data(job: DashboardJob, links: list[tuple[str, str]], now: datetime) -> dict[str, Any]:
    """A job as the page's script reads it."""
    return {
        "status": job.status_at(now).value,
        "step": job.step,
        "done": job.done,
        "total": job.total,
        "percent": job.percent,
        "files": [{"name": name, "url": url} for name, url in links],
    }


def add_report_routes(
    app: web.Application, dashboard: Dashboard, headers: Mapping[str, str]
) -> None:
    pages = ReportPages(dashboard, headers)
    background_of(app)  # made now: a started app takes no new state
    base = dashboard.path
    app.router.add_get(f"{base}/reports", pages.page)
    app.router.add_post(f"{base}/reports", pages.compile)
    app.router.add_get(f"{base}/reports/jobs/{{job_id}}", pages.job_page)
    app.router.add_get(f"{base}/api/reports/jobs/{{job_id}}", pages.job_json)
    app.router.add_get(f"{base}/reports/{{version_id}}/{{name}}", pages.download)
