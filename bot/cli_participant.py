"""``pufa participant``: staff handling a person's request at a terminal."""

from __future__ import annotations

import asyncio

import click

from bot.cli_support import settings_or_exit, terminal_gettext

__all__ = ["participant"]


@click.group()
def participant() -> None:
    """Participants' personal information."""


@participant.command("erase")
@click.argument("telegram_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def participant_erase(telegram_id: int, yes: bool) -> None:
    """Erase a participant's personal information, as /forgetme does.

    Deleted: display name, language, real name for certificates, a pending consent code,
    grants, and every trace of the Telegram id. Kept: the anonymous facts the reports
    count, so the figures of past periods do not change. With PUFA_REDIS_URL set, an open
    chat dialogue of theirs is cleared too.
    """
    settings = settings_or_exit()
    _ = terminal_gettext(settings)
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
