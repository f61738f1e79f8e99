"""Shortlists and per-question statistics, shared by the CLI and the chat commands."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.campaign_messages import option_text
from bot.cli_support import terminal_gettext
from bot.config import Settings
from bot.shortlist_export import ShortlistLine, shortlist_xlsx
from quizzes.campaigns import Campaign
from quizzes.engine import best_per_participant
from quizzes.units import Unit
from storage.database import create_engine, create_session_factory
from storage.repositories import Repositories


@dataclass(frozen=True, slots=True)
class ShortlistResult:
    shortlist_id: int
    lines: list[ShortlistLine]
    xlsx: bytes


class ShortlistError(Exception):
    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


async def shortlist_for(
    repo: Repositories,
    campaign: Campaign,
    top_n: int,
    scope: Unit | None,
    created_by: int | None,
    settings: Settings,
    _: Callable[..., str],
) -> ShortlistResult:
    """Rank the campaign's best attempts (in ``scope``), keep the top ``top_n`` on record."""
    ranked = await repo.attempts.standings(campaign.id, scope.path if scope else None)
    # best_per_participant hands back the very Standing objects it was given.
    by_standing = {id(r.standing): r for r in ranked}
    best = best_per_participant([r.standing for r in ranked])
    chosen = [by_standing[id(standing)] for standing in best[:top_n]]
    shortlist_id = await repo.shortlists.record(
        campaign.id, scope.id if scope else None, top_n, chosen, created_by
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
    title = _("shortlist.title", campaign=campaign.name, top=top_n)
    return ShortlistResult(shortlist_id, lines, shortlist_xlsx(title, lines, settings.zone, _))


async def draw_shortlist(
    settings: Settings,
    campaign_id: int,
    top_n: int,
    school: str | None,
    created_by: int | None,
) -> ShortlistResult:
    """``pufa campaign shortlist``: the same list as ``/top``, recorded for audit."""
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
            result = await shortlist_for(repo, campaign, top_n, scope, created_by, settings, _)
            await repo.commit()
            return result
    finally:
        await engine.dispose()


STEM_SHOWN = 40  # characters of a question's stem in the per-question statistics


async def question_lines(repo: Repositories, campaign_id: int, _: Callable[..., str]) -> list[str]:
    """One line per question, lowest correct rate first. Each participant saw the options
    in an order of their own, so the most chosen wrong answer is named by its text."""
    lines = []
    for stat in await repo.attempts.question_stats(campaign_id):
        stem = stat.question.stem
        stem = stem if len(stem) <= STEM_SHOWN else stem[: STEM_SHOWN - 1] + "…"
        rate = f"{100 * stat.rate:.0f}"
        if not stat.most_chosen_wrong:
            lines.append(_("qstats.line_no_wrong", stem=stem, answers=stat.answers, rate=rate))
            continue
        wrong = _("quiz.answer_separator").join(
            option_text(stat.question, original, _) for original in stat.most_chosen_wrong
        )
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
