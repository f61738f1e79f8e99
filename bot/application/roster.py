"""The roster: who a person is and where they belong.

Joining with a class's invite code or by walking down the unit tree, choosing a role and
a name (the rules are :class:`quizzes.registration.Registration`'s), the profile shown by
/me and its settings (language, subscription), and Telegram telling us that a person
blocked or unblocked the bot. The chat asks the questions; a web page for phones without
Telegram asks the same ones and calls the same use cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.i18n import SUPPORTED_LOCALES
from quizzes.clock import Clock
from quizzes.participants import Participant, Role
from quizzes.registration import JOINABLE_KINDS, JoinOutcome, Registration
from quizzes.units import Unit, UnitKind
from storage.unit_of_work import UnitOfWork

__all__ = [
    "CodeJoin",
    "Profile",
    "UnitLevel",
    "UnitPick",
    "UnitPickStatus",
    "choose_language",
    "choose_role",
    "chosen_language",
    "join_with_code",
    "mark_blocked",
    "mark_unblocked",
    "pick_unit",
    "profile",
    "set_display_name",
    "set_subscription",
    "unit_level",
]

TOP = 0  # the top of the unit tree, as a button's id


def _registration(uow: UnitOfWork, clock: Clock) -> Registration:
    return Registration(uow.units, uow.participants, uow.invites, clock)


@dataclass(frozen=True, slots=True)
class CodeJoin:
    """What an invite code did, and the full name of the unit it leads to (if any)."""

    outcome: JoinOutcome
    unit_label: str | None


async def join_with_code(
    uow: UnitOfWork, participant: Participant, code: str, *, clock: Clock
) -> CodeJoin:
    """Join (or move to) the unit of an invite code; an unknown or revoked code changes
    nothing and says so."""
    outcome = await _registration(uow, clock).join_with_code(participant, code)
    label = (await uow.units.label(outcome.unit)).text() if outcome.unit else None
    await uow.commit()
    return CodeJoin(outcome, label)


@dataclass(frozen=True, slots=True)
class UnitLevel:
    """One level of the walk down the tree: the units to choose from under ``parent``.

    ``parent`` None is the top, where the walk starts at the regiments (the division is
    the only root in practice). ``back_to`` is the level above (``TOP`` for the top),
    ``join_here`` the school itself when a person may join it rather than a class.
    """

    parent: Unit | None
    parent_label: str | None
    units: list[Unit]
    back_to: int | None = None
    join_here: Unit | None = None


async def unit_level(uow: UnitOfWork, parent_id: int) -> UnitLevel:
    """The children of ``parent_id`` (``TOP``: the top of the tree) to choose from."""
    if parent_id == TOP:
        units = await uow.units.roots()
        while len(units) == 1 and units[0].kind is UnitKind.DIVISION:
            units = await uow.units.children(units[0].id)
        return UnitLevel(None, None, units)
    parent = await uow.units.get(parent_id)
    assert parent is not None
    units = await uow.units.children(parent.id)
    back = parent.parent_id or TOP
    if parent.parent_id is not None:
        grand = await uow.units.get(parent.parent_id)
        back = TOP if grand is None or grand.kind is UnitKind.DIVISION else grand.id
    join_here = parent if parent.kind is UnitKind.SCHOOL else None
    label = await uow.units.display_label(parent)
    return UnitLevel(parent, label, units, back_to=back, join_here=join_here)


class UnitPickStatus(StrEnum):
    STALE = "stale"  # the unit is gone or retired: an old button
    DESCEND = "descend"  # it has units below it: show them
    NOT_JOINABLE = "not_joinable"  # a regiment with no school below it
    CHOSEN = "chosen"  # the person now belongs to it


@dataclass(frozen=True, slots=True)
class UnitPick:
    status: UnitPickStatus
    participant: Participant
    unit: Unit | None = None
    label: str | None = None  # the unit's full name (CHOSEN) or display name (NOT_JOINABLE)


async def pick_unit(
    uow: UnitOfWork, participant: Participant, unit_id: int, *, final: bool, clock: Clock
) -> UnitPick:
    """A unit pressed during the walk: go down into it, or join it when it is a school
    or a class with nothing below (``final``: join the school itself)."""
    unit = await uow.units.get(unit_id)
    if unit is None or unit.retired:
        return UnitPick(UnitPickStatus.STALE, participant)
    if not final and await uow.units.children(unit.id):
        return UnitPick(UnitPickStatus.DESCEND, participant, unit)
    if unit.kind not in JOINABLE_KINDS:
        label = await uow.units.display_label(unit)
        return UnitPick(UnitPickStatus.NOT_JOINABLE, participant, unit, label)
    participant = await _registration(uow, clock).choose_unit(participant, unit)
    await uow.commit()
    label = (await uow.units.label(unit)).text()
    return UnitPick(UnitPickStatus.CHOSEN, participant, unit, label)


async def choose_role(
    uow: UnitOfWork, participant: Participant, role: Role, *, clock: Clock
) -> Participant:
    participant = await _registration(uow, clock).choose_role(participant, role)
    await uow.commit()
    return participant


async def set_display_name(
    uow: UnitOfWork, participant: Participant, name: str, *, clock: Clock
) -> Participant:
    """``name`` is already clean (:func:`quizzes.participants.clean_display_name`)."""
    participant = await _registration(uow, clock).set_display_name(participant, name)
    await uow.commit()
    return participant


@dataclass(frozen=True, slots=True)
class Profile:
    """What /me shows: the person and the full name of their unit (None: not chosen)."""

    participant: Participant
    unit_label: str | None


async def profile(uow: UnitOfWork, participant: Participant) -> Profile:
    unit = await uow.units.get(participant.unit_id) if participant.unit_id else None
    label = (await uow.units.label(unit)).text() if unit else None
    return Profile(participant, label)


async def choose_language(
    uow: UnitOfWork, participant: Participant, locale: str
) -> Participant | None:
    """The person's language from now on; None (and nothing changed) for a language the
    bot does not speak."""
    if locale not in SUPPORTED_LOCALES:
        return None
    participant = await uow.participants.update(participant, locale=locale)
    await uow.commit()
    return participant


async def set_subscription(
    uow: UnitOfWork, participant: Participant, *, subscribed: bool
) -> Participant:
    """Whether the person gets announcements (/stop, /subscribe)."""
    participant = await uow.participants.update(participant, subscribed=subscribed)
    await uow.commit()
    return participant


async def mark_blocked(uow: UnitOfWork, telegram_id: int, *, now: datetime) -> None:
    """The person blocked the bot: nothing is sent to them until they unblock it."""
    await uow.participants.set_blocked(telegram_id, now)
    await uow.commit()


async def mark_unblocked(uow: UnitOfWork, telegram_id: int) -> None:
    await uow.participants.set_blocked(telegram_id, None)
    await uow.commit()


async def chosen_language(uow: UnitOfWork, telegram_id: int) -> str | None:
    """The language a person chose, None for someone the bot has not met."""
    participant = await uow.participants.by_telegram_id(telegram_id)
    return participant.locale if participant else None
