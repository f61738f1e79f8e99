"""The dashboard's activities page (``{admin path}/activities``): the offline activities
in the viewer's reach (kind, theme, day, school, headcounts, status) with their photos,
and for the bureau the buttons that confirm or reject a school's entry.

Thin, like the other views: read who is asking, call one use case of
:mod:`bot.application.activity_list` (which checks the rights for the page, every photo
and every press), render. A photo's address names the activity and the photo's place;
whoever opens it is checked again.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from bot.application.activity_list import (
    ActivityRefusal,
    activities_in_reach,
    activity_photo,
    review_from_page,
)
from bot.i18n import Gettext
from bot.web.campaign_page import Pages
from bot.web.reports_page import id_of, see_other
from quizzes.activity_kinds import kind_named
from quizzes.images import image_media_type

__all__ = ["ActivityPages", "add_activity_routes"]

_REFUSALS = {
    ActivityRefusal.NOT_IN_REACH: ("web.not_in_reach", 403),
    ActivityRefusal.UNKNOWN: ("web.publicity.unknown_activity", 404),
    ActivityRefusal.BAD_FORM: ("web.bad_form", 403),
    ActivityRefusal.ADMINS_ONLY: ("activity.review.admins_only", 403),
    ActivityRefusal.ALREADY: ("web.publicity.already_reviewed", 409),
}


class ActivityPages:
    def __init__(self, dashboard: Pages, headers: Mapping[str, str]) -> None:
        self.dashboard = dashboard
        self.headers = headers  # the dashboard's security headers, on every answer

    def _refused(self, request: web.Request, _: Gettext, refusal: ActivityRefusal) -> web.Response:
        return self.dashboard.refused(request, _, _REFUSALS[refusal])

    async def page(self, request: web.Request) -> web.StreamResponse:
        board = self.dashboard
        async with board.uow() as uow:
            asked = await board.signed_in(request, uow)
            if isinstance(asked, web.Response):
                return asked
            viewer, _ = asked
            found = await activities_in_reach(uow, viewer.rights)
        reviewed = id_of(request.query.get("reviewed"))
        return board.page(
            request,
            "activities.html.j2",
            _,
            viewer=viewer,
            activities=found,
            reviewed=reviewed,
            may_review=viewer.rights.permissions.is_admin,
            kind=lambda activity: _.plain(f"activity.kind.{kind_named(activity.kind).code}"),
        )

    async def photo(self, request: web.Request) -> web.StreamResponse:
        board = self.dashboard
        activity_id = id_of(request.match_info["activity_id"])
        position = id_of(request.match_info["position"])
        async with board.uow() as uow:
            asked = await board.signed_in(request, uow)
            if isinstance(asked, web.Response):
                return asked
            viewer, _ = asked
            found: bytes | ActivityRefusal = ActivityRefusal.UNKNOWN
            if activity_id is not None and position is not None:
                found = await activity_photo(uow, viewer.rights, activity_id, position)
        if isinstance(found, ActivityRefusal):
            return self._refused(request, _, found)
        kind = image_media_type(found)
        if kind is None:
            return self._refused(request, _, ActivityRefusal.UNKNOWN)
        response = web.Response(body=found, content_type=kind)
        response.headers.update(self.headers)
        return response

    async def review(self, request: web.Request) -> web.StreamResponse:
        board = self.dashboard
        form = await request.post()
        token = form.get("csrf_token")
        decision = form.get("decision")
        activity_id = id_of(request.match_info["activity_id"])
        async with board.uow() as uow:
            asked = await board.signed_in(request, uow)
            if isinstance(asked, web.Response):
                return asked
            viewer, _ = asked
            if activity_id is None or decision not in ("confirm", "reject"):
                return self._refused(request, _, ActivityRefusal.UNKNOWN)
            done = await review_from_page(
                uow,
                viewer,
                activity_id,
                confirm=decision == "confirm",
                csrf_token=token if isinstance(token, str) else None,
                now=board.clock(),
            )
        if isinstance(done, ActivityRefusal):
            return self._refused(request, _, done)
        location = f"{board.path}/activities?reviewed={done.id}#activity-{done.id}"
        return see_other(location, self.headers)


def add_activity_routes(
    app: web.Application, dashboard: Pages, headers: Mapping[str, str]
) -> None:
    pages = ActivityPages(dashboard, headers)
    base = dashboard.path
    app.router.add_get(f"{base}/activities", pages.page)
    app.router.add_get(f"{base}/activities/{{activity_id}}/photos/{{position}}", pages.photo)
    app.router.add_post(f"{base}/activities/{{activity_id}}/review", pages.review)
