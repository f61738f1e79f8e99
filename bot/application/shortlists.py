"""The shortlist in chat: ``/top`` ranks a campaign's best students, and a press of the
button under the list makes it a selection, which the report counts.

Looking is not selecting: :func:`top_students` keeps the list as shown, and
:func:`confirm_shown_list` confirms it only if the presser may and the ranking has not
moved. The ranking itself is :mod:`bot.shortlists`, shared with the command line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from bot.application.results import chosen_campaign
from bot.config import Settings
from bot.shortlists import Confirmation, ShortlistResult, confirm_shortlist, shortlist_for
from quizzes.campaigns import Campaign
from quizzes.permissions import Permissions
from quizzes.units import Unit
from storage.quiz import KeptShortlist
from storage.unit_of_work import UnitOfWork

__all__ = [
    "Confirmation",
    "ShortlistRefusal",
    "TopStudents",
    "confirm_shown_list",
    "may_rank",
    "top_students",
]


class ShortlistRefusal(StrEnum):
    NOT_STAFF = "not_staff"
    NO_CAMPAIGN = "no_campaign"  # none asked for, and there is none yet
    UNKNOWN_CAMPAIGN = "unknown_campaign"  # no campaign of the number asked for


@dataclass(frozen=True, slots=True)
class TopStudents:
    """The list as drawn: ``scope`` None is every school (an admin's view)."""

    campaign: Campaign
    scope: Unit | None
    result: ShortlistResult


def may_rank(viewer: Permissions) -> bool:
    """Admins rank every school, coordinators their own; nobody else ranks."""
    return viewer.is_staff


async def top_students(
    uow: UnitOfWork,
    top_n: int,
    campaign_id: int | None,
    *,
    viewer: Permissions,
    drawn_by: int,
    settings: Settings,
    _: Callable[..., str],
) -> TopStudents | ShortlistRefusal:
    """The best ``top_n`` students of the campaign (the latest when ``campaign_id`` is
    None) in the viewer's reach, kept as viewed so that a confirmation can be checked
    against it, and committed. ``_`` titles the spreadsheet."""
    if not may_rank(viewer):
        return ShortlistRefusal.NOT_STAFF
    campaign = await chosen_campaign(uow, None if campaign_id is None else str(campaign_id))
    if campaign is None:
        await uow.commit()
        if campaign_id is None:
            return ShortlistRefusal.NO_CAMPAIGN
        return ShortlistRefusal.UNKNOWN_CAMPAIGN
    scope = None
    if not viewer.is_admin:
        scope = await uow.units.get(sorted(viewer.coordinator_of)[0])
    result = await shortlist_for(uow, campaign, top_n, scope, drawn_by, settings, _)
    await uow.commit()
    return TopStudents(campaign, scope, result)


async def confirm_shown_list(
    uow: UnitOfWork, shortlist_id: int, *, viewer: Permissions, confirmed_by: int
) -> tuple[Confirmation, KeptShortlist | None]:
    """Make the list kept under ``shortlist_id`` a selection (see
    :func:`bot.shortlists.confirm_shortlist` for the checks), and commit."""
    outcome = await confirm_shortlist(uow, shortlist_id, viewer, confirmed_by)
    await uow.commit()
    return outcome
