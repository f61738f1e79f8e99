"""Taking a quiz: the campaigns open to a participant, starting or resuming an attempt,
answering its questions, a question's time running out, and the result.

The rules are the domain's (:class:`quizzes.attempts.Attempts` over the attempt and
campaign stores); these use cases give it the request's unit of work and clock and
commit what it wrote before the chat is answered, so no transaction is open while
Telegram replies.

An answer press is the bot's busiest request: :func:`choose_option` and
:func:`submit_choices` build the domain service and call it, and nothing more (no
participant look-up, no read-back), so a press stays one read and one write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from quizzes.attempts import (
    Attempt,
    AttemptQuestion,
    Attempts,
    Presser,
    Started,
    Step,
    Verdict,
)
from quizzes.campaigns import Campaign, may_start
from quizzes.clock import Clock
from quizzes.engine import Outcome, Standing, rank
from quizzes.participants import Participant
from quizzes.units import Unit
from storage.quiz import SchoolRank
from storage.unit_of_work import UnitOfWork

__all__ = [
    "AttemptResult",
    "Begun",
    "Offer",
    "OpenCampaign",
    "OpenCampaigns",
    "TimedOut",
    "answer_options",
    "attempt_campaign",
    "attempt_result",
    "choose_option",
    "current_question",
    "open_campaigns",
    "presser_locale",
    "remember_question_message",
    "start_attempt",
    "submit_choices",
    "time_up",
]


class Offer(StrEnum):
    """What a press on a listed campaign would do, as :meth:`Attempts.start` decides it."""

    START = "start"  # their first attempt
    RESUME = "resume"  # their attempt under way, its time not run out
    AGAIN = "again"  # one more attempt after earlier ones, as the rules allow
    USED_UP = "used_up"  # every attempt allowed is used: a press is refused


@dataclass(frozen=True, slots=True)
class OpenCampaign:
    """A campaign open to the participant, with how far they are in it: what a press on it
    would do, and their best finished attempt so far."""

    campaign: Campaign
    attempts_used: int
    offer: Offer
    best: Attempt | None  # their best finished attempt, ranked as the shortlist ranks

    @property
    def may_start(self) -> bool:
        """A press resumes their attempt, or starts one more that the rules allow now."""
        return self.offer is not Offer.USED_UP

    @property
    def outcome(self) -> Outcome | None:
        """The best attempt's score against the pass mark, as its result says it."""
        if self.best is None:
            return None
        return Outcome(self.best.points, self.best.question_count, self.campaign.rules.pass_mark)

    @property
    def certificate(self) -> bool:
        """The best attempt passed a campaign that gives certificates."""
        return bool(self.best and self.best.passed and self.campaign.rules.certificate)


@dataclass(frozen=True, slots=True)
class OpenCampaigns:
    """What ``/quiz`` lists; nothing for a participant who has not registered yet."""

    registered: bool
    campaigns: tuple[OpenCampaign, ...] = ()


@dataclass(frozen=True, slots=True)
class Begun:
    """A press on a campaign's Start button: the campaign and what became of the press."""

    campaign: Campaign
    started: Started


@dataclass(frozen=True, slots=True)
class TimedOut:
    """A question whose time ran out, recorded: what to show its owner, in their language."""

    step: Step
    campaign: Campaign
    locale: str | None


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """A finished attempt's result, as its owner is told it."""

    outcome: Outcome
    attempts_left: int  # shown only when failed and the window is still open; else 0
    standing: SchoolRank | None  # their place among their role in their school, if placed
    certificate: bool  # passed a campaign that gives certificates
    missed: tuple[AttemptQuestion, ...]  # questions not answered fully right, in order


async def open_campaigns(
    uow: UnitOfWork, participant: Participant, *, now: datetime
) -> OpenCampaigns:
    """The campaigns open now whose audience includes the participant (what ``/quiz`` and
    the participant pages' home list), each offering a start only when the server would
    allow one, with their best result so far. Every door lists campaigns with this."""
    if not participant.registered:
        return OpenCampaigns(registered=False)
    unit = await uow.units.get(participant.unit_id) if participant.unit_id else None
    mine = [c for c in await uow.campaigns.open_at(now) if c.audience.includes(participant, unit)]
    finished = await uow.attempts.finished_of(participant.id, [c.id for c in mine])
    found = []
    for campaign in mine:
        used = await uow.attempts.attempts_used(campaign.id, participant.id)
        active = await uow.attempts.active_attempt(campaign.id, participant.id)
        offer = _offer(campaign, participant, unit, used, active, now)
        best = _best([a for a in finished if a.campaign_id == campaign.id])
        found.append(OpenCampaign(campaign, used, offer, best))
    await uow.commit()  # end the reads: hold no connection while the list is sent
    return OpenCampaigns(registered=True, campaigns=tuple(found))


def _offer(
    campaign: Campaign,
    participant: Participant,
    unit: Unit | None,
    used: int,
    active: Attempt | None,
    now: datetime,
) -> Offer:
    """The rules :meth:`quizzes.attempts.Attempts.start` applies to a press: an attempt
    under way is resumed unless its time ran out (then it is ended, and counts)."""
    if active is not None and (active.deadline is None or now < active.deadline):
        return Offer.RESUME
    if may_start(campaign, participant, unit, used, now) is not None:
        return Offer.USED_UP
    return Offer.AGAIN if used else Offer.START


def _best(attempts: list[Attempt]) -> Attempt | None:
    standings = [
        (Standing(a.participant_id, a.points, a.total_ms or 0, a.finished_at or a.started_at), a)
        for a in attempts
    ]
    ranked = rank([standing for standing, _ in standings])
    return next(a for standing, a in standings if standing is ranked[0]) if ranked else None


async def start_attempt(
    uow: UnitOfWork,
    campaign_id: int,
    participant: Participant,
    *,
    chat_id: int | None,
    clock: Clock,
) -> Begun | None:
    """Resume the participant's attempt at the campaign, or start their next one if the
    rules allow (a refusal is in :attr:`Begun.started`); None: no such campaign.
    ``chat_id`` is None for an attempt taken on the web pages."""
    campaign = await uow.campaigns.get(campaign_id)
    if campaign is None:
        return None
    unit = await uow.units.get(participant.unit_id) if participant.unit_id else None
    started = await Attempts(uow.attempts, uow.campaigns, clock).start(
        campaign, participant, unit, chat_id=chat_id
    )
    await uow.commit()
    return Begun(campaign, started)


async def remember_question_message(uow: UnitOfWork, attempt_id: int, message_id: int) -> None:
    """The message that now shows the attempt's question: the one its buttons are on."""
    await uow.attempts.set_message(attempt_id, message_id)
    await uow.commit()


async def choose_option(
    uow: UnitOfWork, presser: Presser, attempt_id: int, seq: int, position: int, *, clock: Clock
) -> Step:
    """A press on option ``position`` of question ``seq``: answers a single choice,
    ticks or unticks a multiple choice. The presser (a Telegram account in chat, the
    signed-in participant on the web pages) is checked against the owner."""
    step = await Attempts(uow.attempts, uow.campaigns, clock).choose(
        presser, attempt_id, seq, position
    )
    await uow.commit()
    return step


async def submit_choices(
    uow: UnitOfWork, presser: Presser, attempt_id: int, seq: int, *, clock: Clock
) -> Step:
    """Submit the options ticked on multiple-choice question ``seq``."""
    step = await Attempts(uow.attempts, uow.campaigns, clock).submit(presser, attempt_id, seq)
    await uow.commit()
    return step


async def answer_options(
    uow: UnitOfWork,
    presser: Presser,
    attempt_id: int,
    seq: int,
    positions: frozenset[int],
    *,
    clock: Clock,
) -> Step:
    """Question ``seq`` answered with every option chosen at once (a web page's form)."""
    step = await Attempts(uow.attempts, uow.campaigns, clock).answer(
        presser, attempt_id, seq, positions
    )
    await uow.commit()
    return step


async def presser_locale(uow: UnitOfWork, telegram_id: int) -> str | None:
    """The language a presser chose, for a press refused as not theirs (the owner's own
    presses name it in their step); None for someone who never used the bot."""
    presser = await uow.participants.by_telegram_id(telegram_id)
    return presser.locale if presser else None


async def attempt_campaign(uow: UnitOfWork, attempt: Attempt) -> Campaign:
    """The attempt's campaign, for a step that did not read it."""
    campaign = await uow.campaigns.get(attempt.campaign_id)
    assert campaign is not None  # an attempt outlives no campaign
    return campaign


async def current_question(uow: UnitOfWork, attempt: Attempt) -> AttemptQuestion | None:
    """The question the attempt is at; None once it is finished."""
    if attempt.finished:
        return None
    return await uow.attempts.question(attempt.id, attempt.current_seq)


async def time_up(uow: UnitOfWork, attempt_id: int, seq: int, *, clock: Clock) -> TimedOut | None:
    """Question ``seq`` went unanswered past its deadline: record it as such and move the
    attempt on. None when there was nothing to do (answered meanwhile, not yet due...)."""
    step = await Attempts(uow.attempts, uow.campaigns, clock).time_out(attempt_id, seq)
    await uow.commit()
    if step.verdict is not Verdict.TIME_UP or step.attempt is None:
        return None
    campaign = await attempt_campaign(uow, step.attempt)
    owner = await uow.participants.by_id(step.attempt.participant_id)
    await uow.commit()  # end the reads: hold no connection while waiting to send
    return TimedOut(step, campaign, owner.locale if owner else None)


async def attempt_result(
    uow: UnitOfWork, campaign: Campaign, attempt: Attempt, *, now: datetime
) -> AttemptResult:
    """Score, pass or fail, attempts left, place in school and the questions missed."""
    rules = campaign.rules
    outcome = Outcome(attempt.points, attempt.question_count, rules.pass_mark)
    standing = await uow.attempts.rank_in_school(attempt)
    left = rules.attempts_allowed - attempt.number
    if outcome.passed or left <= 0 or not campaign.is_open(now):
        left = 0
    missed = tuple(q for q in await uow.attempts.all_questions(attempt.id) if (q.points or 0) < 1)
    await uow.commit()  # end the reads: hold no connection while waiting to send
    return AttemptResult(
        outcome=outcome,
        attempts_left=left,
        standing=standing if standing is not None and standing.place is not None else None,
        certificate=outcome.passed and rules.certificate,
        missed=missed,
    )
