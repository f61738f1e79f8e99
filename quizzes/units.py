"""The bureau's unit tree: division > regiment > school > class."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class UnitKind(StrEnum):
    DIVISION = "division"
    REGIMENT = "regiment"
    SCHOOL = "school"
    CLASS = "class"

    @property
    def child(self) -> UnitKind | None:
        order = list(UnitKind)
        index = order.index(self)
        return order[index + 1] if index + 1 < len(order) else None


@dataclass(frozen=True, slots=True)
class Unit:
    id: int
    kind: UnitKind
    name: str
    parent_id: int | None
    path: str
    students_enrolled: int = 0
    teachers_enrolled: int = 0
    # No longer in the roster (imported with --retire-missing): kept with its participants,
    # offered to nobody, enrolment 0.
    retired: bool = False

    @property
    def ancestor_ids(self) -> tuple[int, ...]:
        """Ids from the root down to this unit, itself included."""
        return tuple(int(part) for part in self.path.strip("/").split("/") if part)

    def contains(self, other: Unit) -> bool:
        return other.path.startswith(self.path)


@dataclass(frozen=True, slots=True)
class UnitLabel:
    """A unit with the names of its ancestors: 129团 · 胡杨河市第一中学 · 七年级1班."""

    unit: Unit
    names: tuple[str, ...]

    def text(self, separator: str = " · ") -> str:
        return separator.join(self.names)


def display_label(unit: Unit, tree: Mapping[int, Unit], separator: str = " · ") -> str:
    """The unit as people tell it apart: a school by its name, with its regiment in front
    when another school of the tree has the same name (two 中心小学 in two regiments); a
    class after its school. ``tree`` holds at least the unit's ancestors and the schools
    named like its school (all units will do)."""
    school = next(
        (
            tree[ancestor]
            for ancestor in unit.ancestor_ids
            if ancestor in tree and tree[ancestor].kind is UnitKind.SCHOOL
        ),
        None,
    )
    if school is None:
        return unit.name
    root = school.ancestor_ids[0]
    shared = any(
        other.kind is UnitKind.SCHOOL
        and other.name == school.name
        and other.id != school.id
        and other.ancestor_ids[0] == root
        for other in tree.values()
    )
    parts: list[str] = []
    if shared and school.parent_id is not None and school.parent_id in tree:
        parts.append(tree[school.parent_id].name)
    parts.append(school.name)
    if unit.id != school.id:
        parts.append(unit.name)
    return separator.join(parts)
