"""A teacher's live quiz in a class group: native quiz polls and a live leaderboard."""

from __future__ import annotations

import random

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message, PollAnswer

from bot.application import Clock, UnitOfWork
from bot.application.live_quizzes import (
    LiveQuizRefusal,
    live_quiz_to_stop,
    record_poll_answer,
    running_quiz_to_stop,
    start_live_quiz,
)
from bot.i18n import Gettext
from bot.livequiz_steps import LiveQuizCb, stop_keyboard
from bot.views.quiz import stop_live_quiz
from quizzes.livequiz import asks_to_stop
from quizzes.participants import Participant
from quizzes.permissions import Permissions

GROUP_CHATS = {"group", "supergroup"}


async def start_in_group(
    message: Message,
    command: CommandObject,
    participant: Participant,
    permissions: Permissions,
    uow: UnitOfWork,
    _: Gettext,
    livequiz_rng: random.Random | None = None,
) -> None:
    assert message.from_user is not None
    live = await start_live_quiz(
        uow,
        participant,
        permissions,
        command.args,
        chat_id=message.chat.id,
        chat_title=message.chat.title,
        started_by=message.from_user.id,
        rng=livequiz_rng or random.SystemRandom(),
    )
    if isinstance(live, LiveQuizRefusal):
        await message.answer(_(f"livequiz.{live.value}"))
        return
    # The quiz clock sends the first poll within a second and drives the rest.
    await message.answer(
        _("livequiz.starting", count=live.question_count, seconds=live.seconds_per_question),
        reply_markup=stop_keyboard(live.id, _),
    )


async def stop_command(
    message: Message, bot: Bot, permissions: Permissions, uow: UnitOfWork, _: Gettext
) -> None:
    """``/livequiz stop`` in the group: the teacher ends the quiz before its last question."""
    assert message.from_user is not None
    live = await running_quiz_to_stop(
        uow, message.chat.id, stopper=message.from_user.id, permissions=permissions
    )
    if isinstance(live, LiveQuizRefusal):
        await message.answer(_(f"livequiz.{live.value}"))
        return
    if not await stop_live_quiz(bot, uow, live, _):
        await message.answer(_("livequiz.not_running"))


async def stop_button(
    callback: CallbackQuery,
    callback_data: LiveQuizCb,
    bot: Bot,
    permissions: Permissions,
    uow: UnitOfWork,
    _: Gettext,
) -> None:
    live = await live_quiz_to_stop(
        uow, callback_data.live, stopper=callback.from_user.id, permissions=permissions
    )
    if live is LiveQuizRefusal.NOT_RUNNING:
        await callback.answer(_.plain("livequiz.not_running"))
        return
    if isinstance(live, LiveQuizRefusal):
        await callback.answer(_.plain(f"livequiz.{live.value}"), show_alert=True)
        return
    stopped = await stop_live_quiz(bot, uow, live, _)
    await callback.answer(_.plain("livequiz.stopped" if stopped else "livequiz.not_running"))


async def livequiz_in_private(message: Message, bot: Bot, _: Gettext) -> None:
    """The command works in a class group: say so, and how to bring the bot there."""
    me = await bot.me()
    await message.answer(_("livequiz.private_chat", bot=f"@{me.username}"))


async def answer_poll(
    poll_answer: PollAnswer, participant: Participant, uow: UnitOfWork, clock: Clock
) -> None:
    """Record a vote in a live quiz poll against the person; other polls are not ours.

    Nobody's Telegram name is kept: the board names only people who registered.
    """
    await record_poll_answer(
        uow, participant, poll_answer.poll_id, poll_answer.option_ids, now=clock()
    )


def create_router() -> Router:
    router = Router(name=__name__)
    in_group = F.chat.type.in_(GROUP_CHATS)
    router.message.register(
        stop_command, Command("livequiz", magic=F.args.func(asks_to_stop)), in_group
    )
    router.message.register(start_in_group, Command("livequiz"), in_group)
    router.message.register(livequiz_in_private, Command("livequiz"), F.chat.type == "private")
    router.callback_query.register(stop_button, LiveQuizCb.filter(F.action == "stop"))
    router.poll_answer.register(answer_poll)
    return router
