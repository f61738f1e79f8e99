"""Driving a live quiz: one quiz poll at a time, the leaderboard after each.

The quiz clock calls :func:`step_due` every second. What is due is read from the tables
(a quiz that must start, or whose current poll has closed), so a restart in the middle of
a class's quiz picks up where it was; the conditional ``advance`` makes each step happen
once even with several bot processes. A crash between claiming a step and sending its
poll skips that one question rather than asking it twice.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError

from bot.i18n import Gettext
from bot.services import ServiceContext
from quizzes.livequiz import LiveQuiz, board
from storage.livequiz import LiveQuizRepository
from storage.repositories import Repositories

log = logging.getLogger(__name__)

BOARD_LINES = 10
# Telegram closes a poll at open_period; the next one follows a moment later.
GAP_S = 1.0


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
        if seq > 0:
            await show_board(context.bot, lives, live, seq, _)
            await repo.commit()
        if seq >= live.question_count:
            await lives.finish(live.id, datetime.now(UTC))
            await repo.commit()
            return
        question_id = await lives.question_id(live.id, seq + 1)
        question = (await repo.attempts.questions([question_id]))[question_id]
        correct = min(question.correct)
        explanation = question.explanation[:200] if question.explanation else None
        try:
            message = await context.bot.send_poll(
                live.chat_id,
                question=_.plain(
                    "livequiz.poll", seq=seq + 1, count=live.question_count, stem=question.stem
                )[:300],
                options=list(question.options),
                type="quiz",
                correct_option_id=correct,
                is_anonymous=False,
                open_period=live.seconds_per_question,
                explanation=explanation,
            )
        except TelegramAPIError:
            # Removed from the group, or the group is gone: the quiz ends here.
            await lives.finish(live.id, datetime.now(UTC))
            await repo.commit()
            raise
        assert message.poll is not None
        closes_at = datetime.now(UTC) + timedelta(seconds=live.seconds_per_question)
        await lives.add_poll(
            live.id, seq + 1, message.poll.id, question.id, correct, message.message_id, closes_at
        )
        await repo.commit()


async def show_board(
    bot: Bot, lives: LiveQuizRepository, live: LiveQuiz, seq: int, _: Gettext
) -> None:
    lines = board(await lives.board(live.id))
    final = seq >= live.question_count
    key = "livequiz.board_final" if final else "livequiz.board"
    text = [_(key, seq=seq, count=live.question_count)]
    text += [
        _(
            "livequiz.board_line",
            rank=rank,
            name=line.name,
            right=line.right,
            answered=line.answered,
        )
        for rank, line in enumerate(lines[:BOARD_LINES], start=1)
    ]
    if not lines:
        text.append(_("livequiz.board_empty"))
    body = "\n".join(text)
    if live.board_message_id is not None and not final:
        try:
            await bot.edit_message_text(
                body, chat_id=live.chat_id, message_id=live.board_message_id
            )
            return
        except TelegramAPIError:
            pass  # deleted by someone in the group: post it again
    sent = await bot.send_message(live.chat_id, body)
    await lives.set_board(live.id, sent.message_id)
