"""Results of a campaign: which campaign a command means, and its per-question figures.

``/qstats`` and ``/top`` name a campaign by its number or mean the latest one;
:func:`chosen_campaign` is that one reading for both. The per-question figures are for
teachers and staff only, and hold no personal data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from bot.shortlists import question_lines
from quizzes.campaigns import Campaign
from quizzes.participants import Role
from quizzes.permissions import Permissions
from storage.unit_of_work import UnitOfWork

__all__ = [
    "LONGEST_NUMBER",
    "QuestionFigures",
    "ResultsRefusal",
    "chosen_campaign",
    "may_read_question_figures",
    "question_figures",
]

LONGEST_NUMBER = 18  # digits: any longer is past every id (and BIGINT)


class ResultsRefusal(StrEnum):
    NOT_ALLOWED = "not_allowed"  # neither a teacher nor staff
    NO_CAMPAIGN = "no_campaign"  # none asked for, and there is none yet
    UNKNOWN_CAMPAIGN = "unknown_campaign"  # no campaign of the number asked for


@dataclass(frozen=True, slots=True)
class QuestionFigures:
    """One line per question, lowest correct rate first; none when nobody answered."""

    campaign: Campaign
    lines: list[str]


async def chosen_campaign(uow: UnitOfWork, number: str | None) -> Campaign | None:
    """The campaign of this number (ASCII digits), else the latest one when no number is
    given; None when there is no such campaign. A number too long for an id is none."""
    if number is None:
        campaigns = await uow.campaigns.all()
        return campaigns[-1] if campaigns else None
    number = number.lstrip("0") or "0"
    return await uow.campaigns.get(int(number)) if len(number) <= LONGEST_NUMBER else None


def may_read_question_figures(viewer: Permissions, role: Role | None) -> bool:
    """Teachers, and staff who stand in for them."""
    return viewer.may_teach(role)


async def question_figures(
    uow: UnitOfWork,
    number: str | None,
    *,
    viewer: Permissions,
    role: Role | None,
    _: Callable[..., str],
) -> QuestionFigures | ResultsRefusal:
    """The per-question figures of the campaign ``number`` (the latest when None), with
    the most chosen wrong answer named in the viewer's language (``_``). Ends its reads
    before returning, so that no connection is held while the answer is sent."""
    if not may_read_question_figures(viewer, role):
        return ResultsRefusal.NOT_ALLOWED
    campaign = await chosen_campaign(uow, number)
    if campaign is None:
        await uow.commit()
        if number is None:
            return ResultsRefusal.NO_CAMPAIGN
        return ResultsRefusal.UNKNOWN_CAMPAIGN
    lines = await question_lines(uow, campaign.id, _)
    await uow.commit()
    return QuestionFigures(campaign, lines)
