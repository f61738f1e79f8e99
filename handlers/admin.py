"""Bureau staff: granting and revoking admin and school-coordinator rights."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.i18n import Gettext
from quizzes.participants import GrantKind, Participant
from quizzes.permissions import Permissions
from storage.repositories import Repositories


def _parse(args: str | None, *, revoke: bool) -> tuple[GrantKind, int, str | None] | None:
    """``admin <telegram id>`` or ``coordinator <telegram id> <school name or id>``; a
    revoke may leave the school out (every school the person coordinates)."""
    parts = (args or "").split(maxsplit=2)
    if len(parts) < 2 or not parts[1].isdigit():
        return None
    try:
        kind = GrantKind(parts[0].lower())
    except ValueError:
        return None
    school = parts[2].strip() if len(parts) == 3 else None
    if kind is GrantKind.ADMIN and school is not None:
        return None
    if kind is GrantKind.COORDINATOR and school is None and not revoke:
        return None
    return kind, int(parts[1]), school


async def grant_or_revoke(
    message: Message,
    command: CommandObject,
    participant: Participant,
    permissions: Permissions,
    repo: Repositories,
    _: Gettext,
) -> None:
    if not permissions.is_admin:
        await message.answer(_("errors.admins_only"))
        return
    parsed = _parse(command.args, revoke=command.command == "revoke")
    if parsed is None:
        await message.answer(_(f"grant.usage_{command.command}"))
        return
    kind, telegram_id, school_name = parsed
    target = await repo.participants.by_telegram_id(telegram_id)
    if target is None:
        await message.answer(_("grant.unknown_user", id=telegram_id))
        return
    who = target.display_name or str(telegram_id)
    unit_id = None
    where = ""
    if school_name is not None:
        schools = await repo.units.find_school(school_name)
        labels = await repo.units.display_labels(schools)
        if not schools:
            await message.answer(_("grant.unknown_school", school=school_name))
            return
        if len(schools) > 1:
            choices = [labels[school.id] for school in schools]
            example = choices[0].replace(" · ", " ")
            await message.answer(
                _(
                    "grant.ambiguous_school",
                    school=school_name,
                    choices=_.join(choices),
                    example=example,
                )
            )
            return
        unit_id, where = schools[0].id, labels[schools[0].id]
    if command.command == "revoke":
        removed = await repo.grants.revoke(target.id, kind, unit_id)
        await repo.commit()
        key = "grant.revoked" if removed else "grant.nothing_to_revoke"
        if unit_id is not None:
            key += "_school"
        await message.answer(_(key, who=who, kind=_(f"grant.kind.{kind.value}"), school=where))
        return
    added = await repo.grants.grant(target.id, kind, unit_id, granted_by=participant.telegram_id)
    await repo.commit()
    key = "grant.granted" if added else "grant.already"
    if unit_id is not None:
        key += "_school"
    await message.answer(_(key, who=who, kind=_(f"grant.kind.{kind.value}"), school=where))


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(grant_or_revoke, Command("grant", "revoke"))
    return router
