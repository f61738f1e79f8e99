"""Writing a parsed roster into the unit tree: all of it in one transaction, or nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from quizzes.roster import RosterRow
from quizzes.units import Unit, UnitKind
from storage.repositories import InviteRepository, ParticipantRepository, UnitRepository


@dataclass(frozen=True, slots=True)
class MissingUnit:
    """A unit of the tree the file no longer lists, with what hangs on it.

    ``label`` tells it apart (the regiment in front of a shared school name); ``classes``
    counts its classes (a school's), ``participants`` the people in it and below it.
    """

    unit: Unit
    label: str
    classes: int
    participants: int


@dataclass(frozen=True, slots=True)
class RosterImport:
    """What an import did: counts of units created and updated, by kind; the units the
    file left out (the highest of each missing branch), and whether they were retired."""

    created: dict[UnitKind, int]
    updated: dict[UnitKind, int]
    missing: tuple[MissingUnit, ...] = field(default=())
    retired: bool = False

    @property
    def total(self) -> int:
        return sum(self.created.values()) + sum(self.updated.values())


async def import_roster(
    session: AsyncSession,
    rows: Sequence[RosterRow],
    division: str,
    *,
    retire_missing: bool = False,
    now: datetime | None = None,
) -> RosterImport:
    """Create or update every unit named in ``rows`` under the division; the caller commits.

    A school without a row of its own gets the sum of its classes. Units of the division
    missing from the file are reported in ``missing``. They are kept as they are, with
    their participants and enrolment, unless ``retire_missing``: then they are retired
    (offered to nobody, their invite codes switched off, enrolment 0 so that no rate
    counts it), and their participants stay where they are, counted under their school.
    A retired unit listed again in a later file is back in use.
    """
    units = UnitRepository(session)
    created = dict.fromkeys(UnitKind, 0)
    updated = dict.fromkeys(UnitKind, 0)
    listed: set[int] = set()

    def count(unit: Unit, was_created: bool) -> None:
        (created if was_created else updated)[unit.kind] += 1
        listed.add(unit.id)

    root, was_created = await units.ensure(None, UnitKind.DIVISION, division)
    count(root, was_created)
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
            count(regiment, was_created)
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
        count(school, was_created)

    for row in rows:
        if row.class_name is None:
            continue
        klass, was_created = await units.ensure(
            schools[(row.regiment, row.school)],
            UnitKind.CLASS,
            row.class_name,
            students=row.students,
            teachers=row.teachers,
        )
        count(klass, was_created)

    missing = await _missing(session, root, listed)
    if retire_missing and missing:
        when = now or datetime.now(UTC)
        branches = [unit for entry in missing for unit in (entry.unit, *entry.below)]
        await units.retire(branches, when)
        await InviteRepository(session).revoke_for(branches, when)
    report = tuple(
        MissingUnit(entry.unit, entry.label, entry.classes, entry.participants)
        for entry in missing
    )
    return RosterImport(created, updated, report, retired=retire_missing and bool(missing))


@dataclass(frozen=True, slots=True)
class _Branch:
    unit: Unit
    below: tuple[Unit, ...]
    label: str
    classes: int
    participants: int


async def _missing(session: AsyncSession, root: Unit, listed: set[int]) -> list[_Branch]:
    """The highest units of the division not in ``listed`` and not retired yet."""
    units = UnitRepository(session)
    everything = await units.within(root)
    left_out = [u for u in everything if u.id not in listed and not u.retired]
    left_out_ids = {u.id for u in left_out}
    branches: list[_Branch] = []
    for unit in left_out:
        if unit.parent_id in left_out_ids:
            continue  # told with its school or regiment
        below = tuple(u for u in left_out if u.id != unit.id and unit.contains(u))
        classes = sum(1 for u in below if u.kind is UnitKind.CLASS)
        branches.append(
            _Branch(
                unit,
                below,
                await units.display_label(unit),
                classes,
                await ParticipantRepository(session).count_within(unit),
            )
        )
    return branches
