"""``pufa participant``: staff handling a person's request at a terminal."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import click

from bot.cli_support import settings_or_exit, terminal_gettext

if TYPE_CHECKING:
    from bot.application.web_participants import Person
    from bot.config import Settings

__all__ = ["participant"]


@click.group()
def participant() -> None:
    """Participants' personal information."""


@participant.command("erase")
@click.argument("telegram_id", type=int, required=False)
@click.option(
    "--participant-id",
    type=int,
    help="The internal number instead (`pufa participant web` lists those of the web pages).",
)
@click.option(
    "--recovery-code",
    help="The recovery code a web participant was shown when they joined, instead.",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def participant_erase(
    telegram_id: int | None, participant_id: int | None, recovery_code: str | None, yes: bool
) -> None:
    """Erase a participant's personal information, as /forgetme does.

    Give the Telegram id of someone who uses the chat; someone who joined on the web
    pages has none: give the recovery code they were shown when they joined (it proves
    the request is theirs), or their internal number.

    Deleted: display name, language, real name for certificates, a pending consent code,
    grants, a web participant's recovery code and devices, and every trace of the
    Telegram id. Kept: the anonymous facts the reports count, so the figures of past
    periods do not change. With PUFA_REDIS_URL set, an open chat dialogue of theirs is
    cleared too.
    """
    settings = settings_or_exit()
    _ = terminal_gettext(settings)
    if sum(given is not None for given in (telegram_id, participant_id, recovery_code)) != 1:
        raise click.UsageError(_("privacy.cli.one_of"))
    if telegram_id is None:
        _erase_person(settings, participant_id, recovery_code, yes)
        return
    if not yes:
        click.confirm(_("privacy.cli.confirm", telegram_id=telegram_id), abort=True)
    erased = asyncio.run(_erase(telegram_id))
    if erased is None:
        raise click.ClickException(_("privacy.cli.not_found", telegram_id=telegram_id))
    participant_id, names, grants = erased
    click.echo(
        _(
            "privacy.cli.erased",
            telegram_id=telegram_id,
            id=participant_id,
            names=names,
            grants=grants,
        )
    )


@participant.command("web")
@click.option("--school", required=True, help="The school (id or name).")
@click.option("--class", "class_name", help="One of its classes (else the whole school).")
def participant_web(school: str, class_name: str | None) -> None:
    """List who joined on the web pages in a school or class: internal number, display
    name, class and day of joining, to erase one who has lost their recovery code."""
    settings = settings_or_exit()
    _ = terminal_gettext(settings)
    found = asyncio.run(_web_people(settings, school, class_name))
    where = f"{school} {class_name}" if class_name else school
    if found is None:
        raise click.ClickException(_("privacy.cli.no_unit", unit=where))
    if not found:
        click.echo(_("privacy.cli.no_web_people", unit=where))
        return
    for person in found:
        joined = person.participant.joined_at
        day = joined.astimezone(settings.zone).date().isoformat() if joined else "—"
        click.echo(
            f"{person.participant.id}\t{person.participant.display_name or ''}"
            f"\t{person.unit_label}\t{day}"
        )


def _erase_person(
    settings: Settings, participant_id: int | None, recovery_code: str | None, yes: bool
) -> None:
    """Erase by internal number or recovery code: the same erasure, shown before it is done."""
    _ = terminal_gettext(settings)
    person = asyncio.run(_find_person(settings, participant_id, recovery_code))
    if person is None:
        if recovery_code is not None:
            raise click.ClickException(_("privacy.cli.no_code"))
        raise click.ClickException(_("privacy.cli.no_participant", id=participant_id))
    found = person.participant
    who = _(
        "privacy.cli.who",
        id=found.id,
        name=found.display_name or "—",
        unit=person.unit_label or "—",
        door=_("privacy.cli.door_telegram" if found.telegram_id else "privacy.cli.door_web"),
    )
    if not yes:
        click.confirm(_("privacy.cli.confirm_person", who=who), abort=True)
    erased = asyncio.run(_forget(settings, found.id))
    if erased is None:  # erased in between, by someone else
        raise click.ClickException(_("privacy.cli.no_participant", id=found.id))
    names, grants = erased
    click.echo(_("privacy.cli.erased_person", who=who, names=names, grants=grants))


async def _find_person(
    settings: Settings, participant_id: int | None, recovery_code: str | None
) -> Person | None:
    from bot.application.web_participants import (
        participant_key,
        person_by_id,
        person_by_recovery_code,
    )
    from bot.cli_support import unit_of_work

    async with unit_of_work(settings) as uow:
        if recovery_code is not None:  # the code's hash is keyed by the bot token
            key = participant_key(settings.token)
            return await person_by_recovery_code(uow, recovery_code, key=key)
        assert participant_id is not None
        return await person_by_id(uow, participant_id)


async def _forget(settings: Settings, participant_id: int) -> tuple[int, int] | None:
    from datetime import UTC, datetime

    from bot.application.privacy import forget
    from bot.application.web_participants import person_by_id
    from bot.cli_support import unit_of_work

    async with unit_of_work(settings) as uow:
        person = await person_by_id(uow, participant_id)
        done = await forget(uow, person.participant, now=datetime.now(UTC)) if person else None
    if done is None:
        return None
    if done.telegram_id is not None and settings.redis_url and settings.bot_token is not None:
        await _clear_dialogue(settings.redis_url, settings.token, done.telegram_id)
    return int(done.certificate_name), done.grants


async def _web_people(
    settings: Settings, school: str, class_name: str | None
) -> list[Person] | None:
    from bot.application.staff_accounts import find_unit
    from bot.application.web_participants import web_people
    from bot.cli_support import unit_of_work

    async with unit_of_work(settings) as uow:
        unit = await find_unit(uow, school, class_name)
        return await web_people(uow, unit) if unit is not None else None


async def _erase(telegram_id: int) -> tuple[int, int, int] | None:
    from datetime import UTC, datetime

    from storage.database import create_engine, create_session_factory
    from storage.erasure import ParticipantErasure

    settings = settings_or_exit()
    engine = create_engine(settings.database_url)
    try:
        async with create_session_factory(engine)() as session:
            erasure = ParticipantErasure(session)
            participant_id = await erasure.by_telegram_id(telegram_id)
            if participant_id is None:
                return None
            done = await erasure.erase(participant_id, datetime.now(UTC))
            await session.commit()
    finally:
        await engine.dispose()
    assert done is not None
    if settings.redis_url is not None and settings.bot_token is not None:
        await _clear_dialogue(settings.redis_url, settings.token, telegram_id)
    return participant_id, int(done.certificate_name), done.grants


async def _clear_dialogue(redis_url: str, token: str, telegram_id: int) -> None:
    """The bot keeps open dialogues in Redis under the private chat's key."""
    from aiogram.fsm.storage.base import StorageKey
    from aiogram.fsm.storage.redis import RedisStorage

    storage = RedisStorage.from_url(redis_url)
    try:
        key = StorageKey(
            bot_id=int(token.split(":", 1)[0]), chat_id=telegram_id, user_id=telegram_id
        )
        await storage.set_state(key, None)
        await storage.set_data(key, {})
    finally:
        await storage.close()
