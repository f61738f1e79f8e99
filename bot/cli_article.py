"""``pufa article``: publicity articles at a terminal."""

from __future__ import annotations

import asyncio
from datetime import datetime, tzinfo
from pathlib import Path

import click

from bot.cli_support import settings_or_exit
from bot.cli_theme import THEME_HELP, theme_option
from bot.config import Settings
from quizzes.participants import Role

__all__ = ["article"]


@click.group()
def article() -> None:
    """Publicity articles pushed to subscribers."""


@article.command("create")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--author", type=int, help="Telegram id of the author; progress messages go to them."
)
@click.option("--dry-run", is_flag=True, help="Check the file and count recipients only.")
@click.option("--theme", "theme_text", help=f"{THEME_HELP} Default: 其他.")
def create(file: Path, author: int | None, dry_run: bool, theme_text: str | None) -> None:
    """Create an article from Markdown with YAML front matter (title, audience,
    publish_at, cover, link, channel). Without publish_at it is sent at once by the
    running bot; with ``channel: true`` it also goes to PUFA_PUBLICITY_CHANNEL."""
    from bot.article_file import ArticleFileError, read_article_file, store_article_file
    from storage.models import utcnow

    settings = settings_or_exit()
    theme = theme_option(theme_text, settings)
    try:
        parsed = read_article_file(file, settings.zone, utcnow())
        created = asyncio.run(
            store_article_file(
                settings.database_url,
                parsed,
                author=author,
                locale=settings.default_locale,
                dry_run=dry_run,
                channel=settings.publicity_channel,
                theme=theme,
            )
        )
    except ArticleFileError as error:
        click.echo(f"{file}: not created", err=True)
        for problem in error.problems:
            click.echo(f"  {problem}", err=True)
        raise SystemExit(1) from None
    when = (
        created.publish_at.astimezone(settings.zone).strftime("%Y-%m-%d %H:%M")
        if created.publish_at
        else None
    )
    also = f" and channel {settings.publicity_channel}" if parsed.channel else ""
    if dry_run:
        click.echo(
            f"{file}: ok, {created.recipients} recipients{also}" + (f", at {when}" if when else "")
        )
    elif created.broadcast_id is not None:
        click.echo(
            f"article {created.article_id}: broadcast {created.broadcast_id} to "
            f"{created.recipients} recipients{also} started (the running bot sends it)"
        )
    else:
        click.echo(
            f"article {created.article_id}: scheduled for {when} ({settings.timezone}), "
            f"{created.recipients} recipients now{also}"
        )


@article.command("send")
@click.argument("article_id", type=int)
def send(article_id: int) -> None:
    """Send now an article that was missed (due while the bot was down, beyond
    PUFA_SCHEDULER_GRACE_S); the running bot sends it, progress to its author."""
    settings = settings_or_exit()
    sent = asyncio.run(_send_missed(settings.database_url, article_id, settings))
    if sent is None:
        click.echo(f"article {article_id}: not a missed article (see pufa jobs)", err=True)
        raise SystemExit(1)
    broadcast_id, total = sent
    click.echo(
        f"article {article_id}: broadcast {broadcast_id} to {total} recipients started "
        "(the running bot sends it)"
    )


async def _send_missed(
    database_url: str, article_id: int, settings: Settings
) -> tuple[int, int] | None:
    from storage.database import create_engine, create_session_factory
    from storage.models import utcnow
    from storage.publicity import PublicityRepository

    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            repo = PublicityRepository(session)
            broadcast = await repo.send_missed(
                article_id,
                utcnow(),
                settings.default_locale,
                channel=settings.publicity_channel,
            )
            await repo.commit()
    finally:
        await engine.dispose()
    return None if broadcast is None else (broadcast.id, broadcast.total)


@click.group()
def lecture() -> None:
    """Online public lectures: announced, reminded an hour before, checked into."""


@lecture.command("create")
@click.option("--title", required=True)
@click.option("--speaker", required=True)
@click.option("--at", "at", required=True, help="Start, YYYY-MM-DD HH:MM in PUFA_TIMEZONE.")
@click.option("--minutes", default=60, show_default=True, type=int)
@click.option("--link", help="Where the lecture is held (a tracked link).")
@click.option("--school", "schools", multiple=True, help="Audience: a school (repeatable).")
@click.option("--regiment", "regiments", multiple=True, help="Audience: a regiment.")
@click.option(
    "--role", "roles", multiple=True, type=click.Choice(["student", "teacher", "parent"])
)
@click.option("--author", type=int, help="Telegram id of the organiser (gets the progress).")
def lecture_create(
    title: str,
    speaker: str,
    at: str,
    minutes: int,
    link: str | None,
    schools: tuple[str, ...],
    regiments: tuple[str, ...],
    roles: tuple[str, ...],
    author: int | None,
) -> None:
    """Schedule a lecture: its announcement goes out now (through the running bot), its
    reminder an hour before it starts; the check-in button works while it runs."""
    from bot.article_file import ArticleFileError
    from quizzes.publicity import TIME_FORMAT, valid_link

    settings = settings_or_exit()
    try:
        starts_at = datetime.strptime(at, TIME_FORMAT).replace(tzinfo=settings.zone)
    except ValueError:
        raise click.BadParameter("write it as YYYY-MM-DD HH:MM", param_hint="--at") from None
    if link is not None and not valid_link(link):
        raise click.BadParameter("an address starting with http(s)://", param_hint="--link")
    try:
        lecture_id, recipients, reminder = asyncio.run(
            _create_lecture(
                settings.database_url,
                title=title,
                speaker=speaker,
                starts_at=starts_at,
                minutes=minutes,
                link=link,
                schools=list(schools),
                regiments=list(regiments),
                roles=[Role(r) for r in roles],
                author=author,
                locale=settings.default_locale,
                zone=settings.zone,
            )
        )
    except (ArticleFileError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"lecture {lecture_id}: announcement to {recipients} recipients started"
        + (", reminder scheduled" if reminder else " (it starts within the hour: no reminder)")
    )


async def _create_lecture(
    database_url: str,
    *,
    title: str,
    speaker: str,
    starts_at: datetime,
    minutes: int,
    link: str | None,
    schools: list[str],
    regiments: list[str],
    roles: list[Role],
    author: int | None,
    locale: str,
    zone: tzinfo,
) -> tuple[int, int, bool]:
    from bot.article_file import resolve_audience
    from bot.i18n import Translator
    from bot.lectures import schedule_lecture
    from storage.database import create_engine, create_session_factory
    from storage.migrate import prepare_database
    from storage.models import utcnow

    engine = create_engine(database_url)
    try:
        await prepare_database(engine)
        async with create_session_factory(engine)() as session:
            audience = await resolve_audience(
                session,
                schools=schools,
                regiments=regiments,
                unit_ids=[],
                roles=roles,
            )
            scheduled = await schedule_lecture(
                session,
                title=title,
                speaker=speaker,
                starts_at=starts_at,
                minutes=minutes,
                link=link,
                audience=audience,
                created_by=author or 0,
                zone=zone,
                now=utcnow(),
                _=Translator.load(locale).bind(locale),
            )
            await session.commit()
    finally:
        await engine.dispose()
    return scheduled.lecture.id, scheduled.announcement.total, scheduled.reminder is not None
