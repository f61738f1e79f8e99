"""Staff rights: granting and revoking admin and school-coordinator rights.

Only an admin grants or revokes a right, of either kind. A coordinator's right is for
one school, named as people type it (by id, by name, or with its regiment where two
regiments have a school of that name); a revoke that names no school takes every school
away.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from quizzes.participants import GrantKind, Participant
from quizzes.permissions import Permissions
from storage.unit_of_work import UnitOfWork

__all__ = [
    "RightsChange",
    "RightsOutcome",
    "RightsStatus",
    "change_rights",
    "may_change_rights",
]


def may_change_rights(viewer: Permissions) -> bool:
    """Admins only, whatever the right."""
    return viewer.is_admin


@dataclass(frozen=True, slots=True)
class RightsChange:
    """A grant (or a revoke) of ``kind`` to the person of ``telegram_id``; ``school``
    as typed, None for an admin's right or for every school of a coordinator."""

    kind: GrantKind
    telegram_id: int
    school: str | None = None
    revoke: bool = False


class RightsStatus(StrEnum):
    NOT_ALLOWED = "not_allowed"
    UNKNOWN_USER = "unknown_user"  # nobody of that Telegram id has talked to the bot
    UNKNOWN_SCHOOL = "unknown_school"
    AMBIGUOUS_SCHOOL = "ambiguous_school"  # several schools answer to the name
    GRANTED = "granted"
    ALREADY = "already"  # granted before: nothing changed
    REVOKED = "revoked"
    NOTHING_TO_REVOKE = "nothing_to_revoke"


@dataclass(frozen=True, slots=True)
class RightsOutcome:
    """``who``: the person's display name (or Telegram id); ``school``: the school's
    display label when one was named and found; ``choices``: the labels of the schools
    an ambiguous name matches."""

    status: RightsStatus
    who: str = ""
    school: str | None = None
    choices: tuple[str, ...] = ()


async def change_rights(
    uow: UnitOfWork, change: RightsChange, *, by: Participant, viewer: Permissions
) -> RightsOutcome:
    """Grant or revoke as ``by`` asks, if their ``viewer`` permissions allow it."""
    if not may_change_rights(viewer):
        return RightsOutcome(RightsStatus.NOT_ALLOWED)
    target = await uow.participants.by_telegram_id(change.telegram_id)
    if target is None:
        return RightsOutcome(RightsStatus.UNKNOWN_USER)
    who = target.display_name or str(change.telegram_id)
    unit_id, where = None, None
    if change.school is not None:
        schools = await uow.units.find_school(change.school)
        labels = await uow.units.display_labels(schools)
        if not schools:
            return RightsOutcome(RightsStatus.UNKNOWN_SCHOOL, who)
        if len(schools) > 1:
            choices = tuple(labels[school.id] for school in schools)
            return RightsOutcome(RightsStatus.AMBIGUOUS_SCHOOL, who, choices=choices)
        unit_id, where = schools[0].id, labels[schools[0].id]
    if change.revoke:
        removed = await uow.grants.revoke(target.id, change.kind, unit_id)
        await uow.commit()
        status = RightsStatus.REVOKED if removed else RightsStatus.NOTHING_TO_REVOKE
    else:
        added = await uow.grants.grant(target.id, change.kind, unit_id, granted_by=by.chat_id)
        await uow.commit()
        status = RightsStatus.GRANTED if added else RightsStatus.ALREADY
    return RightsOutcome(status, who, where)
