"""Building known worlds for tests: a small roster, invite codes, participants."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from quizzes.participants import Role
from quizzes.roster import RosterRow
from quizzes.units import Unit, UnitKind
from storage.repositories import Repositories
from storage.roster_import import import_roster

SMALL_ROSTER = [
    RosterRow(2, "129团", "胡杨河市第一中学", None, 1400, 110),
    RosterRow(3, "129团", "胡杨河市第一中学", "七年级1班", 45, 4),
    RosterRow(4, "129团", "胡杨河市第一中学", "七年级2班", 44, 4),
    RosterRow(5, "131团", "一三一团中学", None, 800, 60),
    RosterRow(6, "137团", "一三七团第一小学", "三年级1班", 38, 3),
]


@dataclass
class World:
    schools: dict[str, Unit]
    classes: dict[str, Unit]
    codes: dict[tuple[str, Role], str]


async def build_world(session_factory: async_sessionmaker[AsyncSession]) -> World:
    async with session_factory() as session:
        await import_roster(session, SMALL_ROSTER, "第七师")
        repo = Repositories.over(session)
        schools = {u.name: u for u in await repo.units.of_kind(UnitKind.SCHOOL)}
        classes = {u.name: u for u in await repo.units.of_kind(UnitKind.CLASS)}
        codes: dict[tuple[str, Role], str] = {}
        for unit in [*schools.values(), *classes.values()]:
            role = Role.STUDENT if unit.kind is UnitKind.CLASS else Role.TEACHER
            codes[(unit.name, role)] = (await repo.invites.active_for(unit.id, role)).code
        await session.commit()
    return World(schools, classes, codes)
