"""Granting and revoking rights on both databases: who may, which school a name means,
and what is written (read back in a session of its own)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.application import UnitOfWork
from bot.application.administration import (
    RightsChange,
    RightsStatus,
    change_rights,
    may_change_rights,
)
from quizzes.participants import Grant, GrantKind, Participant
from quizzes.permissions import Permissions
from quizzes.units import UnitKind
from storage.models import GrantRow
from tests.factories import World, build_world

ADMIN = Permissions(is_admin=True)
TARGET = 602


@pytest.fixture
async def world(session_factory: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(session_factory)


@pytest.fixture
async def uow(
    session_factory: async_sessionmaker[AsyncSession], world: World
) -> AsyncIterator[UnitOfWork]:
    async with session_factory() as session:
        yield UnitOfWork.over(session)


@pytest.fixture
async def admin(uow: UnitOfWork) -> Participant:
    granter = await uow.participants.get_or_create(601, "zh-CN")
    target = await uow.participants.get_or_create(TARGET, "zh-CN")
    await uow.participants.update(target, display_name="王老师")
    await uow.commit()
    return granter


async def grants_of(
    session_factory: async_sessionmaker[AsyncSession], telegram_id: int
) -> list[Grant]:
    async with session_factory() as session:
        uow = UnitOfWork.over(session)
        person = await uow.participants.by_telegram_id(telegram_id)
        assert person is not None
        return await uow.grants.of(person.id)


def test_only_admins_change_rights() -> None:
    assert may_change_rights(ADMIN)
    assert not may_change_rights(Permissions(coordinator_of=frozenset({2})))
    assert not may_change_rights(Permissions())


@pytest.mark.parametrize("viewer", [Permissions(), Permissions(coordinator_of=frozenset({2}))])
async def test_a_coordinator_or_anyone_else_is_refused_and_nothing_is_written(
    uow: UnitOfWork,
    admin: Participant,
    session_factory: async_sessionmaker[AsyncSession],
    viewer: Permissions,
) -> None:
    change = RightsChange(GrantKind.ADMIN, TARGET)

    outcome = await change_rights(uow, change, by=admin, viewer=viewer)

    assert outcome.status is RightsStatus.NOT_ALLOWED
    assert await grants_of(session_factory, TARGET) == []


async def test_granting_admin_twice_says_it_was_already_granted(
    uow: UnitOfWork, admin: Participant, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    change = RightsChange(GrantKind.ADMIN, TARGET)

    first = await change_rights(uow, change, by=admin, viewer=ADMIN)
    second = await change_rights(uow, change, by=admin, viewer=ADMIN)

    assert (first.status, first.who, first.school) == (RightsStatus.GRANTED, "王老师", None)
    assert second.status is RightsStatus.ALREADY
    assert [g.kind for g in await grants_of(session_factory, TARGET)] == [GrantKind.ADMIN]
    async with session_factory() as session:
        assert list(await session.scalars(select(GrantRow.granted_by))) == [admin.telegram_id]


async def test_someone_the_bot_never_met_gets_no_right(
    uow: UnitOfWork, admin: Participant
) -> None:
    outcome = await change_rights(uow, RightsChange(GrantKind.ADMIN, 999), by=admin, viewer=ADMIN)

    assert outcome.status is RightsStatus.UNKNOWN_USER


async def test_a_coordinator_s_school_is_found_by_name(
    uow: UnitOfWork,
    admin: Participant,
    world: World,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    change = RightsChange(GrantKind.COORDINATOR, TARGET, "一三一团中学")

    outcome = await change_rights(uow, change, by=admin, viewer=ADMIN)
    unknown = await change_rights(
        uow, RightsChange(GrantKind.COORDINATOR, TARGET, "不存在的学校"), by=admin, viewer=ADMIN
    )

    assert (outcome.status, outcome.school) == (RightsStatus.GRANTED, "一三一团中学")
    assert unknown.status is RightsStatus.UNKNOWN_SCHOOL
    school = world.schools["一三一团中学"]
    granted = [(g.kind, g.unit_id) for g in await grants_of(session_factory, TARGET)]
    assert granted == [(GrantKind.COORDINATOR, school.id)]


async def test_a_school_name_two_regiments_share_asks_which_and_grants_nothing(
    uow: UnitOfWork,
    admin: Participant,
    world: World,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    regiment = await uow.units.get(world.schools["一三一团中学"].parent_id or 0)
    await uow.units.ensure(regiment, UnitKind.SCHOOL, "胡杨河市第一中学")
    await uow.commit()
    change = RightsChange(GrantKind.COORDINATOR, TARGET, "胡杨河市第一中学")

    outcome = await change_rights(uow, change, by=admin, viewer=ADMIN)

    assert outcome.status is RightsStatus.AMBIGUOUS_SCHOOL
    assert outcome.choices == ("129团 · 胡杨河市第一中学", "131团 · 胡杨河市第一中学")
    assert await grants_of(session_factory, TARGET) == []


async def test_revoking_without_a_school_takes_every_school(
    uow: UnitOfWork, admin: Participant, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    for school in ("一三一团中学", "胡杨河市第一中学"):
        grant = RightsChange(GrantKind.COORDINATOR, TARGET, school)
        await change_rights(uow, grant, by=admin, viewer=ADMIN)
    revoke = RightsChange(GrantKind.COORDINATOR, TARGET, revoke=True)

    first = await change_rights(uow, revoke, by=admin, viewer=ADMIN)
    second = await change_rights(uow, revoke, by=admin, viewer=ADMIN)

    assert (first.status, first.school) == (RightsStatus.REVOKED, None)
    assert second.status is RightsStatus.NOTHING_TO_REVOKE
    assert await grants_of(session_factory, TARGET) == []


async def test_a_person_without_a_display_name_is_named_by_telegram_id(
    uow: UnitOfWork, admin: Participant
) -> None:
    await uow.participants.get_or_create(603, "zh-CN")
    await uow.commit()

    outcome = await change_rights(uow, RightsChange(GrantKind.ADMIN, 603), by=admin, viewer=ADMIN)

    assert (outcome.status, outcome.who) == (RightsStatus.GRANTED, "603")
