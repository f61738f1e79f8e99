"""Writing a parsed roster into the unit tree: all of it in one transaction, or nothing.

A corps-wide roster has some 40,000 rows, so the tree is read once and written in bulk:
one ``INSERT ... RETURNING`` per batch of new units (then one ``UPDATE`` setting their
paths), one ``executemany`` ``UPDATE`` per batch of units whose enrolment changed, and
the units the file left out found in memory. Nothing is committed here: the caller's
transaction holds all of it, so a failure anywhere leaves the tree as it was.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from quizzes.roster import RosterRow
from quizzes.units import Unit, UnitKind, display_label
from storage.models import ParticipantRow, UnitRow, utcnow
from storage.repositories import InviteRepository, UnitRepository

# Units written per statement: under every driver's limit of bound parameters (SQLite's
# 32,766, PostgreSQL's 32,767) and small enough for a progress line to move.
BATCH = 1_000

Progress = Callable[[int, int], None]
"""``progress(done, total)``: units of the file written so far, of how many."""


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
class EnrolmentChange:
    """A unit the file lists again with other enrolment (or back from retirement):
    ``unit`` as it was, ``students`` and ``teachers`` as the file has them."""

    unit: Unit
    students: int
    teachers: int


@dataclass(frozen=True, slots=True)
class RosterImport:
    """What an import did: counts of units created and updated, by kind; the units the
    file left out (the highest of each missing branch), and whether they were retired;
    the regiments and schools created (``new_units``, in file order) and the units whose
    enrolment changed."""

    created: dict[UnitKind, int]
    updated: dict[UnitKind, int]
    missing: tuple[MissingUnit, ...] = field(default=())
    retired: bool = False
    new_units: tuple[Unit, ...] = field(default=())
    changed: tuple[EnrolmentChange, ...] = field(default=())

    @property
    def total(self) -> int:
        return sum(self.created.values()) + sum(self.updated.values())


@dataclass(slots=True)
class _Wanted:
    """A unit the file names: under which parent (by key), with what enrolment."""

    kind: UnitKind
    name: str
    parent: tuple[str, ...]
    students: int | None = None
    teachers: int | None = None
    # Named again by later rows (a file the parser has checked names each unit once).
    repeats: int = 0


_UNITS = cast(Table, UnitRow.__table__)
_COLUMNS = (
    _UNITS.c.id,
    _UNITS.c.kind,
    _UNITS.c.name,
    _UNITS.c.parent_id,
    _UNITS.c.path,
    _UNITS.c.students_enrolled,
    _UNITS.c.teachers_enrolled,
    _UNITS.c.retired_at,
)


def _unit(row: Any) -> Unit:
    return Unit(
        id=row.id,
        kind=UnitKind(row.kind),
        name=row.name,
        parent_id=row.parent_id,
        path=row.path,
        students_enrolled=row.students_enrolled,
        teachers_enrolled=row.teachers_enrolled,
        retired=row.retired_at is not None,
    )


async def import_roster(
    session: AsyncSession,
    rows: Sequence[RosterRow],
    division: str,
    *,
    retire_missing: bool = False,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> RosterImport:
    """Create or update every unit named in ``rows`` under the division; the caller commits.

    A school without a row of its own gets the sum of its classes. Units of the division
    missing from the file are reported in ``missing``. They are kept as they are, with
    their participants and enrolment, unless ``retire_missing``: then they are retired
    (offered to nobody, their invite codes switched off, enrolment 0 so that no rate
    counts it), and their participants stay where they are, counted under their school.
    A retired unit listed again in a later file is back in use. ``progress`` is told how
    many of the file's units are written, batch by batch.
    """
    await session.flush()  # the session's own pending changes go first
    created = dict.fromkeys(UnitKind, 0)
    updated = dict.fromkeys(UnitKind, 0)
    root, was_created = await UnitRepository(session).ensure(None, UnitKind.DIVISION, division)
    (created if was_created else updated)[UnitKind.DIVISION] += 1

    existing = [
        _unit(row)
        for row in await session.execute(
            select(*_COLUMNS)
            .where(_UNITS.c.path.startswith(root.path, autoescape=False))
            .where(_UNITS.c.id != root.id)
            .order_by(_UNITS.c.id)
        )
    ]
    by_place: dict[tuple[int | None, str], Unit] = {(u.parent_id, u.name): u for u in existing}
    wanted = _wanted(rows)
    total = 1 + len(wanted)
    done = 1
    if progress is not None:
        progress(done, total)

    placed: dict[tuple[str, ...], Unit] = {(): root}
    listed: set[int] = {root.id}
    touched: set[int] = set()
    new_units: list[Unit] = []
    changed: list[EnrolmentChange] = []
    for kind in (UnitKind.REGIMENT, UnitKind.SCHOOL, UnitKind.CLASS):
        level = [(key, unit) for key, unit in wanted if unit.kind is kind]
        for start in range(0, len(level), BATCH):
            batch = level[start : start + BATCH]
            new: list[tuple[tuple[str, ...], _Wanted, Unit]] = []
            changes: list[dict[str, Any]] = []
            for key, unit in batch:
                parent = placed[unit.parent]
                found = by_place.get((parent.id, unit.name))
                updated[kind] += unit.repeats
                if found is None:
                    new.append((key, unit, parent))
                    created[kind] += 1
                    continue
                updated[kind] += 1
                students = found.students_enrolled if unit.students is None else unit.students
                teachers = found.teachers_enrolled if unit.teachers is None else unit.teachers
                if (students, teachers, False) != (
                    found.students_enrolled,
                    found.teachers_enrolled,
                    found.retired,
                ):
                    changes.append({"unit_id": found.id, "s": students, "t": teachers})
                    changed.append(EnrolmentChange(found, students, teachers))
                    touched.add(found.id)
                if kind is not UnitKind.CLASS:  # nothing is placed under a class
                    placed[key] = found
                listed.add(found.id)
            made = await _insert(session, new)
            if kind is not UnitKind.CLASS:  # classes are counted, not named
                new_units.extend(made)
            for (key, _, _), unit_made in zip(new, made, strict=True):
                if kind is not UnitKind.CLASS:
                    placed[key] = unit_made
                listed.add(unit_made.id)
            if changes:
                await session.execute(_UPDATE_ENROLMENT, changes)
            done += len(batch)
            if progress is not None:
                progress(done, total)

    tree = {u.id: u for u in existing}
    tree.update((u.id, u) for u in placed.values())
    missing = await _missing(session, root, tree, existing, listed)
    if retire_missing and missing:
        when = now or datetime.now(UTC)
        branches = [unit for entry in missing for unit in (entry.unit, *entry.below)]
        for start in range(0, len(branches), BATCH):
            chunk = branches[start : start + BATCH]
            await UnitRepository(session).retire(chunk, when)
            await InviteRepository(session).revoke_for(chunk, when)
    _expire(session, touched)
    report = tuple(
        MissingUnit(entry.unit, entry.label, entry.classes, entry.participants)
        for entry in missing
    )
    return RosterImport(
        created,
        updated,
        report,
        retired=retire_missing and bool(missing),
        new_units=tuple(new_units),
        changed=tuple(changed),
    )


def _wanted(rows: Sequence[RosterRow]) -> list[tuple[tuple[str, ...], _Wanted]]:
    """The units the rows name: regiments and schools in the order they first appear,
    then the classes in row order. A class named twice takes its last row's enrolment."""
    school_rows = {(r.regiment, r.school): r for r in rows if r.class_name is None}
    class_totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        if row.class_name is not None:
            totals = class_totals[(row.regiment, row.school)]
            totals[0] += row.students
            totals[1] += row.teachers
    out: list[tuple[tuple[str, ...], _Wanted]] = []
    regiments: set[str] = set()
    for regiment, school in dict.fromkeys((r.regiment, r.school) for r in rows):
        if regiment not in regiments:
            regiments.add(regiment)
            out.append(((regiment,), _Wanted(UnitKind.REGIMENT, regiment, ())))
        own = school_rows.get((regiment, school))
        counts = (own.students, own.teachers) if own else class_totals[(regiment, school)]
        school_unit = _Wanted(UnitKind.SCHOOL, school, (regiment,), counts[0], counts[1])
        out.append(((regiment, school), school_unit))
    classes: dict[tuple[str, ...], _Wanted] = {}
    for row in rows:
        if row.class_name is None:
            continue
        key = (row.regiment, row.school, row.class_name)
        seen = classes.get(key)
        if seen is None:
            parent = (row.regiment, row.school)
            klass = _Wanted(UnitKind.CLASS, row.class_name, parent, row.students, row.teachers)
            classes[key] = klass
        else:
            seen.students, seen.teachers = row.students, row.teachers
            seen.repeats += 1
    out.extend(classes.items())
    return out


_UPDATE_ENROLMENT = (
    update(_UNITS)
    .where(_UNITS.c.id == bindparam("unit_id"))
    .values(
        students_enrolled=bindparam("s"),
        teachers_enrolled=bindparam("t"),
        retired_at=None,  # listed again: back in use
    )
)
_SET_PATH = update(_UNITS).where(_UNITS.c.id == bindparam("unit_id")).values(path=bindparam("p"))


async def _insert(
    session: AsyncSession, new: Sequence[tuple[tuple[str, ...], _Wanted, Unit]]
) -> list[Unit]:
    """Insert the units (a batch of one kind), then give each its path; in their order."""
    if not new:
        return []
    now = utcnow()
    values = [
        {
            "parent_id": parent.id,
            "kind": unit.kind.value,
            "name": unit.name,
            "path": "",
            "students_enrolled": unit.students or 0,
            "teachers_enrolled": unit.teachers or 0,
            "created_at": now,
            "updated_at": now,
        }
        for _, unit, parent in new
    ]
    # Matched back by place (a name is unique under its parent): asking the driver to keep
    # the rows in order makes SQLite insert them one statement each.
    inserted = await session.execute(
        insert(_UNITS).returning(_UNITS.c.id, _UNITS.c.parent_id, _UNITS.c.name), values
    )
    ids = {(row.parent_id, row.name): row.id for row in inserted}
    units = [
        Unit(
            id=unit_id,
            kind=unit.kind,
            name=unit.name,
            parent_id=parent.id,
            path=f"{parent.path}{unit_id}/",
            students_enrolled=unit.students or 0,
            teachers_enrolled=unit.teachers or 0,
        )
        for _, unit, parent in new
        for unit_id in (ids[(parent.id, unit.name)],)
    ]
    await session.execute(_SET_PATH, [{"unit_id": u.id, "p": u.path} for u in units])
    return units


@dataclass(frozen=True, slots=True)
class _Branch:
    unit: Unit
    below: tuple[Unit, ...]
    label: str
    classes: int
    participants: int


async def _missing(
    session: AsyncSession,
    root: Unit,
    tree: dict[int, Unit],
    before: Iterable[Unit],
    listed: set[int],
) -> list[_Branch]:
    """The highest units of the division not in ``listed`` and not retired yet, each with
    the units below it, its label and its people: worked out in memory from ``tree`` (the
    division after the import) and one count of participants per unit."""
    left_out = [u for u in before if u.id not in listed and not u.retired]
    if not left_out:
        return []
    left_out_ids = {u.id for u in left_out}
    tops = [u for u in left_out if u.parent_id not in left_out_ids]  # told with their school
    top_ids = {u.id for u in tops}
    below: dict[int, list[Unit]] = {u.id: [] for u in tops}
    for unit in left_out:
        for ancestor in unit.ancestor_ids:
            if ancestor in top_ids and ancestor != unit.id:
                below[ancestor].append(unit)
    people = dict.fromkeys(top_ids, 0)
    counts = await session.execute(
        select(ParticipantRow.unit_id, func.count(ParticipantRow.id))
        .join(_UNITS, _UNITS.c.id == ParticipantRow.unit_id)
        .where(_UNITS.c.path.startswith(root.path, autoescape=False))
        .group_by(ParticipantRow.unit_id)
    )
    for unit_id, count in counts:
        member = tree.get(unit_id) if unit_id is not None else None
        for ancestor in member.ancestor_ids if member else ():
            if ancestor in people:
                people[ancestor] += count
    schools_named: dict[str, list[Unit]] = defaultdict(list)
    for unit in tree.values():
        if unit.kind is UnitKind.SCHOOL:
            schools_named[unit.name].append(unit)
    branches: list[_Branch] = []
    for unit in tops:
        # display_label needs the ancestors and the schools of the same name, not all.
        near = {a: tree[a] for a in unit.ancestor_ids if a in tree}
        for school in [u for u in near.values() if u.kind is UnitKind.SCHOOL]:
            near.update((u.id, u) for u in schools_named[school.name])
        branches.append(
            _Branch(
                unit,
                tuple(below[unit.id]),
                display_label(unit, near),
                sum(1 for u in below[unit.id] if u.kind is UnitKind.CLASS),
                people[unit.id],
            )
        )
    return branches


def _expire(session: AsyncSession, unit_ids: set[int]) -> None:
    """Units the session had loaded and the bulk statements changed are read again."""
    for row in list(session.identity_map.values()):
        if isinstance(row, UnitRow) and (inspect(row).identity or (None,))[0] in unit_ids:
            session.expire(row)
