"""``pufa``: the command line for running the bot and for bureau staff at a terminal."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import traceback
from collections.abc import Awaitable, Callable
from functools import wraps
from pathlib import Path
from typing import ParamSpec, TypeVar

import click

from bot.cli_activity import activity, vice_principal
from bot.cli_bank import bank
from bot.cli_participant import participant
from bot.cli_staff import staff
from bot.cli_support import failure_line, settings_or_exit, terminal_gettext
from bot.config import SettingsError, load_settings
from bot.log_limits import limit_tracebacks
from bot.logging_setup import LogFormat, configure_logging

P = ParamSpec("P")
T = TypeVar("T")


def _run(coroutine: Awaitable[T]) -> T:
    try:
        return asyncio.run(coroutine)  # type: ignore[arg-type]
    except SettingsError as error:
        raise click.ClickException(str(error)) from None


def _async_command(func: Callable[P, Awaitable[T]]) -> Callable[P, T]:
    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        return _run(func(*args, **kwargs))

    return wrapper


class _Commands(click.Group):
    """Ends a command that failed for a reason its user can fix (a setting, a server that
    cannot be reached) with one line naming it, not a traceback (``-v`` shows that too)."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as error:
            line = failure_line(error)
            if line is None:
                raise
            if ctx.params.get("verbose"):
                traceback.print_exception(error)
            raise click.ClickException(line) from None


# This project's own loggers speak at INFO; libraries only from WARNING, unless -v.
_OWN_LOGGERS = ("bot", "handlers", "quizzes", "storage")


@click.group(
    cls=_Commands,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages, and tracebacks.")
def main(verbose: bool) -> None:
    """Pufa Bot: legal-education campaigns for schools, in Telegram."""
    # Unless whoever runs us (tests) configured logging: then theirs.
    configured = not configure_logging(
        logging.DEBUG if verbose else logging.WARNING, _log_format()
    )
    if not verbose:
        for name in _OWN_LOGGERS:
            logging.getLogger(name).setLevel(logging.INFO)
        if not configured:  # an outage fails every update alike: a traceback a minute
            limit_tracebacks()


def _log_format() -> LogFormat:
    """``PUFA_LOG_FORMAT``; text while the settings do not load: the command that needs
    them says what is wrong with them."""
    try:
        return load_settings().log_format
    except SettingsError:
        return "text"


@main.command(short_help="Run the bot (long polling, or a webhook server).")
def run() -> None:
    """Run the bot: long polling, or a webhook server when PUFA_WEBHOOK_URL is set."""
    settings = settings_or_exit()
    settings.token  # noqa: B018  (fail now, with one line, if the token is missing)
    from bot.app import serve

    with contextlib.suppress(KeyboardInterrupt):
        _run(serve(settings))


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@_async_command
async def db_upgrade() -> None:
    """Apply migrations up to the newest revision."""
    from storage.database import create_engine
    from storage.migrate import prepare_database

    engine = create_engine(settings_or_exit().database_url)
    try:
        await prepare_database(engine)
    finally:
        await engine.dispose()
    click.echo("Database is up to date.")


from bot.cli_db import db_backup, db_restore  # noqa: E402

db.add_command(db_backup)
db.add_command(db_restore)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8081, show_default=True, type=int)
@click.option("--latency-ms", default=0.0, show_default=True, help="Added delay per request.")
@click.option("--no-limits", is_flag=True, help="Do not enforce Telegram's rate limits.")
def sandbox(host: str, port: int, latency_ms: float, no_limits: bool) -> None:
    """Run the local Bot API emulator on its own."""
    from bot.sandbox.config import SandboxConfig
    from bot.sandbox.server import serve_forever

    config = SandboxConfig(latency_ms=latency_ms, enforce_limits=not no_limits)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_forever(config, host, port))


@main.command()
@click.option("--participants", default=300, show_default=True, help="Simulated users.")
@click.option(
    "--out", "out_dir", default="demo-out", show_default=True, type=click.Path(path_type=Path)
)
@click.option(
    "--no-wait",
    is_flag=True,
    help="Stop at the end even in a terminal (by default a terminal keeps the dashboard up).",
)
def demo(participants: int, out_dir: Path, no_wait: bool) -> None:
    """Run the whole story on SQLite and the sandbox; files go to --out. In a terminal the
    bot and its dashboard keep running at the end until Ctrl-C."""
    from bot.demo import run_demo

    # The demo reports the 429s it provoked itself; one log line per wait would drown it.
    logging.getLogger("bot.retry").setLevel(logging.WARNING)
    serve = not no_wait and sys.stdin.isatty() and sys.stdout.isatty()
    ok = asyncio.run(run_demo(out_dir, participants=participants, serve=serve))
    sys.exit(0 if ok else 1)


@main.group()
def units() -> None:
    """The unit tree: regiments, schools, classes."""


@units.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--division", default="第七师", show_default=True, help="Name of the root unit.")
@click.option(
    "--retire-missing",
    is_flag=True,
    help="Retire the classes and schools the file no longer lists (participants are kept).",
)
def units_import(file: Path, division: str, retire_missing: bool) -> None:
    """Import or update a roster (.xlsx or .csv): regiment, school, class, enrolment."""
    _run(_import_units(file.read_bytes(), file.name, division, retire_missing))


async def _import_units(
    content: bytes, filename: str, division: str, retire_missing: bool = False
) -> None:
    from bot.roster_messages import describe_import, describe_problems
    from quizzes.roster import MAX_ROWS_CORPS, RosterError, parse_roster
    from storage.database import create_engine, create_session_factory
    from storage.roster_import import import_roster

    settings = settings_or_exit()
    _ = terminal_gettext(settings)
    try:
        rows = parse_roster(content, filename, max_rows=MAX_ROWS_CORPS)
    except RosterError as error:
        click.echo(_("units.import.rejected", count=len(error.problems)), err=True)
        click.echo(describe_problems(error.problems, _, limit=1000), err=True)
        raise SystemExit(1) from None

    def progress(done: int, total: int) -> None:  # units written, on one line
        click.echo(f"\r{done}/{total}", nl=done == total, err=True)

    engine = create_engine(settings.database_url)
    try:
        from storage.migrate import prepare_database

        await prepare_database(engine)
        async with create_session_factory(engine)() as session:
            result = await import_roster(
                session, rows, division, retire_missing=retire_missing, progress=progress
            )
            await session.commit()
    finally:
        await engine.dispose()
    click.echo(describe_import(result, len(rows), _))


@units.command("template")
@click.argument("out", default="roster-template.xlsx", type=click.Path(path_type=Path))
def units_template(out: Path) -> None:
    """Write an empty roster template (.xlsx) to fill in."""
    from quizzes.roster import roster_template_xlsx

    out.write_bytes(roster_template_xlsx())
    click.echo(str(out))


@units.command("list")
@_async_command
async def units_list() -> None:
    """Print the unit tree with enrolment and registered participants."""
    from bot.units_report import unit_tree_lines
    from storage.database import create_engine, create_session_factory

    engine = create_engine(settings_or_exit().database_url)
    try:
        async with create_session_factory(engine)() as session:
            for line in await unit_tree_lines(session):
                click.echo(line)
    finally:
        await engine.dispose()


@main.group(invoke_without_command=True)
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help="Folder to write.")
@click.option("--bot-username", help="The bot's @username (asked from Telegram if omitted).")
@click.pass_context
def invites(ctx: click.Context, out_dir: Path | None, bot_username: str | None) -> None:
    """Write invite links and QR codes per school and class (--out DIR)."""
    if ctx.invoked_subcommand is not None:
        return
    if out_dir is None:
        raise click.UsageError("give --out DIR, or a subcommand")
    from bot.invite_export import export_invites

    def progress(done: int, total: int) -> None:
        if done == total or done % 10 == 0:
            click.echo(f"\r{done}/{total}", nl=done == total, err=True)

    pack = _run(export_invites(settings_or_exit(), out_dir, bot_username, on_progress=progress))
    click.echo(f"{pack.cards} invites, {pack.schools} schools: {pack.html_path}")


@invites.command("revoke")
@click.argument("code")
@_async_command
async def invites_revoke(code: str) -> None:
    """Switch off an invite code; the next export creates a new one for that unit."""
    from storage.database import create_engine, create_session_factory
    from storage.repositories import InviteRepository

    engine = create_engine(settings_or_exit().database_url)
    try:
        async with create_session_factory(engine)() as session:
            invite = await InviteRepository(session).revoke(code)
            await session.commit()
    finally:
        await engine.dispose()
    if invite is None:
        raise click.ClickException(f"no invite code {code!r}")
    click.echo(f"revoked {code}")


@main.command()
@click.option("--runs", default=0, show_default=True, help="Also show the N latest job runs.")
@_async_command
async def jobs(runs: int) -> None:
    """List upcoming scheduled jobs, planned from the database as the bot would, and the
    articles missed (due beyond PUFA_SCHEDULER_GRACE_S: `pufa article send ID`)."""
    from datetime import timedelta

    from bot.scheduler import planned_jobs
    from storage.models import utcnow

    settings = settings_or_exit()
    plan = await planned_jobs(settings)
    click.echo(f"next run ({settings.timezone})  job")
    for job_id, when in plan:
        click.echo(f"{when:%Y-%m-%d %H:%M:%S %a}        {job_id}")
    from storage.database import create_engine, create_session_factory
    from storage.publicity import PublicityRepository
    from storage.scheduler import JobRunRepository

    engine = create_engine(settings.database_url)
    try:
        async with create_session_factory(engine)() as session:
            publicity = PublicityRepository(session)
            beyond = utcnow() - timedelta(seconds=settings.scheduler_grace_s)
            missed = await publicity.missed_articles() + [
                article  # the bot marks it missed at its next look
                for article in await publicity.scheduled_articles()
                if article.publish_at is not None and article.publish_at < beyond
            ]
            recent = await JobRunRepository(session).recent(runs) if runs else []
    finally:
        await engine.dispose()
    if missed:
        click.echo("\nmissed (due beyond the grace, not sent; `pufa article send ID` sends it)")
        for article in missed:
            due = article.publish_at.astimezone(settings.zone) if article.publish_at else None
            click.echo(f"{due:%Y-%m-%d %H:%M:%S %a}        article {article.id}  {article.title}")
    if not runs:
        return
    click.echo("\ndue                        job  (outcome)")
    for run in recent:
        due = run.due_at.astimezone(settings.zone)
        if run.error:
            outcome = "failed: " + run.error.strip().splitlines()[-1]
        else:
            outcome = "ok" if run.finished_at else "unfinished"
        click.echo(f"{due:%Y-%m-%d %H:%M:%S}  {run.job_id}  ({outcome}, {run.claimed_by})")


main.add_command(bank)

from bot.cli_campaign import campaign  # noqa: E402

main.add_command(campaign)


@main.command()
@click.option("--from", "start", required=True, help="First day, YYYY-MM-DD (inclusive).")
@click.option("--to", "end", required=True, help="Last day, YYYY-MM-DD (inclusive).")
@click.option("--unit", default="ROOT", show_default=True, help="ROOT, a unit id or a name.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path))
@click.option("--locale", default="zh-CN", show_default=True, type=click.Choice(["zh-CN", "en"]))
@click.option(
    "--templates", type=click.Path(file_okay=False, path_type=Path), help="Own templates."
)
@_async_command
async def report(
    start: str, end: str, unit: str, out_dir: Path, locale: str, templates: Path | None
) -> None:
    """Write the report section (MD, DOCX), participation XLSX, CSV and chart to --out."""
    from bot.reports import compile_report, resolve_scope
    from bot.reports.compile import ScopeError
    from bot.reports.format import period_problem
    from quizzes.statistics import PeriodError, period_between
    from storage.database import create_engine, create_session_factory

    settings = settings_or_exit()
    try:
        period = period_between(start, end)
    except PeriodError as error:
        _ = terminal_gettext(settings)
        raise click.BadParameter(period_problem(error, _, settings.default_locale)) from None
    engine = create_engine(settings.database_url)
    session_factory = create_session_factory(engine)

    def progress(step: str, done: int, total: int) -> None:
        click.echo(f"[{done}/{total}] {step}", err=True)

    try:
        async with session_factory() as session:
            scope = await resolve_scope(session, unit)
        result = await compile_report(
            session_factory,
            scope,
            period,
            zone=settings.zone,
            locale=locale,
            templates=templates,
            progress=progress,
        )
    except ScopeError as error:
        raise click.ClickException(str(error)) from None
    finally:
        await engine.dispose()
    for path in result.write(out_dir):
        click.echo(str(path))


from bot.cli_article import article, lecture  # noqa: E402

main.add_command(article)
main.add_command(lecture)
main.add_command(participant)
main.add_command(activity)
main.add_command(vice_principal)
main.add_command(staff)
