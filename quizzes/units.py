"""The bureau's unit tree: division > regiment > school > class."""

from __future__ import annotations

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
