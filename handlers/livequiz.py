"""A teacher's live quiz in a class group: native quiz polls and a live leaderboard."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message, PollAnswer

from bot.i18n import Gettext
from quizzes.livequiz import parse_livequiz_args, pick_poll_questions
from quizzes.participants import Participant
from quizzes.permissions import Permissions
from storage.livequiz import LiveQuizRepository
from storage.repositories import Repositories


async def start_live_quiz(
    message: Message,
    command: CommandObject,
    participant: Participant,
    permissions: Permissions,
    repo: Repositories,
    _: Gettext,
) -> None:
    if not permissions.may_teach(participant.role):
        await message.answer(_("livequiz.teachers_only"))
        return
    parsed = parse_livequiz_args(command.args)
    if parsed is None:
        await message.answer(_("livequiz.usage"))
        return
    count, seconds = parsed
    lives = LiveQuizRepository(repo.session)
    if await lives.running_in(message.chat.id) is not None:
        await message.answer(_("livequiz.already_running"))
        return
    campaigns = await repo.campaigns.all()
    banks = list(campaigns[-1].bank_ids) if campaigns else [b.id for b in await repo.banks.list()]
    questions = pick_poll_questions(
        await repo.banks.questions(banks), count, random.SystemRandom()
    )
    if not questions:
        await message.answer(_("livequiz.no_questions"))
        return
    assert message.from_user is not None
    await lives.create(message.chat.id, message.from_user.id, seconds, [q.id for q in questions])
    await repo.commit()
    # The quiz clock sends the first poll within a second and drives the rest.
    await message.answer(_("livequiz.starting", count=len(questions), seconds=seconds))


async def answer_poll(
    poll_answer: PollAnswer, participant: Participant, repo: Repositories
) -> None:
    """Record a vote in a live quiz poll against the person; other polls are not ours."""
    lives = LiveQuizRepository(repo.session)
    poll = await lives.poll(poll_answer.poll_id)
    if poll is None or not poll_answer.option_ids:  # not ours, or a retracted vote
        return
    option = poll_answer.option_ids[0]
    if participant.display_name is None and poll_answer.user is not None:
        # Shown on the group's leaderboard; the group already sees this name.
        await repo.participants.update(participant, display_name=poll_answer.user.first_name[:32])
    await lives.record_answer(
        poll.poll_id, participant.id, option, option == poll.correct_option, datetime.now(UTC)
    )
    await repo.commit()


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(
        start_live_quiz, Command("livequiz"), F.chat.type.in_({"group", "supergroup"})
    )
    router.poll_answer.register(answer_poll)
    return router
