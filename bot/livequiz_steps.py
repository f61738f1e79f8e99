"""Driving a live quiz: one quiz poll at a time, the leaderboard after each.

The quiz clock calls :func:`step_due` every second. What is due is read from the tables
(a quiz that must start, or whose current poll has closed), so a restart in the middle of
a class's quiz picks up where it was; the conditional ``advance`` makes each step happen
once even with several bot processes. A crash between claiming a step and sending its
poll skips that one question rather than asking it twice. A step that fails (the bot was
removed from the group, the group is gone) gives its claim back and is tried again on the
next tick; after ``MAX_SEND_FAILURES`` in a row the quiz ends and its teacher is told.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime, timedelta

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, InputPollOption

from bot.i18n import Gettext
from bot.services import ServiceContext
from bot.when import short_when
from quizzes.livequiz import (
    MAX_SEND_FAILURES,
    LiveQuiz,
    board,
    shown_options,
    unregistered_numbers,
)
from storage.livequiz import LiveQuizRepository
from storage.repositories import Repositories

log = logging.getLogger(__name__)

BOARD_LINES = 10
# Telegram closes a poll at open_period; the next one follows a moment later.
GAP_S = 1.0


class LiveQuizCb(CallbackData, prefix="lq"):
    action: str
    live: int


def stop_keyboard(live_quiz_id: int, _: Gettext) -> InlineKeyboardMarkup:
    button = InlineKeyboardButton(
        text=_.plain("livequiz.stop_button"),
        callback_data=LiveQuizCb(action="stop", live=live_quiz_id).pack(),
    )
    return InlineKeyboardMarkup(inline_keyboard=[[button]])


async def step_due(context: ServiceContext, now: datetime | None = None) -> int:
    now = now or datetime.now(UTC)
    async with context.session_factory() as session:
        due = await LiveQuizRepository(session).due(now, GAP_S)
    for live_quiz_id, seq in due:
        try:
            await step(context, live_quiz_id, seq)
        except Exception:  # one group's trouble must not stop the others' quizzes
            log.exception("live quiz %s step %s failed", live_quiz_id, seq)
    return len(due)


async def step(context: ServiceContext, live_quiz_id: int, seq: int) -> None:
    """Question ``seq`` is over (0: the quiz is starting): show the board, ask the next."""
    _ = context.translator.bind(None)
    async with context.session_factory() as session:
        repo = Repositories.over(session)
        lives = LiveQuizRepository(session)
        live = await lives.get(live_quiz_id)
        if live is None or live.finished or not await lives.advance(live.id, seq):
            return
        await repo.commit()
        try:
            await _take_step(context.bot, repo, lives, live, seq, _)
        except Exception as error:
            await repo.session.rollback()
            failures = await lives.failed(live.id, seq)
            await repo.commit()
            log.warning(
                "live quiz %s step %s failed (%s in a row): %s",
                live.id,
                seq,
                failures,
                error,
                exc_info=not isinstance(error, TelegramAPIError),  # a bug: keep its traceback
            )
            if failures >= MAX_SEND_FAILURES:
                await give_up(context, repo, lives, live)


async def _take_step(
    bot: Bot,
    repo: Repositories,
    lives: LiveQuizRepository,
    live: LiveQuiz,
    seq: int,
    _: Gettext,
) -> None:
    if seq > 0:
        await show_board(bot, lives, live, seq, _)
        await repo.commit()
    if seq >= live.question_count:
        await lives.finish(live.id, datetime.now(UTC))
        await lives.succeeded(live.id)
        await repo.commit()
        return
    current = await lives.get(live.id)
    if current is None or current.finished:  # stopped by its teacher meanwhile
        await repo.commit()
        return
    question_id, order = await lives.planned(live.id, seq + 1)
    question = (await repo.attempts.questions([question_id]))[question_id]
    options, correct = shown_options(question.options, min(question.correct), order)
    explanation = question.explanation[:200] if question.explanation else None
    await repo.commit()  # end the reads: hold no connection while Telegram answers
    message = await bot.send_poll(
        live.chat_id,
        question=_.plain(
            "livequiz.poll", seq=seq + 1, count=live.question_count, stem=question.stem
        )[:300],
        options=list[InputPollOption | str](options),
        type="quiz",
        correct_option_id=correct,
        is_anonymous=False,
        open_period=live.seconds_per_question,
        explanation=explanation,
    )
    assert message.poll is not None
    closes_at = datetime.now(UTC) + timedelta(seconds=live.seconds_per_question)
    await lives.add_poll(
        live.id, seq + 1, message.poll.id, question.id, correct, message.message_id, closes_at
    )
    await lives.succeeded(live.id)
    await repo.commit()


async def give_up(
    context: ServiceContext, repo: Repositories, lives: LiveQuizRepository, live: LiveQuiz
) -> None:
    """End a quiz the bot cannot run in its group, and tell the teacher in private."""
    if not await lives.finish(live.id, datetime.now(UTC)):
        await repo.commit()
        return  # stopped, or given up by another process, in the meantime
    teacher = await repo.participants.by_telegram_id(live.started_by)
    await repo.commit()
    _ = context.translator.bind(teacher.locale if teacher else None)
    started = short_when(live.started_at, context.settings.zone, _.plain)
    try:
        await context.bot.send_message(
            live.started_by,
            _(
                "livequiz.gave_up",
                started=started,
                where=_.plain("livequiz.in_group", title=live.chat_title)
                if live.chat_title
                else _.plain("livequiz.in_a_group"),
                failures=MAX_SEND_FAILURES,
            ),
        )
    except TelegramAPIError as error:  # the teacher blocked the bot or never opened it
        log.info(
            "could not tell teacher %s about live quiz %s: %s", live.started_by, live.id, error
        )


async def stop(
    bot: Bot, repo: Repositories, lives: LiveQuizRepository, live: LiveQuiz, _: Gettext
) -> bool:
    """End a running quiz now: close its poll and post the final board of what was asked."""
    if not await lives.finish(live.id, datetime.now(UTC)):
        await repo.commit()
        return False
    poll_message = await lives.open_poll_message(live.id)
    await repo.commit()
    if poll_message is not None:
        with contextlib.suppress(TelegramAPIError):  # already closed by its timer
            await bot.stop_poll(live.chat_id, poll_message)
    await show_board(bot, lives, live, live.current_seq, _, stopped=True)
    await repo.commit()
    return True


async def show_board(
    bot: Bot,
    lives: LiveQuizRepository,
    live: LiveQuiz,
    seq: int,
    _: Gettext,
    *,
    stopped: bool = False,
) -> None:
    lines = board(await lives.board(live.id))
    numbers = unregistered_numbers(lines)
    final = stopped or seq >= live.question_count
    if stopped:
        text = [_("livequiz.board_stopped", seq=seq, count=live.question_count)]
    elif final:
        text = [_("livequiz.board_final", count=live.question_count)]
    else:
        text = [_("livequiz.board", seq=seq, count=live.question_count)]
    text += [
        _(
            "livequiz.board_line",
            rank=rank,
            name=line.name
            if line.name is not None
            else _.plain("livequiz.unregistered", number=numbers[line.participant_id]),
            right=line.right,
            answered=line.answered,
        )
        for rank, line in enumerate(lines[:BOARD_LINES], start=1)
    ]
    if not lines:
        text.append(_("livequiz.board_empty"))
    body = "\n".join(text)
    markup = None if final else stop_keyboard(live.id, _)
    if final and live.board_message_id is not None:  # its stop button has nothing to stop
        with contextlib.suppress(TelegramAPIError):
            await bot.edit_message_reply_markup(
                chat_id=live.chat_id, message_id=live.board_message_id, reply_markup=None
            )
    if live.board_message_id is not None and not final:
        try:
            await bot.edit_message_text(
                body, chat_id=live.chat_id, message_id=live.board_message_id, reply_markup=markup
            )
            return
        except TelegramAPIError:
            pass  # deleted by someone in the group: post it again
    sent = await bot.send_message(live.chat_id, body, reply_markup=markup)
    await lives.set_board(live.id, sent.message_id)
