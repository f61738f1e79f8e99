"""The audience picker's use cases on both databases: what someone may choose from by
their grants, why a unit pressed is refused, and which names a campaign could not tell
apart."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.application import UnitOfWork
from bot.application.audience import (
    Level,
    UnitRefusal,
    chosen_labels,
    named_units,
    pick_refusal,
    picker_scope,
    units_at,
)
from quizzes.participants import Participant, Role
from quizzes.permissions import Permissions
from quizzes.units import UnitKind
from tests.factories import World, build_world

ADMIN = Permissions(is_admin=True)
NOBODY = Permissions()
FIRST = "胡杨河市第一中学"
OTHER = "一三一团中学"
THIRD = "一三七团第一小学"


@pytest.fixture
async def world(session_factory: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(session_factory)


@pytest.fixture
async def uow(
    session_factory: async_sessionmaker[AsyncSession], world: World
) -> AsyncIterator[UnitOfWork]:
    async with session_factory() as session:
        yield UnitOfWork.over(session)


def person(role: Role | None = None, unit_id: int | None = None) -> Participant:
    return Participant(
        id=1,
        telegram_id=1,
        display_name="p",
        role=role,
        unit_id=unit_id,
        locale="zh-CN",
        subscribed=True,
        blocked_at=None,
        joined_at=None,
    )


def coordinates(world: World, *schools: str) -> Permissions:
    return Permissions(coordinator_of=frozenset(world.schools[s].id for s in schools))


async def test_the_bureau_is_offered_the_whole_tree(uow: UnitOfWork, world: World) -> None:
    scope = await picker_scope(uow, person(), ADMIN)
    assert scope.everyone and scope.own is None
    assert scope.levels == (Level.REGIMENTS, Level.SCHOOLS, Level.CLASSES)
    regiments = await units_at(uow, ADMIN, Level.REGIMENTS)
    assert [u.name for u in regiments] == ["129团", "131团", "137团"]
    assert [u.name for u in await units_at(uow, ADMIN, Level.SCHOOLS)] == [OTHER, THIRD, FIRST]
    classes = await units_at(uow, ADMIN, Level.CLASSES, world.schools[FIRST].id)
    assert [u.name for u in classes] == ["七年级1班", "七年级2班"]


async def test_a_coordinator_is_offered_their_schools_and_their_classes(
    uow: UnitOfWork, world: World
) -> None:
    two = coordinates(world, FIRST, OTHER)
    scope = await picker_scope(uow, person(Role.TEACHER), two)
    assert not scope.everyone and scope.own is None
    assert scope.levels == (Level.SCHOOLS, Level.CLASSES)
    assert await units_at(uow, two, Level.REGIMENTS) == []
    assert [u.name for u in await units_at(uow, two, Level.SCHOOLS)] == [OTHER, FIRST]
    assert await units_at(uow, two, Level.CLASSES, world.schools[THIRD].id) == []

    one = coordinates(world, FIRST)
    scope = await picker_scope(uow, person(Role.TEACHER), one)
    assert scope.own == world.schools[FIRST] and scope.own_label == FIRST
    assert scope.levels == (Level.CLASSES,)


async def test_a_teacher_is_offered_their_class_only_where_the_dialogue_allows(
    uow: UnitOfWork, world: World
) -> None:
    own = world.classes["七年级2班"]
    teacher = person(Role.TEACHER, own.id)
    scope = await picker_scope(uow, teacher, NOBODY, teachers=True)
    assert scope.own == own and scope.levels == () and not scope.everyone
    assert (await picker_scope(uow, teacher, NOBODY)).empty
    assert (await picker_scope(uow, person(Role.STUDENT, own.id), NOBODY, teachers=True)).empty


async def test_a_unit_not_on_offer_is_someone_elses_or_stale(
    uow: UnitOfWork, world: World
) -> None:
    mine = coordinates(world, FIRST)
    elsewhere = world.classes["三年级1班"]
    assert await pick_refusal(uow, elsewhere.id, person(), mine) is UnitRefusal.OUTSIDE
    assert await pick_refusal(uow, 999_999, person(), mine) is UnitRefusal.STALE
    # Their own class, or a unit of their school, pressed out of turn: only stale.
    teacher = person(Role.TEACHER, elsewhere.id)
    assert await pick_refusal(uow, elsewhere.id, teacher, NOBODY) is UnitRefusal.STALE
    first_class = world.classes["七年级1班"].id
    assert await pick_refusal(uow, first_class, person(), mine) is UnitRefusal.STALE


async def test_names_a_campaign_could_not_tell_apart(uow: UnitOfWork, world: World) -> None:
    await uow.units.ensure(world.schools[OTHER], UnitKind.CLASS, "七年级1班")
    await uow.commit()
    class_1, class_2 = world.classes["七年级1班"], world.classes["七年级2班"]
    named = await named_units(uow, [class_2.id, class_1.id, world.schools[FIRST].id])
    assert named.names == ["七年级1班", "七年级2班", FIRST]
    assert named.shared == ["七年级1班"]
    labels = await chosen_labels(uow, [class_2.id, 999_999])
    assert labels == [f"{FIRST} · 七年级2班"]  # a class after its school; a gone unit left out
