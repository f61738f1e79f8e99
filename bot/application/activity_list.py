"""The dashboard's activities page: the offline activities in the viewer's reach with
their photos, and the bureau's review of a school's entry.

In reach is what the dashboard's rights allow (:class:`WebRights`): everything for the
bureau, a coordinator's schools and their classes, a teacher's own class. A photo is
served only to someone who may see its activity, whoever asks for its address. The
review is the chat's own (:func:`bot.application.activities.review_activity`: bureau
admins only), behind the form's CSRF token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.application.activities import Listed, ReviewOutcome, _listed, review_activity
from bot.application.dashboard import Viewer, WebRights, viewer_scopes
from bot.application.report_jobs import form_is_genuine
from quizzes.activities import Activity, ActivityStatus
from storage.unit_of_work import UnitOfWork

__all__ = [
    "ActivityRefusal",
    "ListedActivity",
    "activities_in_reach",
    "activity_photo",
    "review_from_page",
]

SHOWN = 100  # the latest activities on the page


class ActivityRefusal(StrEnum):
    NOT_IN_REACH = "not_in_reach"
    UNKNOWN = "unknown"
    BAD_FORM = "bad_form"
    ADMINS_ONLY = "admins_only"
    ALREADY = "already"  # it already has the status asked for


@dataclass(frozen=True, slots=True)
class ListedActivity:
    listed: Listed  # the activity, with its unit's label
    photos: tuple[int, ...]  # the positions of the photos the page can show


async def activities_in_reach(uow: UnitOfWork, rights: WebRights) -> list[ListedActivity]:
    """The latest activities of the viewer's units, latest day first, any status."""
    found: dict[int, Activity] = {}
    for scope in await viewer_scopes(uow, rights):
        for activity in await uow.activities.within(scope, limit=SHOWN):
            found[activity.id] = activity
    latest = sorted(found.values(), key=lambda a: (a.held_on, a.id), reverse=True)[:SHOWN]
    listed = await _listed(uow, latest)
    photos = await uow.activities.photos_kept(a.id for a in latest)
    await uow.commit()
    return [ListedActivity(item, tuple(photos.get(item.activity.id, ()))) for item in listed]


async def _in_reach(
    uow: UnitOfWork, rights: WebRights, activity_id: int
) -> Activity | ActivityRefusal:
    activity = await uow.activities.get(activity_id)
    if activity is None:
        return ActivityRefusal.UNKNOWN
    unit = await uow.units.get(activity.unit_id)
    if unit is None or not rights.may_see(unit):
        return ActivityRefusal.NOT_IN_REACH
    return activity


async def activity_photo(
    uow: UnitOfWork, rights: WebRights, activity_id: int, position: int
) -> bytes | ActivityRefusal:
    """A photo's picture for someone who may see its activity."""
    found = await _in_reach(uow, rights, activity_id)
    content = None
    if isinstance(found, Activity):
        content = await uow.activities.photo(activity_id, position)
    await uow.commit()
    if isinstance(found, ActivityRefusal):
        return found
    return content if content is not None else ActivityRefusal.UNKNOWN


async def review_from_page(
    uow: UnitOfWork,
    viewer: Viewer,
    activity_id: int,
    *,
    confirm: bool,
    csrf_token: str | None,
    now: datetime,
) -> Activity | ActivityRefusal:
    """Confirm or reject a school's entry from the page, as ``/activities`` does in chat
    (which lets the bureau change its mind); pressing the same again, from a second tab
    say, changes nothing and says so."""
    if not form_is_genuine(viewer.csrf_token, csrf_token):
        return ActivityRefusal.BAD_FORM
    found = await _in_reach(uow, viewer.rights, activity_id)
    wanted = ActivityStatus.CONFIRMED if confirm else ActivityStatus.REJECTED
    if isinstance(found, Activity) and found.status is wanted:
        found = ActivityRefusal.ALREADY
    if isinstance(found, ActivityRefusal):
        await uow.commit()
        return found
    outcome, reviewed = await review_activity(
        uow,
        activity_id,
        confirm=confirm,
        by=viewer.participant.id,
        permissions=viewer.rights.permissions,
        now=now,
    )
    if outcome is ReviewOutcome.NOT_ALLOWED:
        await uow.commit()
        return ActivityRefusal.ADMINS_ONLY
    if reviewed is None:
        return ActivityRefusal.UNKNOWN
    return reviewed
