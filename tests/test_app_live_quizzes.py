"""Live quizzes through the application layer, on both databases: who may start one and
how, who may stop it, and a vote kept once per person and poll."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.application.live_quizzes import (
    EARLY_VOTE_PAUSES,
    LiveQuizRefusal,
    live_quiz_to_stop,
    record_poll_answer,
    running_quiz_to_stop,
    start_live_quiz,
)
from bot.i18n import load_catalog
from quizzes.livequiz import LiveQuiz
from quizzes.participants import Participant, Role
from quizzes.permissions import Permissions
from storage.unit_of_work import UnitOfWork
from tests.factories import World, build_world
from tests.quiz_world import open_campaign, registered

GROUP = -100_123
NOBODY = Permissions()


@pytest.fixture
async def world(session_factory: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(session_factory)


@pytest.fixture
async def uow(session_factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[UnitOfWork]:
    async with session_factory() as session:
        unit_of_work = UnitOfWork.over(session)
        assert isinstance(unit_of_work, UnitOfWork)
        yield unit_of_work


async def start(
    uow: UnitOfWork,
    who: Participant,
    args: str | None = None,
    permissions: Permissions = NOBODY,
    chat_id: int = GROUP,
) -> LiveQuiz | LiveQuizRefusal:
    return await start_live_quiz(
        uow,
        who,
        permissions,
        args,
        chat_id=chat_id,
        chat_title="七年级1班家长群",
        started_by=who.telegram_id,
        rng=random.Random(7),
    )


def test_every_refusal_has_its_message() -> None:
    catalog = load_catalog("zh-CN")
    assert [r for r in LiveQuizRefusal if f"livequiz.{r.value}" not in catalog] == []


async def test_a_teacher_starts_one_quiz_at_a_time_in_a_group(
    uow: UnitOfWork, session_factory: async_sessionmaker[AsyncSession], world: World
) -> None:
    seventh = world.classes["七年级1班"].id
    teacher = await registered(session_factory, 801, seventh, role=Role.TEACHER, name="王老师")
    student = await registered(session_factory, 802, seventh)

    assert await start(uow, teacher) is LiveQuizRefusal.NO_QUESTIONS
    await open_campaign(session_factory)
    assert await start(uow, student) is LiveQuizRefusal.TEACHERS_ONLY
    assert isinstance(await start(uow, student, permissions=Permissions(is_admin=True)), LiveQuiz)
    assert await start(uow, teacher, "3 20") is LiveQuizRefusal.ALREADY_RUNNING
    assert await start(uow, teacher, "three", chat_id=-1) is LiveQuizRefusal.USAGE

    live = await start(uow, teacher, "3 20", chat_id=-2)
    assert isinstance(live, LiveQuiz)
    assert (live.question_count, live.seconds_per_question) == (3, 20)
    assert (live.chat_id, live.started_by, live.chat_title) == (-2, 801, "七年级1班家长群")
    async with session_factory() as session:  # committed
        elsewhere = UnitOfWork.over(session)
        assert isinstance(elsewhere, UnitOfWork)
        assert await elsewhere.live_quizzes.get(live.id) == live


async def test_its_teacher_their_coordinator_or_an_admin_may_stop_it(
    uow: UnitOfWork, session_factory: async_sessionmaker[AsyncSession], world: World
) -> None:
    await open_campaign(session_factory)
    seventh = world.classes["七年级1班"].id
    teacher = await registered(session_factory, 803, seventh, role=Role.TEACHER)
    colleague = await registered(session_factory, 804, seventh, role=Role.TEACHER)
    live = await start(uow, teacher)
    assert isinstance(live, LiveQuiz)
    school = world.schools["胡杨河市第一中学"].id
    coordinator = Permissions(coordinator_of=frozenset({school}))
    elsewhere = Permissions(coordinator_of=frozenset({world.schools["一三一团中学"].id}))

    assert await running_quiz_to_stop(uow, -9, stopper=803, permissions=NOBODY) is (
        LiveQuizRefusal.NOT_RUNNING
    )
    assert await live_quiz_to_stop(uow, live.id + 1, stopper=803, permissions=NOBODY) is (
        LiveQuizRefusal.NOT_RUNNING
    )
    for stopper, permissions in ((colleague.telegram_id, NOBODY), (805, elsewhere)):
        assert await running_quiz_to_stop(
            uow, GROUP, stopper=stopper, permissions=permissions
        ) is (LiveQuizRefusal.STOP_NOT_ALLOWED)
        assert await live_quiz_to_stop(uow, live.id, stopper=stopper, permissions=permissions) is (
            LiveQuizRefusal.STOP_NOT_ALLOWED
        )
    for stopper, permissions in (
        (803, NOBODY),
        (805, coordinator),
        (806, Permissions(is_admin=True)),
    ):
        found = await running_quiz_to_stop(uow, GROUP, stopper=stopper, permissions=permissions)
        assert isinstance(found, LiveQuiz) and found.id == live.id
        by_button = await live_quiz_to_stop(uow, live.id, stopper=stopper, permissions=permissions)
        assert isinstance(by_button, LiveQuiz) and by_button.id == live.id

    await uow.live_quizzes.finish(live.id, datetime.now(UTC))
    await uow.commit()
    assert await live_quiz_to_stop(uow, live.id, stopper=803, permissions=NOBODY) is (
        LiveQuizRefusal.NOT_RUNNING
    )


async def test_a_vote_is_kept_once_and_only_for_a_live_quizs_poll(
    uow: UnitOfWork, session_factory: async_sessionmaker[AsyncSession], world: World
) -> None:
    await open_campaign(session_factory)
    seventh = world.classes["七年级1班"].id
    teacher = await registered(session_factory, 807, seventh, role=Role.TEACHER)
    student = await registered(session_factory, 808, seventh)
    live = await start(uow, teacher)
    assert isinstance(live, LiveQuiz)
    question_id, _order = await uow.live_quizzes.planned(live.id, 1)
    now = datetime.now(UTC)
    await uow.live_quizzes.add_poll(
        live.id, 1, "poll-1", question_id, 0, 11, now + timedelta(seconds=30)
    )
    await uow.commit()

    assert await record_poll_answer(uow, student, "not-ours", [0], now=now) is False
    assert await record_poll_answer(uow, student, "poll-1", [], now=now) is False
    assert await record_poll_answer(uow, student, "poll-1", [0], now=now) is True
    assert await record_poll_answer(uow, student, "poll-1", [1], now=now) is False

    board = await uow.live_quizzes.board(live.id)
    assert [(line.participant_id, line.right, line.answered) for line in board] == [
        (student.id, 1, 1)
    ]


async def test_a_vote_that_comes_before_its_poll_is_written_down_is_kept(
    uow: UnitOfWork, session_factory: async_sessionmaker[AsyncSession], world: World
) -> None:
    """The bot learns a poll's id from sendPoll's answer; a quick vote can come first."""
    await open_campaign(session_factory)
    seventh = world.classes["七年级1班"].id
    teacher = await registered(session_factory, 809, seventh, role=Role.TEACHER)
    student = await registered(session_factory, 810, seventh)
    live = await start(uow, teacher)
    assert isinstance(live, LiveQuiz)
    question_id, _order = await uow.live_quizzes.planned(live.id, 1)
    now = datetime.now(UTC)
    pauses: list[float] = []

    async def meanwhile_the_poll_is_written(pause: float) -> None:
        pauses.append(pause)
        if len(pauses) == 2:  # the sender commits the poll while the vote waits
            async with session_factory() as session:
                sender = UnitOfWork.over(session)
                await sender.live_quizzes.add_poll(
                    live.id, 1, "poll-late", question_id, 0, 12, now + timedelta(seconds=30)
                )
                await sender.commit()

    kept = await record_poll_answer(
        uow, student, "poll-late", [0], now=now, sleep=meanwhile_the_poll_is_written
    )
    assert kept is True and len(pauses) == 2
    board = await uow.live_quizzes.board(live.id)
    assert [(line.participant_id, line.answered) for line in board] == [(student.id, 1)]

    waited: list[float] = []

    async def nothing_comes(pause: float) -> None:
        waited.append(pause)

    assert (
        await record_poll_answer(uow, student, "never", [0], now=now, sleep=nothing_comes) is False
    )
    assert len(waited) == len(EARLY_VOTE_PAUSES) and sum(waited) < 5
