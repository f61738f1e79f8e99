"""Attempts at a campaign: starting, answering, timing out and finishing.

The rules live here; storage is reached through :class:`AttemptStore`, whose writes are
conditional (an answer is recorded only if the question is still unanswered, a question
advances only from the current one), so a second press, a re-delivered update or two
devices at once record one answer.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from quizzes.bank import QuestionType, StoredQuestion
from quizzes.campaigns import Campaign, Refusal, may_start
from quizzes.engine import (
    Candidate,
    Outcome,
    draw,
    question_deadline,
    score,
    shuffled_order,
    to_original,
)
from quizzes.engine import too_fast as answered_too_fast
from quizzes.participants import Participant
from quizzes.units import Unit


class AttemptStatus(StrEnum):
    ACTIVE = "active"
    FINISHED = "finished"


@dataclass(frozen=True, slots=True)
class Attempt:
    id: int
    campaign_id: int
    participant_id: int
    number: int
    status: AttemptStatus
    started_at: datetime
    deadline: datetime | None
    finished_at: datetime | None
    current_seq: int
    question_count: int
    points: float
    passed: bool | None
    total_ms: int | None
    flagged: int
    chat_id: int | None  # None: taken on the web pages
    message_id: int | None

    @property
    def finished(self) -> bool:
        return self.status is AttemptStatus.FINISHED


@dataclass(frozen=True, slots=True)
class AttemptQuestion:
    attempt_id: int
    seq: int
    question: StoredQuestion
    order: tuple[int, ...]  # display position -> original option index
    shown_at: datetime | None
    deadline: datetime | None
    answered_at: datetime | None
    chosen: frozenset[int] | None
    draft: frozenset[int]  # display positions toggled so far (multiple choice)
    points: float | None
    timed_out: bool
    too_fast: bool

    @property
    def answered(self) -> bool:
        return self.answered_at is not None

    @property
    def text_length(self) -> int:
        return len(self.question.stem) + sum(len(o) for o in self.question.options)


@dataclass(frozen=True, slots=True)
class Owner:
    """Whose attempt it is, as a press on its buttons is checked and answered."""

    telegram_id: int | None  # None: a participant of the web pages
    locale: str


@dataclass(frozen=True, slots=True)
class SignedIn:
    """Who answers through a door that knows the participant (the web pages), where the
    chat knows only the Telegram account that pressed."""

    participant_id: int


# A chat press names the Telegram account; a web page's form, the signed-in participant.
Presser = int | SignedIn


def owns(presser: Presser, snapshot: Snapshot) -> bool:
    if isinstance(presser, SignedIn):
        return snapshot.attempt.participant_id == presser.participant_id
    return snapshot.owner.telegram_id == presser


@dataclass(frozen=True, slots=True)
class Snapshot:
    """An attempt with its campaign, owner and two of its questions, read together for a press."""

    attempt: Attempt
    campaign: Campaign
    owner: Owner
    question: AttemptQuestion | None  # at the pressed seq
    following: AttemptQuestion | None  # at seq + 1, shown next if the press is recorded


class AttemptStore(Protocol):
    async def attempts_used(self, campaign_id: int, participant_id: int) -> int: ...

    async def active_attempt(self, campaign_id: int, participant_id: int) -> Attempt | None: ...

    async def candidates(self, bank_ids: Sequence[int]) -> list[Candidate]: ...

    async def questions(self, question_ids: Sequence[int]) -> dict[int, StoredQuestion]: ...

    async def create_attempt(
        self,
        campaign: Campaign,
        participant_id: int,
        number: int,
        plan: Sequence[tuple[int, Sequence[int]]],
        started_at: datetime,
        deadline: datetime | None,
        first_deadline: datetime | None,
        chat_id: int | None,
    ) -> Attempt | None: ...

    async def get(self, attempt_id: int) -> Attempt | None: ...

    async def question(self, attempt_id: int, seq: int) -> AttemptQuestion | None: ...

    async def record(
        self,
        attempt_id: int,
        seq: int,
        *,
        chosen: frozenset[int],
        answered_at: datetime,
        points: float,
        timed_out: bool,
        too_fast: bool,
    ) -> bool: ...

    async def snapshot(self, attempt_id: int, seq: int) -> Snapshot | None: ...

    async def record_and_advance(
        self,
        attempt_id: int,
        seq: int,
        *,
        chosen: frozenset[int],
        answered_at: datetime,
        points: float,
        too_fast: bool,
        next_deadline: datetime | None,
    ) -> Attempt | None:
        """:meth:`record` an answer, then :meth:`advance` to ``seq + 1`` shown at
        ``answered_at``; the attempt as it is then, or None if an answer was there."""
        ...

    async def set_draft(self, attempt_id: int, seq: int, draft: frozenset[int]) -> bool: ...

    async def advance(
        self, attempt_id: int, from_seq: int, shown_at: datetime, deadline: datetime | None
    ) -> bool: ...

    async def finish(self, attempt_id: int, finished_at: datetime, passed: bool) -> Attempt: ...

    async def set_message(self, attempt_id: int, message_id: int) -> None: ...

    def together(self) -> AbstractAsyncContextManager[None]:
        """The writes made inside share one transaction.

        Outside it a store may run a press's statements each on its own: the snapshot,
        and the single conditional writes (:meth:`record_and_advance`, :meth:`set_draft`).
        """
        ...


class CampaignStore(Protocol):
    async def get(self, campaign_id: int) -> Campaign | None: ...


class Verdict(StrEnum):
    """What became of a press on an answer button."""

    RECORDED = "recorded"
    TOGGLED = "toggled"
    NOT_YOURS = "not_yours"
    STALE = "stale"  # an old question, or an attempt already finished
    ALREADY_ANSWERED = "already_answered"
    TIME_UP = "time_up"
    CLOSED = "closed"
    EMPTY = "empty"  # submitted a multiple choice with nothing ticked


@dataclass(frozen=True, slots=True)
class Step:
    """The result of acting on an attempt, for the handler to show."""

    verdict: Verdict
    attempt: Attempt | None = None
    answered: AttemptQuestion | None = None  # the question just answered or timed out
    next: AttemptQuestion | None = None  # the question to show now, if any
    correct: bool | None = None
    campaign: Campaign | None = None  # the attempt's campaign, when it was read
    locale: str | None = None  # the owner's language, for a press they made


@dataclass(frozen=True, slots=True)
class Started:
    attempt: Attempt | None
    question: AttemptQuestion | None
    refusal: Refusal | None = None
    resumed: bool = False


@dataclass(frozen=True, slots=True)
class _Press:
    """A press that passed its checks: what it acts on."""

    campaign: Campaign
    attempt: Attempt
    question: AttemptQuestion
    following: AttemptQuestion | None
    locale: str

    def step(self, verdict: Verdict, next: AttemptQuestion | None = None) -> Step:
        return Step(verdict, self.attempt, next=next, campaign=self.campaign, locale=self.locale)


class Attempts:
    def __init__(
        self,
        store: AttemptStore,
        campaigns: CampaignStore,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.campaigns = campaigns
        self.clock = clock
        self.rng = rng or random.SystemRandom()

    async def start(
        self, campaign: Campaign, participant: Participant, unit: Unit | None, chat_id: int | None
    ) -> Started:
        """Resume the active attempt, or start the next one if the rules allow."""
        now = self.clock()
        active = await self.store.active_attempt(campaign.id, participant.id)
        if active is not None:
            if not campaign.is_open(now) or (active.deadline and now >= active.deadline):
                active = await self._expire(active, campaign, now)
            else:
                question = await self.store.question(active.id, active.current_seq)
                return Started(active, question, resumed=True)
        used = await self.store.attempts_used(campaign.id, participant.id)
        refusal = may_start(campaign, participant, unit, used, now)
        if refusal is not None:
            return Started(None, None, refusal)
        pool = await self.store.candidates(campaign.bank_ids)
        ids = draw(
            pool,
            campaign.rules.questions,
            self.rng,
            campaign.rules.per_tag,
            level=campaign.rules.level,
            mix=campaign.rules.mix,
        )
        questions = await self.store.questions(ids)
        plan = [
            (
                qid,
                shuffled_order(
                    len(questions[qid].options),
                    self.rng,
                    keep=questions[qid].type is QuestionType.TRUE_FALSE,
                ),
            )
            for qid in ids
        ]
        rules = campaign.rules
        deadline = (
            now + timedelta(seconds=rules.seconds_per_attempt)
            if rules.seconds_per_attempt
            else None
        )
        deadline = min(deadline, campaign.closes_at) if deadline else campaign.closes_at
        first = question_deadline(now, rules.seconds_per_question, deadline)
        attempt = await self.store.create_attempt(
            campaign, participant.id, used + 1, plan, now, deadline, first, chat_id
        )
        if attempt is None:  # a concurrent press created it first: resume that one
            attempt = await self.store.active_attempt(campaign.id, participant.id)
            if attempt is None:
                return Started(None, None, Refusal.NO_ATTEMPTS_LEFT)
            return Started(
                attempt, await self.store.question(attempt.id, attempt.current_seq), resumed=True
            )
        return Started(attempt, await self.store.question(attempt.id, 1))

    async def choose(self, presser: Presser, attempt_id: int, seq: int, position: int) -> Step:
        """A press on option ``position``: answers single choice, toggles multiple choice.

        The presser is known by their Telegram account: the attempt's owner is read with
        it, so a press needs no separate look-up of who is pressing.
        """
        checked = await self._check(presser, attempt_id, seq)
        if isinstance(checked, Step):
            return checked
        press = checked
        question = press.question
        if not 0 <= position < len(question.order):
            return press.step(Verdict.STALE)
        if question.question.type is QuestionType.MULTIPLE:
            draft = question.draft ^ {position}
            await self.store.set_draft(press.attempt.id, seq, draft)
            return press.step(Verdict.TOGGLED, next=replace(question, draft=draft))
        step = await self._answer(
            press.campaign, press.attempt, question, frozenset({position}), press.following
        )
        return replace(step, locale=press.locale)

    async def submit(self, presser: Presser, attempt_id: int, seq: int) -> Step:
        checked = await self._check(presser, attempt_id, seq)
        if isinstance(checked, Step):
            return checked
        press = checked
        if not press.question.draft:
            return press.step(Verdict.EMPTY)
        step = await self._answer(
            press.campaign, press.attempt, press.question, press.question.draft, press.following
        )
        return replace(step, locale=press.locale)

    async def answer(
        self, presser: Presser, attempt_id: int, seq: int, positions: frozenset[int]
    ) -> Step:
        """The options chosen all at once (a web page's form): one answer, recorded as a
        press and a submit would record it, from the same one read and conditional write,
        so a doubled form records once."""
        checked = await self._check(presser, attempt_id, seq)
        if isinstance(checked, Step):
            return checked
        press = checked
        question = press.question
        if not positions:
            return press.step(Verdict.EMPTY)
        single = question.question.type is not QuestionType.MULTIPLE
        if any(not 0 <= p < len(question.order) for p in positions) or (
            single and len(positions) > 1
        ):
            return press.step(Verdict.STALE)
        step = await self._answer(
            press.campaign, press.attempt, question, positions, press.following
        )
        return replace(step, locale=press.locale)

    async def time_out(self, attempt_id: int, seq: int) -> Step:
        """The question's time ran out unanswered (called by the timer)."""
        attempt = await self.store.get(attempt_id)
        question = await self.store.question(attempt_id, seq)
        if attempt is None or question is None or attempt.finished or question.answered:
            return Step(Verdict.STALE, attempt)
        campaign = await self.campaigns.get(attempt.campaign_id)
        assert campaign is not None
        now = self.clock()
        if question.deadline is not None and now < question.deadline:
            return Step(Verdict.STALE, attempt)
        async with self.store.together():
            return await self._time_out(campaign, attempt, question, now)

    async def _check(self, presser: Presser, attempt_id: int, seq: int) -> _Press | Step:
        """Ownership, currency, window and deadline of a press, from one read."""
        snapshot = await self.store.snapshot(attempt_id, seq)
        if snapshot is None or not owns(presser, snapshot):
            return Step(Verdict.NOT_YOURS)
        attempt, campaign, locale = snapshot.attempt, snapshot.campaign, snapshot.owner.locale
        question = snapshot.question
        if attempt.finished or seq != attempt.current_seq or question is None:
            return Step(Verdict.STALE, attempt, campaign=campaign, locale=locale)
        if question.answered:
            return Step(Verdict.ALREADY_ANSWERED, attempt, campaign=campaign, locale=locale)
        now = self.clock()
        if not campaign.is_open(now):
            async with self.store.together():
                finished = await self._expire(attempt, campaign, now)
            return Step(Verdict.CLOSED, finished, campaign=campaign, locale=locale)
        if question.deadline is not None and now >= question.deadline:
            async with self.store.together():
                step = await self._time_out(campaign, attempt, question, now)
            return replace(step, campaign=campaign, locale=locale)
        return _Press(campaign, attempt, question, snapshot.following, locale)

    async def _answer(
        self,
        campaign: Campaign,
        attempt: Attempt,
        question: AttemptQuestion,
        positions: frozenset[int],
        following: AttemptQuestion | None = None,
    ) -> Step:
        now = self.clock()
        chosen = to_original(question.order, sorted(positions))
        points = score(
            chosen,
            question.question.correct,
            multiple=question.question.type is QuestionType.MULTIPLE,
            partial=campaign.rules.partial_credit,
        )
        fast = question.shown_at is not None and answered_too_fast(
            question.shown_at, now, question.text_length
        )
        if following is not None and question.seq < attempt.question_count:
            # The common case: record, advance and show the question read with this one.
            deadline = question_deadline(
                now, campaign.rules.seconds_per_question, attempt.deadline
            )
            moved = await self.store.record_and_advance(
                attempt.id,
                question.seq,
                chosen=chosen,
                answered_at=now,
                points=points,
                too_fast=fast,
                next_deadline=deadline,
            )
            if moved is None:
                return Step(Verdict.ALREADY_ANSWERED, attempt, campaign=campaign)
            answered = replace(
                question, chosen=chosen, answered_at=now, points=points, too_fast=fast
            )
            shown: AttemptQuestion | None = replace(following, shown_at=now, deadline=deadline)
            if moved.current_seq != question.seq + 1:  # moved on by someone else: as stored
                shown = await self.store.question(attempt.id, question.seq + 1)
            return Step(
                Verdict.RECORDED,
                moved,
                answered=answered,
                next=shown,
                correct=points >= 1.0,
                campaign=campaign,
            )
        async with self.store.together():  # the last question: record, then finish
            recorded = await self.store.record(
                attempt.id,
                question.seq,
                chosen=chosen,
                answered_at=now,
                points=points,
                timed_out=False,
                too_fast=fast,
            )
            if not recorded:
                return Step(Verdict.ALREADY_ANSWERED, attempt, campaign=campaign)
            step = await self._move_on(campaign, attempt, question.seq, now)
        answered = replace(question, chosen=chosen, answered_at=now, points=points, too_fast=fast)
        return replace(
            step,
            verdict=Verdict.RECORDED,
            answered=answered,
            correct=points >= 1.0,
            campaign=campaign,
        )

    async def _time_out(
        self, campaign: Campaign, attempt: Attempt, question: AttemptQuestion, now: datetime
    ) -> Step:
        when = question.deadline or now
        recorded = await self.store.record(
            attempt.id,
            question.seq,
            chosen=frozenset(),
            answered_at=when,
            points=0.0,
            timed_out=True,
            too_fast=False,
        )
        if not recorded:
            return Step(Verdict.ALREADY_ANSWERED, attempt)
        answered = replace(
            question, chosen=frozenset(), answered_at=when, points=0.0, timed_out=True
        )
        if attempt.deadline is not None and now >= attempt.deadline:
            finished = await self._expire(attempt, campaign, now)
            return Step(Verdict.TIME_UP, finished, answered=answered, correct=False)
        step = await self._move_on(campaign, attempt, question.seq, now)
        return replace(step, verdict=Verdict.TIME_UP, answered=answered, correct=False)

    async def _move_on(
        self, campaign: Campaign, attempt: Attempt, seq: int, now: datetime
    ) -> Step:
        if seq >= attempt.question_count:
            return Step(Verdict.RECORDED, await self._finish(attempt, campaign, now))
        deadline = question_deadline(now, campaign.rules.seconds_per_question, attempt.deadline)
        await self.store.advance(attempt.id, seq, now, deadline)
        moved = await self.store.get(attempt.id)
        return Step(Verdict.RECORDED, moved, next=await self.store.question(attempt.id, seq + 1))

    async def expire(self, attempt: Attempt, campaign: Campaign) -> Attempt:
        """Finish an attempt the window closed on (the campaign's close job)."""
        async with self.store.together():
            return await self._expire(attempt, campaign, self.clock())

    async def _expire(self, attempt: Attempt, campaign: Campaign, now: datetime) -> Attempt:
        """Close an attempt whose time or window ran out: what is unanswered scores nothing."""
        for seq in range(attempt.current_seq, attempt.question_count + 1):
            await self.store.record(
                attempt.id,
                seq,
                chosen=frozenset(),
                answered_at=now,
                points=0.0,
                timed_out=True,
                too_fast=False,
            )
        return await self._finish(attempt, campaign, now)

    async def _finish(self, attempt: Attempt, campaign: Campaign, now: datetime) -> Attempt:
        current = await self.store.get(attempt.id) or attempt
        outcome = Outcome(current.points, current.question_count, campaign.rules.pass_mark)
        return await self.store.finish(attempt.id, now, outcome.passed)
