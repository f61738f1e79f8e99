"""``pufa invites``: one invite per class (students) and per school (teachers)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from aiogram import Bot

from bot.config import Settings
from bot.factory import create_bot
from bot.invites import InviteCard, InvitePack, write_invite_pack
from quizzes.participants import Role
from quizzes.units import Unit, UnitKind
from storage.database import create_engine, create_session_factory
from storage.repositories import Repositories


def deep_link(bot_username: str, code: str) -> str:
    return f"https://t.me/{bot_username.lstrip('@')}?start={code}"


async def bot_username_of(settings: Settings) -> str:
    bot: Bot = create_bot(settings)
    try:
        me = await bot.get_me()
    finally:
        await bot.session.close()
    if not me.username:
        raise RuntimeError("the bot has no username")
    return me.username


async def invite_cards(repo: Repositories, bot_username: str) -> list[InviteCard]:
    """Cards for every school (teacher role) and class (student role), codes created once."""
    cards: list[InviteCard] = []
    for regiment in await repo.units.of_kind(UnitKind.REGIMENT):
        for school in await repo.units.children(regiment.id):
            targets: list[tuple[Unit, Role, str | None]] = [(school, Role.TEACHER, None)]
            targets += [(c, Role.STUDENT, c.name) for c in await repo.units.children(school.id)]
            for unit, role, class_name in targets:
                invite = await repo.invites.active_for(unit.id, role)
                label = (await repo.units.label(unit)).text()
                cards.append(
                    InviteCard(
                        code=invite.code,
                        link=deep_link(bot_username, invite.code),
                        regiment=regiment.name,
                        school=school.name,
                        class_name=class_name,
                        role=role.value,
                        label=label,
                    )
                )
    return cards


async def export_invites(
    settings: Settings,
    out_dir: Path,
    bot_username: str | None = None,
    *,
    on_progress: Callable[[int, int], None] | None = None,
) -> InvitePack:
    username = bot_username or await bot_username_of(settings)
    engine = create_engine(settings.database_url)
    try:
        async with create_session_factory(engine)() as session:
            repo = Repositories.over(session)
            cards = await invite_cards(repo, username)
            await session.commit()
    finally:
        await engine.dispose()
    return write_invite_pack(cards, out_dir, on_progress=on_progress)
