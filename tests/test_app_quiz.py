"""Taking a quiz through the application layer, on both databases: what is open to whom,
starting and resuming, answering (and who may), time running out, and the result."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.application.quiz import (
    Offer,
    attempt_campaign,
    attempt_result,
    choose_option,
    open_campaigns,
    presser_locale,
    start_attempt,
    submit_choices,
    time_up,
)
from quizzes.attempts import Attempt, Verdict
from quizzes.campaigns import Campaign, Refusal
from quizzes.clock import Clock, fixed_clock, system_clock
from quizzes.participants import Participant
from storage.unit_of_work import UnitOfWork
from tests.factories import World, build_world
from tests.quiz_world import open_campaign, registered, right_positions


@pytest.fixture
async def world(session_factory: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(session_factory)


@pytest.fixture
async def uow(session_factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[UnitOfWork]:
    async with session_factory() as session:
        unit_of_work = UnitOfWork.over(session)
        assert isinstance(unit_of_work, UnitOfWork)
        yield unit_of_work


async def fresh(session_factory: async_sessionmaker[AsyncSession], attempt_id: int) -> Attempt:
    """The attempt as another session reads it: what the use case committed."""
    async with session_factory() as session:
        found = await UnitOfWork.over(session).attempts.get(attempt_id)
    assert found is not None
    return found


async def begin(
    uow: UnitOfWork, campaign: Campaign, student: Participant, clock: Clock = system_clock
) -> Attempt:
    begun = await start_attempt(
        uow, campaign.id, student, chat_id=student.telegram_id, clock=clock
    )
    assert begun is not None and begun.started.attempt is not None
    return begun.started.attempt


async def answer_rightly(
    uow: UnitOfWork,
    session_factory: async_sessionmaker[AsyncSession],
    student: Participant,
    attempt: Attempt,
) -> Attempt:
    """Answer every question of the attempt rightly; the attempt as it ends."""
    for seq in range(1, attempt.question_count + 1):
        right = await right_positions(session_factory, attempt.id, seq)
        for position in right:
            step = await choose_option(
                uow, student.telegram_id, attempt.id, seq, position, clock=system_clock
            )
        if len(right) > 1:
            step = await submit_choices(
                uow, student.telegram_id, attempt.id, seq, clock=system_clock
            )
        assert step.verdict is Verdict.RECORDED and step.correct
    return await fresh(session_factory, attempt.id)


async def test_only_a_registered_participant_in_the_audience_sees_an_open_campaign(
    uow: UnitOfWork, session_factory: async_sessionmaker[AsyncSession], world: World
) -> None:
    seventh = world.classes["七年级1班"].id
    await open_campaign(session_factory, name="全校", questions=3)
    await open_campaign(
        session_factory, name="只给三年级", unit_ids=(world.classes["三年级1班"].id,)
    )
    student = await registered(session_factory, 602, seventh)
    newcomer = await uow.participants.get_or_create(601, "zh-CN")
    await uow.commit()
    now = datetime.now(UTC)

    assert (await open_campaigns(uow, newcomer, now=now)).registered is False
    listed = await open_campaigns(uow, student, now=now)
    assert listed.registered
    assert [(c.campaign.name, c.attempts_used, c.offer) for c in listed.campaigns] == [
        ("全校", 0, Offer.START)
    ]
    assert (await open_campaigns(uow, student, now=now + timedelta(days=2))).campaigns == ()


async def test_an_attempt_started_is_committed_and_resumed_on_the_next_press(
    uow: UnitOfWork, session_factory: async_sessionmaker[AsyncSession], world: World
) -> None:
    campaign = await open_campaign(session_factory, questions=3)
    student = await registered(session_factory, 603, world.classes["七年级1班"].id)

    assert await start_attempt(uow, 999_999, student, chat_id=603, clock=system_clock) is None
    begun = await start_attempt(uow, campaign.id, student, chat_id=603, clock=system_clock)
    assert begun is not None and begun.campaign.id == campaign.id
    first = begun.started
    assert first.attempt is not None and first.question is not None and not first.resumed
    assert first.question.seq == 1
    assert (await fresh(session_factory, first.attempt.id)).chat_id == 603

    again = await start_attempt(uow, campaign.id, student, chat_id=603, clock=system_clock)
    assert again is not None and again.started.resumed
    assert again.started.attempt is not None and again.started.attempt.id == first.attempt.id
    listed = await open_campaigns(uow, student, now=datetime.now(UTC))
    assert [(c.attempts_used, c.offer) for c in listed.campaigns] == [(1, Offer.RESUME)]


async def test_a_campaign_outside_its_window_refuses_to_start(
    uow: UnitOfWork, session_factory: async_sessionmaker[AsyncSession], world: World
) -> None:
    campaign = await open_campaign(session_factory)
    student = await registered(session_factory, 604, world.classes["七年级1班"].id)
    later = fixed_clock(datetime.now(UTC) + timedelta(days=2))

    begun = await start_attempt(uow, campaign.id, student, chat_id=604, clock=later)

    assert begun is not None and begun.started.attempt is None
    assert begun.started.refusal is Refusal.NOT_OPEN


async def test_only_the_owner_may_answer_and_their_answer_moves_the_attempt_on(
    uow: UnitOfWork, session_factory: async_sessionmaker[AsyncSession], world: World
) -> None:
    campaign = await open_campaign(session_factory, questions=3)
    student = await registered(session_factory, 605, world.classes["七年级1班"].id)
    classmate = await registered(session_factory, 606, world.classes["七年级1班"].id)
    attempt = await begin(uow, campaign, student)
    right = await right_positions(session_factory, attempt.id, 1)

    forged = await choose_option(uow, 606, attempt.id, 1, right[0], clock=system_clock)
    assert forged.verdict is Verdict.NOT_YOURS and forged.locale is None
    assert await presser_locale(uow, classmate.telegram_id) == "zh-CN"
    assert await presser_locale(uow, 123_456) is None
    assert (await fresh(session_factory, attempt.id)).current_seq == 1

    if len(right) > 1:
        for position in right:
            await choose_option(uow, 605, attempt.id, 1, position, clock=system_clock)
        step = await submit_choices(uow, 605, attempt.id, 1, clock=system_clock)
    else:
        step = await choose_option(uow, 605, attempt.id, 1, right[0], clock=system_clock)
    assert step.verdict is Verdict.RECORDED and step.correct and step.locale == "zh-CN"
    assert step.next is not None and step.next.seq == 2
    assert step.campaign is not None and step.campaign.id == campaign.id
    assert (await fresh(session_factory, attempt.id)).current_seq == 2

    late = await choose_option(uow, 605, attempt.id, 1, right[0], clock=system_clock)
    assert late.verdict is Verdict.STALE


async def test_submitting_a_multiple_choice_with_nothing_ticked_records_nothing(
    uow: UnitOfWork, session_factory: async_sessionmaker[AsyncSession], world: World
) -> None:
    campaign = await open_campaign(session_factory, questions=5)
    student = await registered(session_factory, 607, world.classes["七年级1班"].id)
    attempt = await begin(uow, campaign, student)
    for seq in range(1, 6):
        if len(await right_positions(session_factory, attempt.id, seq)) > 1:
            break
        await answer_one(uow, session_factory, student, attempt, seq)
    else:
        pytest.fail("the small bank has a multiple-choice question")

    step = await submit_choices(uow, 607, attempt.id, seq, clock=system_clock)

    assert step.verdict is Verdict.EMPTY
    assert (await fresh(session_factory, attempt.id)).current_seq == seq


async def answer_one(
    uow: UnitOfWork,
    session_factory: async_sessionmaker[AsyncSession],
    student: Participant,
    attempt: Attempt,
    seq: int,
) -> None:
    right = await right_positions(session_factory, attempt.id, seq)
    await choose_option(uow, student.telegram_id, attempt.id, seq, right[0], clock=system_clock)


async def test_time_is_up_only_once_the_deadline_has_passed(
    uow: UnitOfWork, session_factory: async_sessionmaker[AsyncSession], world: World
) -> None:
    campaign = await open_campaign(session_factory, questions=3, seconds_per_question=30)
    student = await registered(session_factory, 608, world.classes["七年级1班"].id)
    await uow.participants.update(student, locale="en")
    await uow.commit()
    now = datetime.now(UTC)
    attempt = await begin(uow, campaign, student, fixed_clock(now))

    assert (
        await time_up(uow, attempt.id, 1, clock=fixed_clock(now + timedelta(seconds=10))) is None
    )
    timed_out = await time_up(uow, attempt.id, 1, clock=fixed_clock(now + timedelta(seconds=31)))

    assert timed_out is not None and timed_out.locale == "en"
    assert timed_out.campaign.id == campaign.id
    assert timed_out.step.verdict is Verdict.TIME_UP and timed_out.step.next is not None
    assert (await fresh(session_factory, attempt.id)).current_seq == 2
    # Recorded once: the clock of another process finds nothing left to do.
    assert (
        await time_up(uow, attempt.id, 1, clock=fixed_clock(now + timedelta(seconds=32))) is None
    )


async def test_a_failed_result_offers_another_attempt_only_while_the_window_is_open(
    uow: UnitOfWork, session_factory: async_sessionmaker[AsyncSession], world: World
) -> None:
    campaign = await open_campaign(session_factory, questions=3, attempts_allowed=2)
    student = await registered(session_factory, 609, world.classes["七年级1班"].id)
    attempt = await begin(uow, campaign, student)
    closed = fixed_clock(campaign.closes_at + timedelta(minutes=1))
    step = await choose_option(uow, 609, attempt.id, 1, 0, clock=closed)
    assert step.verdict is Verdict.CLOSED and step.attempt is not None
    finished = step.attempt
    assert finished.finished and not finished.passed

    open_result = await attempt_result(uow, campaign, finished, now=datetime.now(UTC))
    assert not open_result.outcome.passed and open_result.attempts_left == 1
    assert [q.seq for q in open_result.missed] == [1, 2, 3]
    assert all(q.timed_out for q in open_result.missed) and not open_result.certificate
    after = await attempt_result(uow, campaign, finished, now=campaign.closes_at)
    assert after.attempts_left == 0
    assert (await attempt_campaign(uow, finished)).id == campaign.id


async def test_a_passed_result_places_the_student_and_mentions_the_certificate(
    uow: UnitOfWork, session_factory: async_sessionmaker[AsyncSession], world: World
) -> None:
    campaign = await open_campaign(session_factory, questions=3)
    student = await registered(session_factory, 610, world.classes["七年级1班"].id)
    attempt = await answer_rightly(
        uow, session_factory, student, await begin(uow, campaign, student)
    )

    result = await attempt_result(uow, campaign, attempt, now=datetime.now(UTC))

    assert result.outcome.passed and result.attempts_left == 0 and result.certificate
    assert result.missed == ()
    assert result.standing is not None and (result.standing.place, result.standing.of) == (1, 1)
