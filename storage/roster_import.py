"""Writing a parsed roster into the unit tree: all of it in one transaction, or nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from quizzes.roster import RosterRow
from quizzes.units import Unit, UnitKind
from storage.repositories import UnitRepository


@dataclass(frozen=True, slots=True)
class RosterImport:
    """What an import did: counts of units created and updated, by kind."""

    created: dict[UnitKind, int]
    updated: dict[UnitKind, int]

    @property
    def total(self) -> int:
        return sum(self.created.values()) + sum(self.updated.values())


async def import_roster(
    session: AsyncSession, rows: Sequence[RosterRow], division: str
) -> RosterImport:
    """Create or update every unit named in ``rows`` under the division; the caller commits.

    A school without a row of its own gets the sum of its classes. Units missing from
    the file are left as they are: participants may already belong to them.
    """
    units = UnitRepository(session)
    created = dict.fromkeys(UnitKind, 0)
    updated = dict.fromkeys(UnitKind, 0)

    def count(kind: UnitKind, was_created: bool) -> None:
        (created if was_created else updated)[kind] += 1

    root, was_created = await units.ensure(None, UnitKind.DIVISION, division)
    count(UnitKind.DIVISION, was_created)
    school_rows = {(r.regiment, r.school): r for r in rows if r.class_name is None}
    class_totals: dict[tuple[str, str], tuple[int, int]] = {}
    for row in rows:
        if row.class_name is not None:
            students, teachers = class_totals.get((row.regiment, row.school), (0, 0))
            class_totals[(row.regiment, row.school)] = (
                students + row.students,
                teachers + row.teachers,
            )

    regiments: dict[str, Unit] = {}
    schools: dict[tuple[str, str], Unit] = {}
    for key in dict.fromkeys([(r.regiment, r.school) for r in rows]):
        regiment_name, school_name = key
        if regiment_name not in regiments:
            regiment, was_created = await units.ensure(root, UnitKind.REGIMENT, regiment_name)
            regiments[regiment_name] = regiment
            count(UnitKind.REGIMENT, was_created)
        own = school_rows.get(key)
        students, teachers = (own.students, own.teachers) if own else class_totals[key]
        school, was_created = await units.ensure(
            regiments[regiment_name],
            UnitKind.SCHOOL,
            school_name,
            students=students,
            teachers=teachers,
        )
        schools[key] = school
        count(UnitKind.SCHOOL, was_created)

    for row in rows:
        if row.class_name is None:
            continue
        _, was_created = await units.ensure(
            schools[(row.regiment, row.school)],
            UnitKind.CLASS,
            row.class_name,
            students=row.students,
            teachers=row.teachers,
        )
        count(UnitKind.CLASS, was_created)
    return RosterImport(created, updated)
