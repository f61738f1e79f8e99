"""Who may do what: admins see everything, coordinators their own schools."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from quizzes.participants import Grant, GrantKind, Role
from quizzes.units import Unit


@dataclass(frozen=True, slots=True)
class Permissions:
    is_admin: bool = False
    coordinator_of: frozenset[int] = frozenset()

    @classmethod
    def from_grants(cls, grants: Iterable[Grant], *, configured_admin: bool) -> Permissions:
        grants = list(grants)
        return cls(
            is_admin=configured_admin or any(g.kind is GrantKind.ADMIN for g in grants),
            coordinator_of=frozenset(
                g.unit_id
                for g in grants
                if g.kind is GrantKind.COORDINATOR and g.unit_id is not None
            ),
        )

    @property
    def is_coordinator(self) -> bool:
        return bool(self.coordinator_of)

    @property
    def is_staff(self) -> bool:
        return self.is_admin or self.is_coordinator

    def may_manage(self, unit: Unit) -> bool:
        """Admins manage every unit; a coordinator manages their school and its classes."""
        if self.is_admin:
            return True
        return any(ancestor in self.coordinator_of for ancestor in unit.ancestor_ids)

    def may_teach(self, role: Role | None) -> bool:
        """Teachers, and staff who stand in for them: class-level tools (/qstats, /livequiz)."""
        return self.is_staff or role is Role.TEACHER
