"""Shortlists and per-question statistics, shared by the CLI and the chat commands."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from bot.campaign_messages import option_text
from bot.cli_support import terminal_gettext
from bot.config import Settings
from bot.shortlist_export import ShortlistLine, shortlist_xlsx
from quizzes.campaigns import Campaign
from quizzes.engine import Outcome, best_per_participant
from quizzes.participants import Role
from quizzes.permissions import Permissions
from quizzes.statistics import rounded_percent
from quizzes.units import Unit
from storage.database import create_engine, create_session_factory
from storage.quiz import KeptShortlist, QuestionStat, Ranked
from storage.repositories import Repositories

STUDENTS: tuple[Role, ...] = (Role.STUDENT,)


class Keep(StrEnum):
    """What drawing a list leaves behind."""

    NOTHING = "nothing"  # a look at the ranking (the command line without --record)
    VIEW = "view"  # what /top showed, kept so that a confirmation can be checked against it
    SELECTION = "selection"  # a selection, counted in the report (confirmed at once)


@dataclass(frozen=True, slots=True)
class ShortlistResult:
    shortlist_id: int | None  # None: nothing kept
    lines: list[ShortlistLine]
    xlsx: bytes


class ShortlistError(Exception):
    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


class Confirmation(StrEnum):
    """How a press of "confirm this selection" ended (``shortlist.confirm.<value>``)."""

    CONFIRMED = "confirmed"
    ALREADY = "already"  # a second press, or someone else confirmed it first
    GONE = "gone"  # no such list, or not one this person may confirm
    CHANGED = "changed"  # the ranking moved since the list was shown


async def draw(
    repo: Repositories,
    campaign: Campaign,
    top_n: int,
    scope: Unit | None,
    roles: Sequence[Role] = STUDENTS,
) -> list[Ranked]:
    """The best ``top_n`` of the campaign (in ``scope``): one attempt per person (their
    best), people of ``roles`` only, and only attempts at or above the campaign's pass
    mark, ranked by score, then time taken, then who finished first."""
    ranked = await repo.attempts.standings(campaign.id, scope.path if scope else None)
    role_of = await repo.shortlists.roles_of(r.standing.participant_id for r in ranked)
    rules = campaign.rules
    eligible = [
        r
        for r in ranked
        if role_of.get(r.standing.participant_id) in roles
        and Outcome(r.standing.points, rules.questions, rules.pass_mark).passed
    ]
    # best_per_participant hands back the very Standing objects it was given.
    by_standing = {id(r.standing): r for r in eligible}
    best = best_per_participant([r.standing for r in eligible])
    return [by_standing[id(standing)] for standing in best[:top_n]]


async def shortlist_for(
    repo: Repositories,
    campaign: Campaign,
    top_n: int,
    scope: Unit | None,
    created_by: int | None,
    settings: Settings,
    _: Callable[..., str],
    *,
    roles: Sequence[Role] = STUDENTS,
    keep: Keep = Keep.VIEW,
) -> ShortlistResult:
    """Rank the campaign's best attempts (see :func:`draw`) and keep the list as ``keep``
    says: viewing a ranking is not selecting anyone."""
    chosen = await draw(repo, campaign, top_n, scope, roles)
    shortlist_id = None
    if chosen and keep is not Keep.NOTHING:
        shortlist_id = await repo.shortlists.record(
            campaign.id,
            scope.id if scope else None,
            top_n,
            chosen,
            created_by,
            roles=roles,
            confirmed_at=datetime.now(UTC) if keep is Keep.SELECTION else None,
        )
    lines: list[ShortlistLine] = []
    for rank, entry in enumerate(chosen, start=1):
        unit_id = int(entry.unit_path.strip("/").split("/")[-1])
        unit = await repo.units.get(unit_id)
        school = await repo.units.school_of(unit) if unit else None
        label = (await repo.units.label(unit)).text() if unit else ""
        lines.append(
            ShortlistLine(
                rank=rank,
                name=entry.display_name,
                school=school.name if school else "",
                unit=label,
                points=entry.standing.points,
                percent=100.0 * entry.standing.points / campaign.rules.questions,
                total_ms=entry.standing.total_ms,
                finished_at=entry.standing.finished_at,
                flagged=entry.flagged,
            )
        )
    title = _(
        "shortlist.title",
        campaign=campaign.name,
        scope=scope.name if scope else _("shortlist.overall"),
        top=top_n,
    )
    return ShortlistResult(shortlist_id, lines, shortlist_xlsx(title, lines, settings.zone, _))


def may_confirm(kept: KeptShortlist, permissions: Permissions) -> bool:
    """Admins confirm any list; a coordinator the lists of their own school."""
    return permissions.is_admin or (
        kept.scope_unit_id is not None and kept.scope_unit_id in permissions.coordinator_of
    )


async def confirm_shortlist(
    repo: Repositories, shortlist_id: int, permissions: Permissions, confirmed_by: int
) -> tuple[Confirmation, KeptShortlist | None]:
    """Make the list /top showed a selection, if this person may and it is still the
    ranking: the list is drawn again and must name the same people in the same order."""
    kept = await repo.shortlists.get(shortlist_id)
    if kept is None or not may_confirm(kept, permissions):
        return Confirmation.GONE, None
    if kept.confirmed_at is not None:
        return Confirmation.ALREADY, kept
    campaign = await repo.campaigns.get(kept.campaign_id)
    scope = await repo.units.get(kept.scope_unit_id) if kept.scope_unit_id else None
    if campaign is None or (kept.scope_unit_id is not None and scope is None):
        return Confirmation.GONE, None
    now = await draw(repo, campaign, kept.top_n, scope, kept.roles or STUDENTS)
    if tuple(r.standing.participant_id for r in now) != kept.participant_ids:
        return Confirmation.CHANGED, kept
    if not await repo.shortlists.confirm(kept.id, confirmed_by, datetime.now(UTC)):
        return Confirmation.ALREADY, kept
    return Confirmation.CONFIRMED, kept


async def draw_shortlist(
    settings: Settings,
    campaign_id: int,
    top_n: int,
    school: str | None,
    created_by: int | None,
    *,
    roles: Sequence[Role] = STUDENTS,
    record: bool = False,
) -> ShortlistResult:
    """``pufa campaign shortlist``: the same ranking as ``/top``; kept as a selection
    (counted in the report) only with ``record``."""
    import click

    _ = terminal_gettext(settings)
    engine = create_engine(settings.database_url)
    try:
        async with create_session_factory(engine)() as session:
            repo = Repositories.over(session)
            campaign = await repo.campaigns.get(campaign_id)
            if campaign is None:
                raise click.ClickException(_("campaign.cli.unknown", id=campaign_id))
            scope = None
            if school is not None:
                schools = await repo.units.find_school(school)
                if len(schools) != 1:
                    raise click.ClickException(_("campaign.cli.unknown_school", school=school))
                scope = schools[0]
            keep = Keep.SELECTION if record else Keep.NOTHING
            result = await shortlist_for(
                repo, campaign, top_n, scope, created_by, settings, _, roles=roles, keep=keep
            )
            await repo.commit()
            return result
    finally:
        await engine.dispose()


STEM_SHOWN = 40  # characters of a question's stem in the per-question statistics


def wrong_answer(stat: QuestionStat, _: Callable[..., str]) -> str | None:
    """The most chosen wrong answer of a question, by its text in the reader's language
    (each participant saw the options in an order of their own); None when nobody chose a
    wrong one. The chat's /qstats and the dashboard's item analysis both name it so."""
    if not stat.most_chosen_wrong:
        return None
    return _("quiz.answer_separator").join(
        option_text(stat.question, original, _) for original in stat.most_chosen_wrong
    )


async def question_lines(repo: Repositories, campaign_id: int, _: Callable[..., str]) -> list[str]:
    """One line per question, lowest correct rate first. Each participant saw the options
    in an order of their own, so the most chosen wrong answer is named by its text."""
    lines = []
    for stat in await repo.attempts.question_stats(campaign_id):
        stem = stat.question.stem
        stem = stem if len(stem) <= STEM_SHOWN else stem[: STEM_SHOWN - 1] + "…"
        rate = str(rounded_percent(stat.rate, 0))
        wrong = wrong_answer(stat, _)
        if wrong is None:
            lines.append(_("qstats.line_no_wrong", stem=stem, answers=stat.answers, rate=rate))
            continue
        lines.append(
            _(
                "qstats.line",
                stem=stem,
                answers=stat.answers,
                rate=rate,
                wrong=wrong,
                wrong_count=stat.most_chosen_wrong_count,
            )
        )
    return lines


async def question_report(settings: Settings, campaign_id: int) -> str:
    _ = terminal_gettext(settings)
    engine = create_engine(settings.database_url)
    try:
        async with create_session_factory(engine)() as session:
            lines = await question_lines(Repositories.over(session), campaign_id, _)
    finally:
        await engine.dispose()
    return "\n".join(lines) or _("campaign.stats.none")
