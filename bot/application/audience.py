"""What the audience picker offers: the levels and units someone may choose from, by
their grants (the bureau the whole tree, a coordinator their schools and classes, a
teacher their own class), and the checks a press goes through.

Every dialogue that asks "for whom" (/post, /newlecture, /newcampaign) or "where"
(/activity's organising unit) asks through the one picker of ``handlers/audience.py``,
which calls these and nothing in storage.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from bot.application.publicity import (
    UnitRefusal,
    classes_on_offer,
    regiments_on_offer,
    schools_on_offer,
)
from quizzes.ordering import by_name
from quizzes.participants import Participant, Role
from quizzes.permissions import Permissions
from quizzes.units import Unit
from storage.unit_of_work import UnitOfWork

__all__ = [
    "Level",
    "NamedUnits",
    "Scope",
    "UnitRefusal",
    "chosen_labels",
    "labels_of",
    "named_units",
    "pick_refusal",
    "picker_scope",
    "units_at",
]


class Level(StrEnum):
    """A question of the picker: the first one (``TOP``), a list of units, the roles."""

    TOP = "top"
    REGIMENTS = "regiments"
    SCHOOLS = "schools"
    CLASSES = "classes"
    ROLES = "roles"


UNIT_LEVELS = (Level.REGIMENTS, Level.SCHOOLS, Level.CLASSES)


@dataclass(frozen=True, slots=True)
class Scope:
    """What the first question offers someone: everyone (the bureau), the levels with
    something on them, and ``own``: the one unit that is all theirs to choose (a
    coordinator of one school, a teacher's class), with its label."""

    everyone: bool
    levels: tuple[Level, ...]
    own: Unit | None
    own_label: str

    @property
    def empty(self) -> bool:
        return not self.everyone and not self.levels and self.own is None


async def _teachers_unit(uow: UnitOfWork, participant: Participant) -> Unit | None:
    if participant.role is not Role.TEACHER or participant.unit_id is None:
        return None
    unit = await uow.units.get(participant.unit_id)
    return unit if unit is not None and not unit.retired else None


async def picker_scope(
    uow: UnitOfWork, participant: Participant, permissions: Permissions, *, teachers: bool = False
) -> Scope:
    """The first question's choices; ``teachers``: whether a teacher without grants may
    choose their own class (recording an activity) or nothing (addressing people)."""
    if permissions.is_admin:
        levels = [Level.REGIMENTS] if await regiments_on_offer(uow, permissions) else []
        levels += (
            [Level.SCHOOLS, Level.CLASSES] if await schools_on_offer(uow, permissions) else []
        )
        await uow.commit()
        return Scope(True, tuple(levels), None, "")
    schools = await schools_on_offer(uow, permissions)
    if schools:
        own = schools[0] if len(schools) == 1 else None
        offered = (Level.CLASSES,) if own is not None else (Level.SCHOOLS, Level.CLASSES)
        label = await uow.units.display_label(own) if own is not None else ""
        await uow.commit()
        return Scope(False, offered, own, label)
    unit = await _teachers_unit(uow, participant) if teachers else None
    label = await uow.units.display_label(unit) if unit is not None else ""
    await uow.commit()
    return Scope(False, (), unit, label)


async def units_at(
    uow: UnitOfWork, permissions: Permissions, level: Level, school_id: int = 0
) -> list[Unit]:
    """The units a level lists for these permissions, by name: the regiments, the schools,
    and for classes first the schools (``school_id`` 0), then that school's classes."""
    if level is Level.REGIMENTS:
        units = await regiments_on_offer(uow, permissions)
    elif level is Level.SCHOOLS or (level is Level.CLASSES and not school_id):
        units = await schools_on_offer(uow, permissions)
    elif level is Level.CLASSES:
        units = await classes_on_offer(uow, permissions, school_id)
    else:
        units = []
    await uow.commit()
    return units


async def labels_of(uow: UnitOfWork, units: Iterable[Unit]) -> dict[int, str]:
    """Units' names told apart (two 中心小学 after their regiments), to show them."""
    return await uow.units.display_labels(units)


async def chosen_labels(uow: UnitOfWork, unit_ids: Iterable[int]) -> list[str]:
    """The labels of the units chosen so far, by id (units gone since are left out)."""
    units = await uow.units.by_ids(unit_ids)
    labels = await uow.units.display_labels(units.values())
    await uow.commit()
    return [labels[unit_id] for unit_id in sorted(units)]


async def pick_refusal(
    uow: UnitOfWork, unit_id: int, participant: Participant, permissions: Permissions
) -> UnitRefusal:
    """Why a unit pressed is not among the choices: someone else's (a forged button), or
    gone or no longer listed (a stale one)."""
    unit = await uow.units.get(unit_id)
    await uow.commit()
    if unit is None or unit.retired:
        return UnitRefusal.STALE
    if permissions.may_manage(unit):
        return UnitRefusal.STALE
    own = participant.unit_id if participant.role is Role.TEACHER else None
    return UnitRefusal.STALE if unit.id == own else UnitRefusal.OUTSIDE


@dataclass(frozen=True, slots=True)
class NamedUnits:
    """Units by the names a campaign's spec holds; ``shared``: names that more than one
    unit carries (the spec could not tell them apart)."""

    names: list[str]
    shared: list[str]


async def named_units(uow: UnitOfWork, unit_ids: Iterable[int]) -> NamedUnits:
    """The names of these units, by name, and those of them that another unit of the tree
    carries too, retired ones included (a campaign's audience names its units, and a
    name must find one)."""
    units = by_name((await uow.units.by_ids(unit_ids)).values())
    counts: dict[str, int] = {}
    for root in await uow.units.roots():
        for unit in [root, *await uow.units.within(root)]:
            counts[unit.name] = counts.get(unit.name, 0) + 1
    await uow.commit()
    names = [unit.name for unit in units]
    return NamedUnits(names, [name for name in names if counts.get(name, 0) > 1])
