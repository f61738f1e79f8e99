"""The dashboard's roster page (``{admin path}/roster``): upload a roster (.xlsx or .csv),
see every problem by row and column (nothing imported), or a preview of what the import
would create and change with a button that confirms it; the import then runs in the
background with its progress on the page.

Thin, like the other views: read who is asking, call one use case of
:mod:`bot.application.roster_upload` (admins only, as at the command line), render.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import BodyPartReader, web

from bot.application.dashboard import Viewer
from bot.application.report_jobs import form_is_genuine
from bot.application.roster_upload import (
    RosterJob,
    RosterPreview,
    RosterRefusal,
    RosterRejected,
    confirm_roster,
    may_import_roster,
    roster_division,
    roster_job,
    run_roster_job,
    upload_roster,
)
from bot.i18n import Gettext
from bot.roster_messages import describe_problems
from bot.web.background import background_of
from bot.web.reports_page import (
    CONTENT_TYPES,
    Dashboard,
    attachment,
    id_of,
    job_data,
    job_state,
    read_job,
    see_other,
)
from quizzes.roster import MAX_FILE_BYTES, RosterProblem, roster_template_xlsx
from quizzes.units import UnitKind

__all__ = ["RosterPages", "add_roster_routes"]

DRAIN_LIMIT = 16 * MAX_FILE_BYTES
SHOWN = 50  # new schools or changed units listed by name; the rest are counted
_REFUSALS = {
    RosterRefusal.NOT_ADMIN: ("web.roster.admins_only", 403),
    RosterRefusal.UNKNOWN: ("web.roster.unknown", 404),
    RosterRefusal.NO_DIVISION: ("web.roster.no_division", 400),
    RosterRefusal.ALREADY: ("web.roster.already", 409),
}


class Upload:
    """The upload form's fields, read part by part: the file is read up to the roster's
    size limit and only counted beyond it (the app's own body limit is the webhook's)."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}
        self.filename = ""
        self.content = b""
        self.size = 0

    @classmethod
    async def read(cls, request: web.Request) -> Upload:
        upload = cls()
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "file":
                upload.filename = part.filename or ""
                kept = bytearray()
                while chunk := await part.read_chunk():
                    upload.size += len(chunk)
                    if upload.size <= MAX_FILE_BYTES:
                        kept += chunk
                    elif upload.size > DRAIN_LIMIT:  # too large: the rest is not read
                        return upload
                upload.content = bytes(kept)
            elif part.name and len(upload.fields) < 10:
                upload.fields[part.name] = (await part.text())[:200]
        return upload

    @property
    def problem(self) -> RosterProblem | None:
        """No file chosen, or one over the size limit; else None (the parser checks it)."""
        if not self.filename and not self.size:
            return RosterProblem(None, None, "empty_file")
        if self.size <= MAX_FILE_BYTES:
            return None
        return RosterProblem(
            None,
            None,
            "file_too_large",
            {
                "size_mb": f"{self.size / 1024 / 1024:.1f}",
                "max_mb": MAX_FILE_BYTES // (1024 * 1024),
            },
        )


class RosterPages:
    def __init__(self, dashboard: Dashboard, headers: Mapping[str, str]) -> None:
        self.dashboard = dashboard
        self.headers = headers

    def _refused(self, request: web.Request, _: Gettext, refusal: RosterRefusal) -> web.Response:
        return self.dashboard.refused(request, _, _REFUSALS[refusal])

    def _form(
        self,
        request: web.Request,
        viewer: Viewer,
        _: Gettext,
        division: str,
        *,
        status: int = 200,
        problems: list[str] | None = None,
        preview: RosterPreview | None = None,
    ) -> web.Response:
        return self.dashboard.page(
            request,
            "roster.html.j2",
            _,
            status=status,
            viewer=viewer,
            division=division,
            problems=problems,
            preview=preview,
            summary=_summary(preview, _) if preview is not None else None,
            max_mb=MAX_FILE_BYTES // (1024 * 1024),
        )

    async def _admin(self, request: web.Request) -> tuple[Viewer, Gettext] | web.Response:
        """Who is asking, if an admin; else the page that says why not."""
        board = self.dashboard
        async with board.uow() as uow:
            asked = await board.signed_in(request, uow)
        if isinstance(asked, web.Response):
            return asked
        viewer, _ = asked
        if not may_import_roster(viewer.rights.permissions):
            return self._refused(request, _, RosterRefusal.NOT_ADMIN)
        return viewer, _

    async def page(self, request: web.Request) -> web.StreamResponse:
        asked = await self._admin(request)
        if isinstance(asked, web.Response):
            return asked
        viewer, _ = asked
        async with self.dashboard.uow() as uow:
            division = await roster_division(uow)
        return self._form(request, viewer, _, division)

    async def template(self, request: web.Request) -> web.StreamResponse:
        asked = await self._admin(request)
        if isinstance(asked, web.Response):
            return asked
        _ = asked[1]
        response = web.Response(
            body=roster_template_xlsx(),
            content_type=CONTENT_TYPES[".xlsx"],
            headers={
                "Content-Disposition": attachment(
                    "roster-template.xlsx", _.plain("web.roster.template_file")
                )
            },
        )
        response.headers.update(self.headers)
        return response

    async def upload(self, request: web.Request) -> web.StreamResponse:
        board = self.dashboard
        asked = await self._admin(request)  # who is asking, before a byte of the file is read
        if isinstance(asked, web.Response):
            return asked
        viewer, _ = asked
        multipart = request.content_type.startswith("multipart/")
        upload = await Upload.read(request) if multipart else Upload()
        if not form_is_genuine(viewer.csrf_token, upload.fields.get("csrf_token")):
            return board.refusal(request, _, "web.bad_form", 403, hint=False, also=None)
        division = upload.fields.get("division", "")
        found: RosterPreview | RosterRejected | RosterRefusal
        if (problem := upload.problem) is not None:
            found = RosterRejected([problem])
        else:
            async with board.uow() as uow:
                found = await upload_roster(
                    uow,
                    viewer.rights.permissions,
                    uploaded_by=viewer.participant.id,
                    filename=upload.filename,
                    content=upload.content,
                    division=division,
                    now=board.clock(),
                )
        if isinstance(found, RosterRefusal):
            return self._refused(request, _, found)
        if isinstance(found, RosterRejected):
            lines = describe_problems(found.problems, _.plain, limit=200).split("\n")
            return self._form(request, viewer, _, division, status=400, problems=lines)
        return self._form(request, viewer, _, found.division, preview=found)

    async def confirm(self, request: web.Request) -> web.StreamResponse:
        board = self.dashboard
        form = await request.post()
        token = form.get("csrf_token")
        upload_id = id_of(request.match_info["upload_id"])
        async with board.uow() as uow:
            asked = await board.signed_in(request, uow)
            if isinstance(asked, web.Response):
                return asked
            viewer, _ = asked
            if not form_is_genuine(viewer.csrf_token, token if isinstance(token, str) else None):
                return board.refusal(request, _, "web.bad_form", 403, hint=False, also=None)
            if upload_id is None:
                return self._refused(request, _, RosterRefusal.UNKNOWN)
            started = await confirm_roster(
                uow,
                viewer.rights.permissions,
                upload_id,
                confirmed_by=viewer.participant.id,
                division=str(form.get("division") or ""),
                retire_missing=form.get("retire_missing") == "1",
                locale=_.locale,
                now=board.clock(),
            )
        if isinstance(started, RosterRefusal):
            return self._refused(request, _, started)
        if isinstance(started, RosterRejected):  # the upload changed under it: never here
            lines = describe_problems(started.problems, _.plain, limit=200).split("\n")
            return self._form(request, viewer, _, "", status=400, problems=lines)
        background_of(request.app).start(
            run_roster_job(board.session_factory, started, clock=board.clock)
        )
        return see_other(f"{board.path}/roster/jobs/{started.job.id}", self.headers)

    async def _job(
        self, request: web.Request
    ) -> tuple[RosterJob | RosterRefusal, Gettext, Viewer] | web.Response:
        return await read_job(self.dashboard, request, roster_job, RosterRefusal.UNKNOWN)

    async def job_page(self, request: web.Request) -> web.StreamResponse:
        asked = await self._job(request)
        if isinstance(asked, web.Response):
            return asked
        found, _, viewer = asked
        if isinstance(found, RosterRefusal):
            return self._refused(request, _, found)
        job = found.job
        return self.dashboard.page(
            request,
            "roster_job.html.j2",
            _,
            viewer=viewer,
            **job_state(job, self.dashboard.clock()),
            lines=_outcome(found.outcome, _) if found.outcome is not None else [],
            api=f"{self.dashboard.path}/api/roster/jobs/{job.id}",
        )

    async def job_json(self, request: web.Request) -> web.StreamResponse:
        asked = await self._job(request)
        if isinstance(asked, web.Response):
            data, status = {"error": "signed_out"}, 401
        elif isinstance(found := asked[0], RosterRefusal):
            data, status = {"error": found.value}, _REFUSALS[found][1]
        else:
            data, status = job_data(found.job, [], self.dashboard.clock()), 200
        response = web.json_response(data, status=status)
        response.headers.update(self.headers)
        return response


def _kinds(counts: Mapping[Any, int], _: Gettext, key: str) -> str:
    return _.plain(
        key,
        regiments=counts.get("regiment", 0),  # a UnitKind is its value as a key
        schools=counts.get("school", 0),
        classes=counts.get("class", 0),
    )


def _missing_line(kind: str, label: str, classes: int, participants: int, _: Gettext) -> str:
    kind_name = _.plain(f"units.kind.{kind}")
    if kind == UnitKind.CLASS.value:
        return _.plain(
            "units.import.missing_class", kind=kind_name, unit=label, participants=participants
        ).strip()
    return _.plain(
        "units.import.missing_unit",
        kind=kind_name,
        unit=label,
        classes=classes,
        participants=participants,
    ).strip()


def _summary(preview: RosterPreview, _: Gettext) -> dict[str, Any]:
    """What the preview says, line by line."""
    result = preview.result
    schools = [u.name for u in result.new_units if u.kind is UnitKind.SCHOOL]
    changed = [
        _.plain(
            "web.roster.change",
            unit=change.unit.name,
            kind=_.plain(f"units.kind.{change.unit.kind.value}"),
            students_before=change.unit.students_enrolled,
            students=change.students,
            teachers_before=change.unit.teachers_enrolled,
            teachers=change.teachers,
        )
        for change in result.changed[:SHOWN]
    ]
    return {
        "rows": _.plain("web.roster.rows", rows=preview.rows),
        "created": _kinds(result.created, _, "web.roster.will_create"),
        "new_schools": schools[:SHOWN],
        "more_schools": max(0, len(schools) - SHOWN),
        "changed_count": len(result.changed),
        "changed": changed,
        "more_changed": max(0, len(result.changed) - SHOWN),
        "missing": [
            _missing_line(entry.unit.kind.value, entry.label, entry.classes, entry.participants, _)
            for entry in result.missing
        ],
    }


def _outcome(outcome: Mapping[str, Any], _: Gettext) -> list[str]:
    """What the import did, line by line, from what the job kept."""
    lines = [
        _.plain("web.roster.imported", rows=outcome["rows"]),
        _kinds(outcome["created"], _, "web.roster.created"),
        _.plain("web.roster.changed_done", count=outcome["changed"]),
    ]
    missing = outcome["missing"]
    if missing:
        key = "units.import.missing_retired" if outcome["retired"] else "units.import.missing_kept"
        lines.append(_.plain(key, count=len(missing)))
        lines += [
            _missing_line(m["kind"], m["label"], m["classes"], m["participants"], _)
            for m in missing
        ]
    return lines


def add_roster_routes(
    app: web.Application, dashboard: Dashboard, headers: Mapping[str, str]
) -> None:
    pages = RosterPages(dashboard, headers)
    background_of(app)  # made now: a started app takes no new state
    base = dashboard.path
    app.router.add_get(f"{base}/roster", pages.page)
    app.router.add_post(f"{base}/roster", pages.upload)
    app.router.add_get(f"{base}/roster/template.xlsx", pages.template)
    app.router.add_post(f"{base}/roster/{{upload_id}}/import", pages.confirm)
    app.router.add_get(f"{base}/roster/jobs/{{job_id}}", pages.job_page)
    app.router.add_get(f"{base}/api/roster/jobs/{{job_id}}", pages.job_json)
