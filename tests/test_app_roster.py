"""The roster's use cases on both databases: joining, the walk down the tree, the profile
and its settings, blocking. What they commit is read back in a session of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.application import UnitOfWork, roster
from bot.application.roster import TOP, UnitPickStatus
from quizzes.clock import fixed_clock
from quizzes.participants import Participant, Role
from quizzes.registration import JoinStatus
from quizzes.units import UnitKind
from storage.models import InviteCodeRow
from tests.factories import World, build_world

NOW = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
CLOCK = fixed_clock(NOW)
CLASS_LABEL = "129团 · 胡杨河市第一中学 · 七年级1班"


@pytest.fixture
async def world(session_factory: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(session_factory)


@pytest.fixture
async def uow(
    session_factory: async_sessionmaker[AsyncSession], world: World
) -> AsyncIterator[UnitOfWork]:
    async with session_factory() as session:
        yield UnitOfWork.over(session)


async def newcomer(uow: UnitOfWork, telegram_id: int = 501) -> Participant:
    participant = await uow.participants.get_or_create(telegram_id, "zh-CN")
    await uow.commit()
    return participant


async def stored(
    session_factory: async_sessionmaker[AsyncSession], telegram_id: int
) -> Participant:
    """The participant as committed, read in a session of its own."""
    async with session_factory() as session:
        found = await UnitOfWork.over(session).participants.by_telegram_id(telegram_id)
    assert found is not None
    return found


async def test_a_class_code_joins_its_class_with_the_code_s_role_and_counts_a_use(
    uow: UnitOfWork, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    code = world.codes[("七年级1班", Role.STUDENT)]

    joined = await roster.join_with_code(uow, await newcomer(uow), code, clock=CLOCK)

    assert joined.outcome.status is JoinStatus.JOINED
    assert joined.unit_label == CLASS_LABEL
    saved = await stored(session_factory, 501)
    assert saved.unit_id == world.classes["七年级1班"].id and saved.role is Role.STUDENT
    assert saved.joined_at is None  # the name is still missing
    async with session_factory() as session:
        assert await session.scalar(select(InviteCodeRow.uses).filter_by(code=code)) == 1


async def test_the_code_that_completes_registration_marks_it_at_the_clock_s_time(
    uow: UnitOfWork, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    participant = await roster.set_display_name(uow, await newcomer(uow), "小明", clock=CLOCK)
    assert participant.joined_at is None

    code = world.codes[("七年级2班", Role.STUDENT)]
    joined = await roster.join_with_code(uow, participant, code, clock=CLOCK)

    assert joined.outcome.participant.joined_at == NOW
    assert (await stored(session_factory, 501)).joined_at == NOW


@pytest.mark.parametrize("revoked", [False, True])
async def test_an_unknown_or_revoked_code_changes_nothing(
    uow: UnitOfWork,
    world: World,
    session_factory: async_sessionmaker[AsyncSession],
    revoked: bool,
) -> None:
    code = "ZZZZ9999"
    if revoked:
        code = world.codes[("七年级1班", Role.STUDENT)]
        await uow.invites.revoke(code)
        await uow.commit()

    joined = await roster.join_with_code(uow, await newcomer(uow), code, clock=CLOCK)

    wanted = JoinStatus.REVOKED_CODE if revoked else JoinStatus.UNKNOWN_CODE
    assert joined.outcome.status is wanted and joined.unit_label is None
    saved = await stored(session_factory, 501)
    assert saved.unit_id is None and saved.role is None


async def test_the_walk_starts_at_the_regiments_below_the_division(uow: UnitOfWork) -> None:
    level = await roster.unit_level(uow, TOP)

    assert level.parent is None and level.back_to is None and level.join_here is None
    assert [unit.name for unit in level.units] == ["129团", "131团", "137团"]
    assert {unit.kind for unit in level.units} == {UnitKind.REGIMENT}


async def test_a_school_s_level_offers_its_classes_the_school_itself_and_the_way_back(
    uow: UnitOfWork, world: World
) -> None:
    school = world.schools["胡杨河市第一中学"]
    regiment = await uow.units.get(school.parent_id or 0)
    assert regiment is not None

    at_school = await roster.unit_level(uow, school.id)
    at_regiment = await roster.unit_level(uow, regiment.id)

    assert [unit.name for unit in at_school.units] == ["七年级1班", "七年级2班"]
    assert at_school.join_here == school and at_school.back_to == regiment.id
    assert at_school.parent_label == "胡杨河市第一中学"
    assert [unit.name for unit in at_regiment.units] == ["胡杨河市第一中学"]
    assert at_regiment.join_here is None and at_regiment.back_to == TOP


async def test_picking_a_unit_goes_down_until_a_school_or_class_is_joined(
    uow: UnitOfWork, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    participant = await newcomer(uow)
    school = world.schools["胡杨河市第一中学"]

    down = await roster.pick_unit(uow, participant, school.id, final=False, clock=CLOCK)
    joined = await roster.pick_unit(uow, participant, school.id, final=True, clock=CLOCK)

    assert down.status is UnitPickStatus.DESCEND and down.unit == school
    assert (await stored(session_factory, 501)).unit_id == school.id
    assert joined.status is UnitPickStatus.CHOSEN
    assert joined.label == "129团 · 胡杨河市第一中学"
    assert joined.participant.unit_id == school.id


async def test_a_regiment_with_nothing_below_cannot_be_joined(
    uow: UnitOfWork, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    division = (await uow.units.roots())[0]
    empty, _ = await uow.units.ensure(division, UnitKind.REGIMENT, "140团")
    await uow.commit()

    picked = await roster.pick_unit(uow, await newcomer(uow), empty.id, final=True, clock=CLOCK)

    assert picked.status is UnitPickStatus.NOT_JOINABLE and picked.label == "140团"
    assert (await stored(session_factory, 501)).unit_id is None


async def test_a_gone_or_retired_unit_is_a_stale_button(
    uow: UnitOfWork, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    klass = world.classes["七年级2班"]
    await uow.units.retire([klass], NOW)
    await uow.commit()
    participant = await newcomer(uow)

    retired = await roster.pick_unit(uow, participant, klass.id, final=False, clock=CLOCK)
    gone = await roster.pick_unit(uow, participant, 999_999, final=False, clock=CLOCK)

    assert retired.status is gone.status is UnitPickStatus.STALE
    assert (await stored(session_factory, 501)).unit_id is None


async def test_role_and_name_complete_registration_once(
    uow: UnitOfWork, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    participant = await newcomer(uow)
    klass = world.classes["七年级1班"]
    participant = (
        await roster.pick_unit(uow, participant, klass.id, final=False, clock=CLOCK)
    ).participant
    participant = await roster.choose_role(uow, participant, Role.PARENT, clock=CLOCK)
    assert participant.joined_at is None

    participant = await roster.set_display_name(uow, participant, "李妈妈", clock=CLOCK)
    later = fixed_clock(datetime(2026, 4, 1, tzinfo=UTC))
    participant = await roster.choose_role(uow, participant, Role.TEACHER, clock=later)

    saved = await stored(session_factory, 501)
    assert saved.joined_at == NOW and saved.role is Role.TEACHER
    assert saved.display_name == "李妈妈"


async def test_the_profile_names_the_unit_in_full_or_none(uow: UnitOfWork, world: World) -> None:
    participant = await newcomer(uow)
    assert (await roster.profile(uow, participant)).unit_label is None

    klass = world.classes["七年级1班"]
    picked = await roster.pick_unit(uow, participant, klass.id, final=False, clock=CLOCK)
    shown = await roster.profile(uow, picked.participant)

    assert shown.unit_label == CLASS_LABEL and shown.participant == picked.participant


async def test_only_a_language_the_bot_speaks_may_be_chosen(
    uow: UnitOfWork, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    participant = await newcomer(uow)

    assert await roster.choose_language(uow, participant, "fr") is None
    assert (await stored(session_factory, 501)).locale == "zh-CN"
    changed = await roster.choose_language(uow, participant, "en")
    assert changed is not None and changed.locale == "en"
    assert (await stored(session_factory, 501)).locale == "en"
    assert await roster.chosen_language(uow, 501) == "en"
    assert await roster.chosen_language(uow, 502) is None


async def test_subscription_is_switched_off_and_on(
    uow: UnitOfWork, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    participant = await newcomer(uow)

    participant = await roster.set_subscription(uow, participant, subscribed=False)
    assert (await stored(session_factory, 501)).subscribed is False
    await roster.set_subscription(uow, participant, subscribed=True)
    assert (await stored(session_factory, 501)).subscribed is True


async def test_blocking_is_recorded_with_its_time_and_cleared_on_unblocking(
    uow: UnitOfWork, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await newcomer(uow)

    await roster.mark_blocked(uow, 501, now=NOW)
    assert (await stored(session_factory, 501)).blocked_at == NOW
    await roster.mark_unblocked(uow, 501)
    assert (await stored(session_factory, 501)).blocked_at is None
