"""Bureau staff: granting and revoking admin and school-coordinator rights."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.application import UnitOfWork
from bot.application.administration import (
    RightsChange,
    RightsOutcome,
    RightsStatus,
    change_rights,
    may_change_rights,
)
from bot.i18n import Gettext
from quizzes.participants import GrantKind, Participant
from quizzes.permissions import Permissions


def _parse(args: str | None, *, revoke: bool) -> RightsChange | None:
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
    return RightsChange(kind, int(parts[1]), school, revoke=revoke)


async def grant_or_revoke(
    message: Message,
    command: CommandObject,
    participant: Participant,
    permissions: Permissions,
    uow: UnitOfWork,
    _: Gettext,
) -> None:
    if not may_change_rights(permissions):
        await message.answer(_("errors.admins_only"))
        return
    change = _parse(command.args, revoke=command.command == "revoke")
    if change is None:
        await message.answer(_(f"grant.usage_{command.command}"))
        return
    outcome = await change_rights(uow, change, by=participant, viewer=permissions)
    await message.answer(_answer(change, outcome, _))


def _answer(change: RightsChange, outcome: RightsOutcome, _: Gettext) -> str:
    if outcome.status is RightsStatus.NOT_ALLOWED:
        return _("errors.admins_only")
    if outcome.status is RightsStatus.UNKNOWN_USER:
        return _("grant.unknown_user", id=change.telegram_id)
    if outcome.status is RightsStatus.UNKNOWN_SCHOOL:
        return _("grant.unknown_school", school=change.school)
    if outcome.status is RightsStatus.AMBIGUOUS_SCHOOL:
        example = outcome.choices[0].replace(" · ", " ")
        return _(
            "grant.ambiguous_school",
            school=change.school,
            choices=_.join(outcome.choices),
            example=example,
        )
    key = f"grant.{outcome.status.value}" + ("" if outcome.school is None else "_school")
    kind = _(f"grant.kind.{change.kind.value}")
    return _(key, who=outcome.who, kind=kind, school=outcome.school or "")


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(grant_or_revoke, Command("grant", "revoke"))
    return router
