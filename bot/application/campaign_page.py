"""The dashboard's page of one quiz campaign: its progress against enrolment, item
analysis by question level, the score distribution, the shortlist with its audit trail,
and the answers given faster than a person can read the question.

Everything is within the viewer's reach, read afresh on every request: an admin sees the
whole tree (or the unit asked for), a coordinator their schools, a teacher their class.
The progress is the overview's own section (the report's figures over the campaign's
days); the item analysis is :meth:`AttemptRepository.question_stats`, the very figures
``/qstats`` shows, of the answers of people in reach; the score distribution and the
flags read the finished attempts the shortlist ranks. Names of people appear only for
staff, and only display names (never a certificate's real name).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.application.dashboard import (
    OverviewRefusal,
    Section,
    Viewer,
    campaign_days,
    section_of,
    units_in_view,
)
from bot.application.live_figures import FigureSource, fresh
from quizzes.bank import Level
from quizzes.campaigns import Campaign
from quizzes.engine import MIN_READING_SECONDS, best_per_participant
from quizzes.participants import Role
from quizzes.units import Unit
from storage.quiz import KeptShortlist, QuestionStat, Ranked, ShortlistName
from storage.unit_of_work import UnitOfWork

__all__ = [
    "BANDS",
    "CampaignPage",
    "CampaignPageRefusal",
    "DrawnList",
    "FlagCount",
    "FlaggedPerson",
    "LevelItems",
    "QuestionStat",
    "ScoreBand",
    "ShortlistRule",
    "campaign_page",
    "score_bands",
]

# The score bands of the distribution, in percent of the campaign's questions: the pass
# mark's usual 60 and every ten above it.
BANDS: tuple[tuple[int, int], ...] = ((0, 59), (60, 69), (70, 79), (80, 89), (90, 100))
SHORTLISTS_SHOWN = 20  # the newest kept lists of the campaign


class CampaignPageRefusal(StrEnum):
    UNKNOWN_CAMPAIGN = "unknown_campaign"


@dataclass(frozen=True, slots=True)
class ScoreBand:
    low: int  # percent, both ends included
    high: int
    people: int


@dataclass(frozen=True, slots=True)
class LevelItems:
    """The questions of one school level, lowest correct rate first."""

    level: Level
    questions: tuple[QuestionStat, ...]


@dataclass(frozen=True, slots=True)
class FlagCount:
    """Answers given too fast in one school or class (finished attempts)."""

    unit_id: int
    name: str
    answers: int
    people: int


@dataclass(frozen=True, slots=True)
class FlaggedPerson:
    display_name: str
    unit: str
    answers: int  # too-fast answers over their finished attempts


@dataclass(frozen=True, slots=True)
class ShortlistRule:
    """How a list was drawn (:func:`bot.shortlists.draw`): the best ``top_n`` of
    ``roles`` in ``scope``, each person's best attempt at or above the campaign's pass
    mark, by score, then time taken, then who finished first."""

    top_n: int
    roles: tuple[Role, ...]  # empty: drawn before the roles were kept
    pass_mark: int
    scope: str | None  # the school it ranked; None: every school


@dataclass(frozen=True, slots=True)
class DrawnList:
    """A list kept for the campaign: who drew it, when, by which rule, whether it became
    a selection; and its names (display names, in rank order)."""

    kept: KeptShortlist
    drawn_by: str | None  # display name; None: drawn on the command line
    confirmed_by: str | None
    rule: ShortlistRule
    places: tuple[tuple[ShortlistName, str], ...]  # each with its unit's label


@dataclass(frozen=True, slots=True)
class CampaignPage:
    campaign: Campaign
    scope: Unit | None  # None: all of the viewer's units
    scopes: tuple[Unit, ...]  # what the viewer may open, for the navigation
    partial: bool  # the viewer sees part of the campaign (a school's or a class's)
    staff: bool  # may read names (the shortlist, the flagged people)
    progress: Section
    items: tuple[LevelItems, ...]
    bands: tuple[ScoreBand, ...]
    flags: tuple[FlagCount, ...]
    flagged: tuple[FlaggedPerson, ...]  # staff only, most flags first
    shortlists: tuple[DrawnList, ...]  # staff only, newest first
    reading_seconds: float  # the least time to read a question; faster is flagged


def score_bands(percents: Sequence[float]) -> tuple[ScoreBand, ...]:
    """How many scores fall in each of :data:`BANDS` (a score is floored to whole
    percent: 59.9 is below a pass mark of 60)."""
    counts = Counter(
        next(low for low, high in BANDS if int(percent) <= high) for percent in percents
    )
    return tuple(ScoreBand(low, high, counts.get(low, 0)) for low, high in BANDS)


def _by_level(stats: Sequence[QuestionStat]) -> tuple[LevelItems, ...]:
    levels: dict[Level, list[QuestionStat]] = {}
    for stat in stats:  # already lowest correct rate first
        levels.setdefault(stat.question.level, []).append(stat)
    return tuple(LevelItems(level, tuple(levels[level])) for level in sorted(levels))


async def campaign_page(
    uow: UnitOfWork,
    viewer: Viewer,
    campaign_id: int,
    unit_id: int | None,
    *,
    now: datetime,
    zone: ZoneInfo,
    total_name: str,
    figures: FigureSource = fresh,
) -> CampaignPage | CampaignPageRefusal | OverviewRefusal:
    """The page of ``campaign_id`` for ``unit_id`` (default: all of the viewer's units),
    or why not; its progress from ``figures``, as the overview's. Ends its reads before
    returning."""
    campaign = await uow.campaigns.get(campaign_id)
    if campaign is None:
        await uow.commit()
        return CampaignPageRefusal.UNKNOWN_CAMPAIGN
    rights = viewer.rights
    found = await units_in_view(uow, rights, unit_id)
    if isinstance(found, OverviewRefusal):
        return found
    scopes, chosen = found
    scope = chosen[0] if unit_id is not None else None
    whole = rights.permissions.is_admin and (scope is None or scope.parent_id is None)
    within = None if whole else [unit.path for unit in chosen]
    stats = await uow.attempts.question_stats(campaign.id, within)
    ranked: list[Ranked] = []
    for unit in [None] if whole else chosen:
        ranked += await uow.attempts.standings(campaign.id, unit.path if unit else None)
    await uow.commit()

    today = now.astimezone(zone).date()
    progress, _groups = await section_of(
        uow,
        chosen,
        f"c{campaign.id}",
        campaign_days(campaign, zone, today),
        campaign,
        now=now,
        zone=zone,
        total_name=total_name,
        figures=figures,
    )
    questions = campaign.rules.questions or 1
    bands = score_bands(
        [100.0 * s.points / questions for s in best_per_participant([r.standing for r in ranked])]
    )
    staff = rights.permissions.is_staff
    flags, flagged = await _flags(uow, ranked, staff=staff)
    shortlists = await _shortlists(uow, viewer, campaign) if staff else ()
    await uow.commit()
    return CampaignPage(
        campaign=campaign,
        scope=scope,
        scopes=tuple(scopes),
        partial=not whole,
        staff=staff,
        progress=progress,
        items=_by_level(stats),
        bands=bands,
        flags=flags,
        flagged=flagged,
        shortlists=shortlists,
        reading_seconds=MIN_READING_SECONDS,
    )


def _unit_of(entry: Ranked) -> int:
    return int(entry.unit_path.strip("/").split("/")[-1])


async def _flags(
    uow: UnitOfWork, ranked: Sequence[Ranked], *, staff: bool
) -> tuple[tuple[FlagCount, ...], tuple[FlaggedPerson, ...]]:
    """Too-fast answers per class (or school, for people who belong to one directly),
    and for staff the people who gave them."""
    answers: Counter[int] = Counter()
    people: dict[int, set[int]] = {}
    per_person: Counter[int] = Counter()
    who: dict[int, tuple[str, int]] = {}
    for entry in ranked:
        if entry.flagged <= 0:
            continue
        unit_id = _unit_of(entry)
        answers[unit_id] += entry.flagged
        people.setdefault(unit_id, set()).add(entry.standing.participant_id)
        per_person[entry.standing.participant_id] += entry.flagged
        who[entry.standing.participant_id] = (entry.display_name, unit_id)
    units = await uow.units.by_ids(answers)
    labels = await uow.units.display_labels(units.values())
    counts = tuple(
        sorted(
            (
                FlagCount(unit_id, labels.get(unit_id, ""), count, len(people[unit_id]))
                for unit_id, count in answers.items()
            ),
            key=lambda f: (-f.answers, f.name),
        )
    )
    if not staff:
        return counts, ()
    listed = tuple(
        FlaggedPerson(who[pid][0], labels.get(who[pid][1], ""), count)
        for pid, count in sorted(per_person.items(), key=lambda item: (-item[1], item[0]))
    )
    return counts, listed


async def _shortlists(
    uow: UnitOfWork, viewer: Viewer, campaign: Campaign
) -> tuple[DrawnList, ...]:
    """The kept lists the viewer may read: every one for an admin, a coordinator's those
    drawn for their schools."""
    permissions = viewer.rights.permissions
    kept = [
        (shortlist, places)
        for shortlist, places in await uow.shortlists.of_campaign(campaign.id, SHORTLISTS_SHOWN)
        if permissions.is_admin
        or (
            shortlist.scope_unit_id is not None
            and shortlist.scope_unit_id in permissions.coordinator_of
        )
    ]
    unit_ids = {s.scope_unit_id for s, _places in kept if s.scope_unit_id is not None}
    unit_ids |= {p.unit_id for _s, places in kept for p in places if p.unit_id is not None}
    units = await uow.units.by_ids(unit_ids)
    labels = await uow.units.display_labels(units.values())
    names: dict[int, str] = {}
    for telegram_id in {
        t for s, _places in kept for t in (s.created_by, s.confirmed_by) if t is not None
    }:
        person = await uow.participants.by_telegram_id(telegram_id)
        names[telegram_id] = (person.display_name or "") if person is not None else ""
    return tuple(
        DrawnList(
            kept=shortlist,
            drawn_by=names.get(shortlist.created_by) if shortlist.created_by else None,
            confirmed_by=names.get(shortlist.confirmed_by) if shortlist.confirmed_by else None,
            rule=ShortlistRule(
                shortlist.top_n,
                shortlist.roles,
                campaign.rules.pass_mark,
                labels.get(shortlist.scope_unit_id) if shortlist.scope_unit_id else None,
            ),
            places=tuple((p, labels.get(p.unit_id, "") if p.unit_id else "") for p in places),
        )
        for shortlist, places in kept
    )
