"""Live quizzes in a class group: a teacher starts one, the quiz clock runs it poll by
poll, its teacher (or whoever manages that teacher's school, or an admin) may stop it,
and every vote in its polls is kept against the person who voted.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import datetime
from enum import StrEnum

from quizzes.livequiz import LiveQuiz, may_stop, parse_livequiz_args, plan_polls
from quizzes.participants import Participant
from quizzes.permissions import Permissions
from storage.unit_of_work import UnitOfWork

# How long a vote for a poll not known yet waits for the poll to be written down (seconds).
EARLY_VOTE_PAUSES = (0.1, 0.2, 0.4, 0.8, 1.5)

__all__ = [
    "LiveQuizRefusal",
    "live_quiz_to_stop",
    "record_poll_answer",
    "running_quiz_to_stop",
    "start_live_quiz",
]


class LiveQuizRefusal(StrEnum):
    TEACHERS_ONLY = "teachers_only"
    USAGE = "usage"  # the command's arguments are not ``[questions] [seconds]``
    ALREADY_RUNNING = "already_running"  # one at a time in a group
    NO_QUESTIONS = "no_questions"
    NOT_RUNNING = "not_running"
    STOP_NOT_ALLOWED = "stop_not_allowed"


async def start_live_quiz(
    uow: UnitOfWork,
    teacher: Participant,
    permissions: Permissions,
    args: str | None,
    *,
    chat_id: int,
    chat_title: str | None,
    started_by: int,
    rng: random.Random,
) -> LiveQuiz | LiveQuizRefusal:
    """Plan a live quiz in the group from ``/livequiz [questions] [seconds]``: questions
    drawn from the latest campaign's banks (every bank before there is a campaign). The
    quiz clock sends its first poll; nothing is sent here."""
    if not permissions.may_teach(teacher.role):
        return LiveQuizRefusal.TEACHERS_ONLY
    parsed = parse_livequiz_args(args)
    if parsed is None:
        return LiveQuizRefusal.USAGE
    count, seconds = parsed
    if await uow.live_quizzes.running_in(chat_id) is not None:
        return LiveQuizRefusal.ALREADY_RUNNING
    campaigns = await uow.campaigns.all()
    banks = list(campaigns[-1].bank_ids) if campaigns else [b.id for b in await uow.banks.list()]
    plan = plan_polls(await uow.banks.questions(banks), count, rng)
    if not plan:
        return LiveQuizRefusal.NO_QUESTIONS
    live = await uow.live_quizzes.create(chat_id, chat_title, started_by, seconds, plan)
    await uow.commit()
    return live


async def _may_stop(
    uow: UnitOfWork, live: LiveQuiz, telegram_id: int, permissions: Permissions
) -> bool:
    teacher = await uow.participants.by_telegram_id(live.started_by)
    unit = await uow.units.get(teacher.unit_id) if teacher and teacher.unit_id else None
    return may_stop(live, telegram_id, permissions, unit)


async def running_quiz_to_stop(
    uow: UnitOfWork, chat_id: int, *, stopper: int, permissions: Permissions
) -> LiveQuiz | LiveQuizRefusal:
    """The group's running quiz, if the one asking (by Telegram id) may stop it."""
    live = await uow.live_quizzes.running_in(chat_id)
    if live is None:
        return LiveQuizRefusal.NOT_RUNNING
    if not await _may_stop(uow, live, stopper, permissions):
        return LiveQuizRefusal.STOP_NOT_ALLOWED
    return live


async def live_quiz_to_stop(
    uow: UnitOfWork, live_quiz_id: int, *, stopper: int, permissions: Permissions
) -> LiveQuiz | LiveQuizRefusal:
    """The quiz of a Stop button, if it still runs and the presser may stop it."""
    live = await uow.live_quizzes.get(live_quiz_id)
    if live is None or live.finished:
        return LiveQuizRefusal.NOT_RUNNING
    if not await _may_stop(uow, live, stopper, permissions):
        return LiveQuizRefusal.STOP_NOT_ALLOWED
    return live


async def record_poll_answer(
    uow: UnitOfWork,
    participant: Participant,
    poll_id: str,
    option_ids: list[int],
    *,
    now: datetime,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> bool:
    """A vote in a live quiz's poll, kept once per person and poll; False for a poll that
    is not a live quiz's, or a retracted vote (no options).

    A poll's id is Telegram's, known to the bot only from sendPoll's answer, and the first
    votes can reach the bot before it has written that id down (a quick class, a busy
    database). A vote for a poll not known yet is therefore looked up again a few times
    over about three seconds before it is given up as not a live quiz's (the bot sends
    no other polls)."""
    if not option_ids:
        return False
    poll = await uow.live_quizzes.poll(poll_id)
    for pause in EARLY_VOTE_PAUSES:
        if poll is not None:
            break
        await uow.commit()  # end the read: the next one sees the poll once it is written
        await sleep(pause)
        poll = await uow.live_quizzes.poll(poll_id)
    if poll is None:
        return False
    shown = option_ids[0]
    recorded = await uow.live_quizzes.record_answer(
        poll.poll_id, participant.id, poll.bank_option(shown), shown == poll.correct_option, now
    )
    await uow.commit()
    return recorded
