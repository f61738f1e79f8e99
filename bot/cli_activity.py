"""``pufa activity`` and ``pufa vice-principal``: the year's offline work, at a terminal.

What the command line records is the bureau's own word: it is confirmed at once. The
review commands confirm or reject what schools recorded in chat.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path

import click

from bot.cli_support import settings_or_exit, terminal_gettext, unit_of_work
from bot.config import Settings

__all__ = ["activity", "vice_principal"]

BUREAU = None  # the command line records as the bureau, with no participant behind it


@click.group()
def activity() -> None:
    """Offline activities: template, import, list, confirm, reject."""


@activity.command("template")
@click.argument("out", default="activity-template.xlsx", type=click.Path(path_type=Path))
def activity_template(out: Path) -> None:
    """Write the empty activity template (.xlsx) schools fill in."""
    from quizzes.activity_import import activity_template_xlsx

    settings = settings_or_exit()
    out.write_bytes(activity_template_xlsx())
    click.echo(terminal_gettext(settings)("activity.cli.written", path=out))


@activity.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def activity_import(file: Path) -> None:
    """Import a filled-in template: every row, or none with each problem's row and column."""
    settings = settings_or_exit()
    asyncio.run(_import(settings, file.read_bytes(), file.name))


async def _import(settings: Settings, content: bytes, filename: str) -> None:
    from bot.application.activities import import_activities
    from bot.roster_messages import describe_problems
    from quizzes.activity_import import ActivityImportError
    from quizzes.permissions import Permissions

    _ = terminal_gettext(settings)
    async with unit_of_work(settings) as uow:
        try:
            result = await import_activities(
                uow,
                content,
                filename,
                by=BUREAU,
                permissions=Permissions(is_admin=True),
                now=datetime.now(UTC),
                zone=settings.zone,
            )
        except ActivityImportError as error:
            click.echo(_("activity.cli.rejected", count=len(error.problems)), err=True)
            listed = describe_problems(error.problems, _, limit=1000, catalog="activity.problem")
            click.echo(listed, err=True)
            raise SystemExit(1) from None
    status = _(f"activity.status.{result.status.value}")
    click.echo(
        _("activity.cli.imported", recorded=result.recorded, already=result.already, status=status)
    )


@activity.command("list")
@click.option("--pending", is_flag=True, help="Only what waits for the bureau's review.")
def activity_list(pending: bool) -> None:
    """The latest activities (all schools), newest first."""
    settings = settings_or_exit()
    asyncio.run(_list(settings, pending))


async def _list(settings: Settings, pending: bool) -> None:
    from bot.application.activities import recent_activities

    _ = terminal_gettext(settings)
    async with unit_of_work(settings) as uow:
        found = await recent_activities(uow, pending_only=pending)
    if not found:
        click.echo(_("activity.cli.none"))
    for listed in found:
        item = listed.activity
        click.echo(
            _(
                "activity.cli.line",
                id=item.id,
                day=item.held_on.isoformat(),
                school=listed.unit_label,
                kind=_(f"activity.kind.{item.activity_kind.code}"),
                title=item.title,
                students=item.headcount.students,
                teachers=item.headcount.teachers,
                parents=item.headcount.parents,
                status=_(f"activity.status.{item.status.value}"),
            )
        )


@activity.command("confirm")
@click.argument("activity_id", type=int)
def activity_confirm(activity_id: int) -> None:
    """Confirm a school's activity: the report counts it."""
    settings = settings_or_exit()
    asyncio.run(_review(settings, activity_id, confirm=True, note=""))


@activity.command("reject")
@click.argument("activity_id", type=int)
@click.option("--note", default="", help="Why, for the school.")
def activity_reject(activity_id: int, note: str) -> None:
    """Reject a school's activity: the report leaves it out."""
    settings = settings_or_exit()
    asyncio.run(_review(settings, activity_id, confirm=False, note=note))


async def _review(settings: Settings, activity_id: int, *, confirm: bool, note: str) -> None:
    from bot.application.activities import ReviewOutcome, review_activity
    from quizzes.permissions import Permissions

    _ = terminal_gettext(settings)
    async with unit_of_work(settings) as uow:
        outcome, reviewed = await review_activity(
            uow,
            activity_id,
            confirm=confirm,
            by=BUREAU,
            permissions=Permissions(is_admin=True),
            note=note,
            now=datetime.now(UTC),
        )
    if outcome is not ReviewOutcome.DONE or reviewed is None:
        raise click.ClickException(_("activity.cli.not_found", id=activity_id))
    status = _(f"activity.status.{reviewed.status.value}")
    click.echo(_("activity.cli.reviewed", id=reviewed.id, title=reviewed.title, status=status))


@click.group("vice-principal")
def vice_principal() -> None:
    """Each school's 法治副校长 (legal vice-principal)."""


@vice_principal.command("add")
@click.option("--school", required=True, help='Full name, e.g. "131团 中心小学".')
@click.option("--name", required=True)
@click.option("--organisation", required=True, help="e.g. 第七师中级人民法院.")
@click.option("--appointed", required=True, help="YYYY-MM-DD.")
def vice_principal_add(school: str, name: str, organisation: str, appointed: str) -> None:
    """Record a school's 法治副校长 (again with a later date when replaced)."""
    settings = settings_or_exit()
    _ = terminal_gettext(settings)
    try:
        day = date.fromisoformat(appointed.strip())
    except ValueError:
        raise click.ClickException(_("activity.cli.bad_day", value=appointed)) from None
    asyncio.run(_appoint(settings, school, name, organisation, day))


async def _appoint(
    settings: Settings, school_name: str, name: str, organisation: str, day: date
) -> None:
    from bot.application.activities import appoint_vice_principal

    _ = terminal_gettext(settings)
    async with unit_of_work(settings) as uow:
        done = await appoint_vice_principal(uow, school_name, name, organisation, day)
    if not done.school_label and not done.candidates:
        raise click.ClickException(_("activity.cli.no_school", name=school_name))
    if not done.school_label:
        listed = "、".join(done.candidates)
        raise click.ClickException(
            _("activity.cli.many_schools", name=school_name, schools=listed)
        )
    key = "activity.cli.appointed" if done.added else "activity.cli.already_appointed"
    click.echo(
        _(key, school=done.school_label, name=name, organisation=organisation, day=day.isoformat())
    )
