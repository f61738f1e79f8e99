"""A teacher's live quiz in a class group: native quiz polls and a live leaderboard."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message, PollAnswer

from bot.i18n import Gettext
from bot.livequiz_steps import LiveQuizCb, stop, stop_keyboard
from quizzes.livequiz import LiveQuiz, asks_to_stop, may_stop, parse_livequiz_args, plan_polls
from quizzes.participants import Participant
from quizzes.permissions import Permissions
from storage.livequiz import LiveQuizRepository
from storage.repositories import Repositories

GROUP_CHATS = {"group", "supergroup"}


async def start_live_quiz(
    message: Message,
    command: CommandObject,
    participant: Participant,
    permissions: Permissions,
    repo: Repositories,
    _: Gettext,
    livequiz_rng: random.Random | None = None,
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
    plan = plan_polls(
        await repo.banks.questions(banks), count, livequiz_rng or random.SystemRandom()
    )
    if not plan:
        await message.answer(_("livequiz.no_questions"))
        return
    assert message.from_user is not None
    live = await lives.create(
        message.chat.id, message.chat.title, message.from_user.id, seconds, plan
    )
    await repo.commit()
    # The quiz clock sends the first poll within a second and drives the rest.
    await message.answer(
        _("livequiz.starting", count=len(plan), seconds=seconds),
        reply_markup=stop_keyboard(live.id, _),
    )


async def _may_stop(
    live: LiveQuiz, telegram_id: int, permissions: Permissions, repo: Repositories
) -> bool:
    teacher = await repo.participants.by_telegram_id(live.started_by)
    unit = await repo.units.get(teacher.unit_id) if teacher and teacher.unit_id else None
    return may_stop(live, telegram_id, permissions, unit)


async def stop_command(
    message: Message, bot: Bot, permissions: Permissions, repo: Repositories, _: Gettext
) -> None:
    """``/livequiz stop`` in the group: the teacher ends the quiz before its last question."""
    assert message.from_user is not None
    lives = LiveQuizRepository(repo.session)
    live = await lives.running_in(message.chat.id)
    if live is None:
        await message.answer(_("livequiz.not_running"))
        return
    if not await _may_stop(live, message.from_user.id, permissions, repo):
        await message.answer(_("livequiz.stop_not_allowed"))
        return
    if not await stop(bot, repo, lives, live, _):
        await message.answer(_("livequiz.not_running"))


async def stop_button(
    callback: CallbackQuery,
    callback_data: LiveQuizCb,
    bot: Bot,
    permissions: Permissions,
    repo: Repositories,
    _: Gettext,
) -> None:
    lives = LiveQuizRepository(repo.session)
    live = await lives.get(callback_data.live)
    if live is None or live.finished:
        await callback.answer(_.plain("livequiz.not_running"))
        return
    if not await _may_stop(live, callback.from_user.id, permissions, repo):
        await callback.answer(_.plain("livequiz.stop_not_allowed"), show_alert=True)
        return
    stopped = await stop(bot, repo, lives, live, _)
    await callback.answer(_.plain("livequiz.stopped" if stopped else "livequiz.not_running"))


async def livequiz_in_private(message: Message, bot: Bot, _: Gettext) -> None:
    """The command works in a class group: say so, and how to bring the bot there."""
    me = await bot.me()
    await message.answer(_("livequiz.private_chat", bot=f"@{me.username}"))


async def answer_poll(
    poll_answer: PollAnswer, participant: Participant, repo: Repositories
) -> None:
    """Record a vote in a live quiz poll against the person; other polls are not ours.

    Nobody's Telegram name is kept: the board names only people who registered.
    """
    lives = LiveQuizRepository(repo.session)
    poll = await lives.poll(poll_answer.poll_id)
    if poll is None or not poll_answer.option_ids:  # not ours, or a retracted vote
        return
    shown = poll_answer.option_ids[0]
    await lives.record_answer(
        poll.poll_id,
        participant.id,
        poll.bank_option(shown),
        shown == poll.correct_option,
        datetime.now(UTC),
    )
    await repo.commit()


def create_router() -> Router:
    router = Router(name=__name__)
    in_group = F.chat.type.in_(GROUP_CHATS)
    router.message.register(
        stop_command, Command("livequiz", magic=F.args.func(asks_to_stop)), in_group
    )
    router.message.register(start_live_quiz, Command("livequiz"), in_group)
    router.message.register(livequiz_in_private, Command("livequiz"), F.chat.type == "private")
    router.callback_query.register(stop_button, LiveQuizCb.filter(F.action == "stop"))
    router.poll_answer.register(answer_poll)
    return router
