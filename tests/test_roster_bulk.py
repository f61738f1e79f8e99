"""The roster import writes in bulk: what that could get wrong, on both databases.

Updating in place rather than creating again, retiring a large tree's missing branches,
leaving nothing behind when a statement fails halfway, telling look-alike names apart
exactly as the parser does, and the same tree as writing the units one by one.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from quizzes.participants import Role
from quizzes.roster import RosterRow, parse_roster
from quizzes.units import Unit, UnitKind
from storage import roster_import
from storage.models import InviteCodeRow, UnitRow
from storage.repositories import Repositories, UnitRepository
from storage.roster_import import import_roster

DIVISION = "第七师"
WHEN = datetime(2026, 9, 1, tzinfo=UTC)


def roster(
    regiments: int, schools: int, classes: int, *, own_rows: bool = True
) -> list[RosterRow]:
    """regiments × schools × classes; every school but the last of each regiment with a
    row of its own (the last one is enrolled as the sum of its classes)."""
    rows: list[RosterRow] = []
    line = 1
    for r in range(regiments):
        regiment = f"{121 + r}团"
        for s in range(schools):
            school = f"{regiment}第{s + 1}学校"
            if own_rows and s < schools - 1:
                line += 1
                rows.append(RosterRow(line, regiment, school, None, 40 * classes + 5, 50))
            for c in range(classes):
                line += 1
                rows.append(RosterRow(line, regiment, school, f"{c + 1}班", 40, 3))
    return rows


async def tree(session: AsyncSession) -> dict[tuple[str, ...], Unit]:
    """The division's units by their names from the root down (the root is ``()``)."""
    units = Repositories.over(session).units
    root = next(u for u in await units.roots() if u.name == DIVISION)
    below = await units.within(root)
    by_id = {u.id: u for u in [root, *below]}
    return {tuple(by_id[a].name for a in unit.ancestor_ids[1:]): unit for unit in [root, *below]}


async def snapshot(session: AsyncSession) -> list[tuple[object, ...]]:
    """Every column of every unit and invite code, to compare before and after."""
    units = await session.execute(select(UnitRow.__table__).order_by(UnitRow.id))
    codes = await session.execute(select(InviteCodeRow.__table__).order_by(InviteCodeRow.code))
    return [tuple(row) for row in units] + [tuple(row) for row in codes]


async def test_reimport_with_new_enrolment_updates_in_place(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    rows = roster(2, 3, 4)
    async with session_factory() as session:
        first = await import_roster(session, rows, DIVISION)
        await session.commit()
        before = await tree(session)
    assert first.created == {
        UnitKind.DIVISION: 1,
        UnitKind.REGIMENT: 2,
        UnitKind.SCHOOL: 6,
        UnitKind.CLASS: 24,
    }
    assert sum(first.updated.values()) == 0

    bigger = [replace(row, students=row.students + 7) for row in rows]
    async with session_factory() as session:
        # Loaded by this session before the import and still held: read again after it.
        klass = before[("121团", "121团第1学校", "1班")]
        held = await session.get(UnitRow, klass.id)
        assert held is not None and held.students_enrolled == 40
        second = await import_roster(session, bigger, DIVISION)
        again = await session.get(UnitRow, klass.id)
        assert again is held and again.students_enrolled == 47
        await session.commit()
        after = await tree(session)
    assert sum(second.created.values()) == 0
    assert second.updated == first.created
    assert second.missing == ()
    assert after.keys() == before.keys()
    for place, unit in after.items():
        assert (unit.id, unit.path, unit.kind) == (
            before[place].id,
            before[place].path,
            before[place].kind,
        )
    assert after[("121团", "121团第1学校", "1班")].students_enrolled == 47
    assert after[("121团", "121团第1学校")].students_enrolled == 40 * 4 + 5 + 7
    # The last school of a regiment has no row: the sum of its classes, now 4 × 47.
    assert after[("122团", "122团第3学校")].students_enrolled == 4 * 47
    assert after[("122团", "122团第3学校")].teachers_enrolled == 4 * 3


async def test_retiring_the_missing_branches_of_a_large_tree(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    rows = roster(3, 8, 60)  # 1,440 classes: more than one batch of every statement
    async with session_factory() as session:
        await import_roster(session, rows, DIVISION)
        await session.commit()
        units = await tree(session)
        repo = Repositories.over(session)
        dropped_class = units[("121团", "121团第2学校", "7班")]
        dropped_school = units[("121团", "121团第3学校")]
        code = (await repo.invites.active_for(dropped_class.id, Role.STUDENT)).code
        kept_code = (
            await repo.invites.active_for(units[("121团", "121团第2学校", "8班")].id, Role.STUDENT)
        ).code
        for telegram_id, unit in enumerate(
            [
                dropped_class,
                units[("121团", "121团第3学校", "5班")],
                dropped_school,
                units[("123团", "123团第8学校", "60班")],
                units[("122团", "122团第1学校", "1班")],
            ],
            start=900,
        ):
            person = await repo.participants.get_or_create(telegram_id, "zh-CN")
            await repo.participants.update(person, unit_id=unit.id, role=Role.STUDENT)
        await session.commit()

    kept = [
        row
        for row in rows
        if row.regiment != "123团"
        and row.school != "121团第3学校"
        and (row.school, row.class_name) != ("121团第2学校", "7班")
    ]
    async with session_factory() as session:
        result = await import_roster(session, kept, DIVISION, retire_missing=True, now=WHEN)
        await session.commit()
        after = await tree(session)
        repo = Repositories.over(session)
        revoked = await repo.invites.resolve(code)
        still = await repo.invites.resolve(kept_code)

    assert result.retired
    told = [
        (entry.unit.kind, entry.label, entry.classes, entry.participants)
        for entry in result.missing
    ]
    # The highest unit of each missing branch, in the order they were created.
    assert told == [
        (UnitKind.REGIMENT, "123团", 8 * 60, 1),
        (UnitKind.SCHOOL, "121团第3学校", 60, 2),
        (UnitKind.CLASS, "121团第2学校 · 7班", 0, 1),
    ]
    gone = {
        place
        for place in after
        if place[:1] == ("123团",)
        or place[:2] == ("121团", "121团第3学校")
        or place == ("121团", "121团第2学校", "7班")
    }
    assert len(gone) == 1 + 8 + 8 * 60 + 1 + 60 + 1
    for place, unit in after.items():
        if place in gone:
            assert unit.retired and (unit.students_enrolled, unit.teachers_enrolled) == (0, 0)
        else:
            assert not unit.retired, place
    assert after[("121团", "121团第2学校", "8班")].students_enrolled == 40
    assert revoked is not None and revoked.revoked_at == WHEN
    assert still is not None and still.active

    # Listed again: every unit of the branch back in use, nothing reported missing.
    async with session_factory() as session:
        again = await import_roster(session, rows, DIVISION, retire_missing=True, now=WHEN)
        await session.commit()
        back = await tree(session)
    assert again.missing == () and not again.retired
    assert not any(unit.retired for unit in back.values())
    assert back[("123团", "123团第8学校", "60班")].students_enrolled == 40


@pytest.mark.parametrize("existing", [False, True], ids=["empty", "reimport"])
async def test_a_failure_halfway_leaves_the_database_as_it_was(
    session_factory: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    existing: bool,
) -> None:
    monkeypatch.setattr(roster_import, "BATCH", 50)
    rows = roster(2, 4, 30)  # 240 classes: a few batches are written before the bad one
    if existing:
        async with session_factory() as session:
            await import_roster(session, rows[:150], DIVISION)
            await session.commit()
    async with session_factory() as session:
        before = await snapshot(session)
    changed = [replace(row, students=row.students + 1) for row in rows]
    # A count no database takes (the parser refuses it; a caller might not).
    changed[200] = replace(changed[200], students=-1)
    steps: list[tuple[int, int]] = []
    async with session_factory() as session:
        with pytest.raises(IntegrityError):
            await import_roster(
                session,
                changed,
                DIVISION,
                retire_missing=True,
                progress=lambda done, total: steps.append((done, total)),
            )
        await session.rollback()
    assert len(steps) > 2, "the failure came before any batch was written"
    async with session_factory() as session:
        assert await snapshot(session) == before


async def test_names_the_parser_makes_equal_are_one_unit_and_width_still_counts(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    def csv(*rows: str) -> bytes:
        return ("团场,学校,班级,学生人数,教师人数\r\n" + "\r\n".join(rows) + "\r\n").encode()

    first = parse_roster(csv("129团,胡杨河市 第一中学,七年级 1班,45,4"), "r.csv")
    # An ideographic space, two spaces, a no-break space, a zero-width space: the same names.
    second = parse_roster(
        csv(
            "129团,胡杨河市\u3000第一中学,七年级  1班,46,4",
            "129团 ,胡杨河市\u00a0第一中学,七年级\u200b 2班,30,2",
        ),
        "r.csv",
    )
    # Full-width digits are another name: the parser keeps them as written.
    third = parse_roster(csv("１２９团,胡杨河市 第一中学,七年级 1班,45,4"), "r.csv")
    async with session_factory() as session:
        await import_roster(session, first, DIVISION)
        again = await import_roster(session, second, DIVISION)
        wider = await import_roster(session, third, DIVISION)
        await session.commit()
        units = await tree(session)
    assert again.created[UnitKind.CLASS] == 1 and again.updated[UnitKind.CLASS] == 1
    assert sum(again.created.values()) == 1
    assert units[("129团", "胡杨河市 第一中学", "七年级 1班")].students_enrolled == 46
    assert ("129团", "胡杨河市 第一中学", "七年级 2班") in units
    assert wider.created[UnitKind.REGIMENT] == 1
    assert ("１２９团", "胡杨河市 第一中学", "七年级 1班") in units


async def _one_by_one(session: AsyncSession, rows: list[RosterRow], division: str) -> None:
    """The import as it was before it went bulk: each unit found or created on its own."""
    units = UnitRepository(session)
    root, _ = await units.ensure(None, UnitKind.DIVISION, division)
    totals: dict[tuple[str, str], list[int]] = {}
    for row in rows:
        if row.class_name is not None:
            total = totals.setdefault((row.regiment, row.school), [0, 0])
            total[0] += row.students
            total[1] += row.teachers
    own = {(r.regiment, r.school): r for r in rows if r.class_name is None}
    regiments: dict[str, Unit] = {}
    schools: dict[tuple[str, str], Unit] = {}
    for key in dict.fromkeys((r.regiment, r.school) for r in rows):
        if key[0] not in regiments:
            regiments[key[0]], _ = await units.ensure(root, UnitKind.REGIMENT, key[0])
        students, teachers = (own[key].students, own[key].teachers) if key in own else totals[key]
        schools[key], _ = await units.ensure(
            regiments[key[0]], UnitKind.SCHOOL, key[1], students=students, teachers=teachers
        )
    for row in rows:
        if row.class_name is not None:
            await units.ensure(
                schools[(row.regiment, row.school)],
                UnitKind.CLASS,
                row.class_name,
                students=row.students,
                teachers=row.teachers,
            )


async def test_the_same_tree_as_writing_unit_by_unit(
    session_factory: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(roster_import, "BATCH", 7)
    rows = roster(3, 4, 5)
    # Shared school names, a school listed after another regiment's, a repeated class.
    rows += [
        RosterRow(900, "121团", "中心小学", "1班", 30, 2),
        RosterRow(901, "122团", "中心小学", None, 300, 20),
        RosterRow(902, "122团", "中心小学", "1班", 31, 2),
        RosterRow(903, "121团", "121团第1学校", "6班", 33, 2),
        RosterRow(904, "121团", "121团第1学校", "6班", 34, 3),
    ]
    next_year = [replace(row, students=row.students + 1) for row in rows[::2]] + rows[1::4]
    async with session_factory() as session:
        bulk = [await import_roster(session, r, DIVISION) for r in (rows, next_year)]
        for r in (rows, next_year):
            await _one_by_one(session, r, "第八师")
        await session.commit()
        units = Repositories.over(session).units
        roots = {u.name: u for u in await units.roots()}
        shapes = []
        for name in (DIVISION, "第八师"):
            below = await units.within(roots[name])
            by_id = {u.id: u for u in [roots[name], *below]}
            shapes.append(
                sorted(
                    (
                        tuple(by_id[a].name for a in u.ancestor_ids[1:]),
                        u.kind,
                        u.students_enrolled,
                        u.teachers_enrolled,
                        u.retired,
                    )
                    for u in below
                )
            )
    assert shapes[0] == shapes[1]
    assert bulk[0].created[UnitKind.CLASS] == 3 * 4 * 5 + 2 + 1
    assert bulk[0].updated[UnitKind.CLASS] == 1  # the class named twice


async def test_progress_counts_every_unit_of_the_file(
    session_factory: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(roster_import, "BATCH", 10)
    rows = roster(2, 3, 8)
    steps: list[tuple[int, int]] = []
    async with session_factory() as session:
        result = await import_roster(
            session, rows, DIVISION, progress=lambda done, total: steps.append((done, total))
        )
        await session.rollback()
    totals = {total for _, total in steps}
    assert totals == {result.total} == {1 + 2 + 6 + 48}
    done = [done for done, _ in steps]
    assert done == sorted(done) and done[-1] == result.total and len(done) > 5
