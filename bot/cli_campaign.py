"""``pufa campaign``: create campaigns from YAML, list them, draw the shortlist."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from bot.cli_support import settings_or_exit, terminal_gettext
from bot.cli_theme import THEME_HELP, theme_option
from bot.config import Settings
from quizzes.themes import Theme

__all__ = ["campaign"]


@click.group()
def campaign() -> None:
    """Quiz campaigns: create, list, shortlist, per-question statistics."""


@campaign.command("create")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--theme", "theme_text", help=f"{THEME_HELP} Default: its banks' theme when they agree."
)
def create(file: Path, theme_text: str | None) -> None:
    """Create a campaign from a YAML file (banks, questions, window, audience)."""
    settings = settings_or_exit()
    theme = theme_option(theme_text, settings)
    asyncio.run(_create(settings, file.read_text(encoding="utf-8"), theme))


async def _create(settings: Settings, text: str, theme: Theme | None = None) -> None:
    from bot.campaign_messages import describe_spec_problems
    from quizzes.campaigns import SpecError, parse_campaign_spec
    from storage.campaign_setup import create_campaign
    from storage.database import create_engine, create_session_factory
    from storage.migrate import prepare_database

    _ = terminal_gettext(settings)
    try:
        spec = parse_campaign_spec(text, settings.zone)
    except SpecError as error:
        raise click.ClickException(describe_spec_problems(error.problems, _)) from None
    engine = create_engine(settings.database_url)
    try:
        await prepare_database(engine)
        async with create_session_factory(engine)() as session:
            try:
                created = await create_campaign(session, spec, created_by=None, theme=theme)
            except SpecError as error:
                raise click.ClickException(describe_spec_problems(error.problems, _)) from None
            await session.commit()
    finally:
        await engine.dispose()
    made = created.campaign
    click.echo(
        _(
            "campaign.cli.created",
            id=made.id,
            name=made.name,
            opens=f"{made.opens_at.astimezone(settings.zone):%Y-%m-%d %H:%M}",
            closes=f"{made.closes_at.astimezone(settings.zone):%Y-%m-%d %H:%M}",
            pool=created.question_pool,
        )
    )


@campaign.command("list")
def list_campaigns() -> None:
    """List campaigns with their window and state."""
    settings = settings_or_exit()
    asyncio.run(_list(settings))


async def _list(settings: Settings) -> None:
    from datetime import UTC, datetime

    from storage.database import create_engine, create_session_factory
    from storage.repositories import Repositories

    _ = terminal_gettext(settings)
    engine = create_engine(settings.database_url)
    try:
        async with create_session_factory(engine)() as session:
            campaigns = await Repositories.over(session).campaigns.all()
    finally:
        await engine.dispose()
    now = datetime.now(UTC)
    for item in campaigns:
        click.echo(
            _(
                "campaign.cli.line",
                id=item.id,
                name=item.name,
                state=_(f"campaign.state.{item.state_at(now).value}"),
                opens=f"{item.opens_at.astimezone(settings.zone):%Y-%m-%d %H:%M}",
                closes=f"{item.closes_at.astimezone(settings.zone):%Y-%m-%d %H:%M}",
            )
        )


ROLES = ("student", "teacher", "parent")


@campaign.command("shortlist")
@click.argument("campaign_id", type=int)
@click.option("--top", "top_n", default=9, show_default=True, help="How many to rank.")
@click.option("--school", help="Rank within one school (name or number) instead of overall.")
@click.option(
    "--roles",
    default="student",
    show_default=True,
    help="Who is ranked: student, teacher, parent, comma-separated (the report counts "
    "students only).",
)
@click.option(
    "--record",
    is_flag=True,
    help="Keep the list as a selection (counted in the report); without it, only look.",
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="XLSX to write.")
def shortlist(
    campaign_id: int,
    top_n: int,
    school: str | None,
    roles: str,
    record: bool,
    out: Path | None,
) -> None:
    """Rank those who passed (score, then total time, then finishing time); --record keeps
    the list as a selection."""
    settings = settings_or_exit()
    from bot.shortlists import draw_shortlist
    from quizzes.participants import Role
    from quizzes.statistics import score_percent

    _ = terminal_gettext(settings)
    chosen = tuple(dict.fromkeys(r.strip() for r in roles.split(",") if r.strip()))
    if not chosen or any(role not in ROLES for role in chosen):
        raise click.BadParameter(
            _("campaign.cli.bad_roles", roles=roles, known=",".join(ROLES)), param_hint="--roles"
        )
    result = asyncio.run(
        draw_shortlist(
            settings,
            campaign_id,
            top_n,
            school,
            created_by=None,
            roles=tuple(Role(role) for role in chosen),
            record=record,
        )
    )
    for line in result.lines:
        click.echo(
            _(
                "campaign.cli.shortlist_line",
                rank=line.rank,
                name=line.name,
                school=line.school,
                percent=score_percent(line.percent),
                seconds=f"{line.total_ms / 1000:.1f}",
            )
        )
    target = out or Path(f"shortlist-{campaign_id}.xlsx")
    target.write_bytes(result.xlsx)
    if result.shortlist_id is not None:
        click.echo(_("campaign.cli.shortlist_saved", id=result.shortlist_id, path=str(target)))
    elif result.lines:
        click.echo(_("campaign.cli.shortlist_viewed", path=str(target)))
    else:
        click.echo(_("campaign.cli.shortlist_empty", path=str(target)))


@campaign.command("stats")
@click.argument("campaign_id", type=int)
def stats(campaign_id: int) -> None:
    """Per question: correct rate and the most chosen wrong option."""
    settings = settings_or_exit()
    from bot.shortlists import question_report

    click.echo(asyncio.run(question_report(settings, campaign_id)))
