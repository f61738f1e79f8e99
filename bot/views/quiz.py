"""A quiz in chat: the question message and its buttons, the next question or the result
after an answer, and the end of a live quiz.

The answer handlers and the quiz clock (a question whose time ran out moves on by
itself) both show what comes next, so it is rendered here rather than in a handler.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, tzinfo

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Message,
)

from bot.application.question_pictures import QuestionPhoto, question_photo, remember_photo
from bot.application.quiz import attempt_result, remember_question_message
from bot.campaign_messages import answer_given, option_text, options_shown
from bot.i18n import Gettext
from bot.livequiz_steps import stop
from bot.message_parts import split_message
from quizzes.attempts import Attempt, AttemptQuestion, Step, Verdict
from quizzes.bank import QuestionType
from quizzes.campaigns import Campaign
from quizzes.engine import LETTERS, Feedback, shows_deadline
from quizzes.livequiz import LiveQuiz
from quizzes.statistics import score_percent
from storage.unit_of_work import UnitOfWork

# A photo's caption, as Telegram counts it (UTF-16 code units); the message text's is 4096.
CAPTION_MAX = 1024


class CampaignCb(CallbackData, prefix="qz"):
    campaign: int


class AnswerCb(CallbackData, prefix="a"):
    attempt: int
    seq: int
    option: int


class SubmitCb(CallbackData, prefix="as"):
    attempt: int
    seq: int


def question_text(
    campaign: Campaign,
    attempt: Attempt,
    question: AttemptQuestion,
    _: Gettext,
    zone: tzinfo,
    note: str,
    now: datetime,
) -> str:
    stored = question.question
    lines = [note] if note else []
    lines.append(
        _(
            "quiz.question.header",
            campaign=campaign.name,
            seq=question.seq,
            count=attempt.question_count,
            kind=_(f"quiz.kind.{stored.type.value}"),
        )
    )
    lines += ["", _("quiz.question.stem", stem=stored.stem)]
    if stored.type is not QuestionType.TRUE_FALSE:  # its buttons say 正确 and 错误
        lines.append("")
        for position, original in enumerate(question.order):
            lines.append(
                _("quiz.question.option", letter=LETTERS[position], text=stored.options[original])
            )
    deadline = question.deadline
    if deadline is not None and shows_deadline(
        deadline, timed=campaign.rules.timed, now=now, zone=zone
    ):
        local = deadline.astimezone(zone)
        time = local.strftime("%H:%M:%S")
        if local.date() == now.astimezone(zone).date():
            lines += ["", _("quiz.question.deadline", time=time)]
        else:
            lines += [
                "",
                _("quiz.question.deadline_on", when=local, time=time),
            ]
    return "\n".join(lines)


def question_keyboard(question: AttemptQuestion, _: Gettext) -> InlineKeyboardMarkup:
    """Option buttons, four to a row, then Submit for multiple choice; true/false says
    正确 and 错误 on its two buttons.

    Built directly: on every answer, ``InlineKeyboardBuilder`` would deep-copy its buttons.
    """
    stored = question.question
    multiple = stored.type is QuestionType.MULTIPLE
    buttons = []
    for position, original in enumerate(question.order):
        label = LETTERS[position]
        if stored.type is QuestionType.TRUE_FALSE:
            label = option_text(stored, original, _)
        elif multiple:
            label = ("☑ " if position in question.draft else "☐ ") + label
        data = AnswerCb(attempt=question.attempt_id, seq=question.seq, option=position)
        buttons.append(InlineKeyboardButton(text=label, callback_data=data.pack()))
    rows = [buttons[start : start + 4] for start in range(0, len(buttons), 4)]
    if multiple:
        submit = SubmitCb(attempt=question.attempt_id, seq=question.seq)
        rows.append([InlineKeyboardButton(text=_("quiz.submit"), callback_data=submit.pack())])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def fits_caption(text: str) -> bool:
    return len(text.encode("utf-16-le")) // 2 <= CAPTION_MAX


def shown_as_photo(question: AttemptQuestion, text: str) -> bool:
    """Whether the question's message is a photo with the text as its caption: it has a
    picture and the text fits a caption. A longer text goes in a text message of its own,
    below the picture sent alone."""
    return question.question.picture_sha256 is not None and fits_caption(text)


def _photo_file(photo: QuestionPhoto) -> str | BufferedInputFile:
    if photo.file_id is not None:
        return photo.file_id
    assert photo.picture is not None
    suffix = "png" if photo.picture.media_type == "image/png" else "jpg"
    return BufferedInputFile(photo.picture.content, f"question.{suffix}")


async def _kept(uow: UnitOfWork, photo: QuestionPhoto, sent: Message | bool) -> None:
    """Remember Telegram's id for a picture sent as bytes, so it is uploaded once."""
    if photo.file_id is None and isinstance(sent, Message) and sent.photo:
        await remember_photo(uow, photo.sha256, sent.photo[-1].file_id)


async def send_question(
    bot: Bot,
    uow: UnitOfWork,
    chat_id: int,
    question: AttemptQuestion,
    text: str,
    markup: InlineKeyboardMarkup,
    _: Gettext,
) -> int:
    """Send the question as a new message; the id of the one carrying its buttons: a
    photo captioned with the text, or, for a text too long for a caption, the picture
    alone followed by the text."""
    photo = await question_photo(uow, question.question)
    if photo is None:
        return (await bot.send_message(chat_id, text, reply_markup=markup)).message_id
    if fits_caption(text):
        sent = await bot.send_photo(chat_id, _photo_file(photo), caption=text, reply_markup=markup)
        await _kept(uow, photo, sent)
        return sent.message_id
    alone = await bot.send_photo(
        chat_id, _photo_file(photo), caption=_("picture.caption", seq=question.seq)
    )
    await _kept(uow, photo, alone)
    return (await bot.send_message(chat_id, text, reply_markup=markup)).message_id


async def retire_message(
    bot: Bot, chat_id: int, message_id: int | None, _: Gettext, *, on_photo: bool = False
) -> None:
    """An attempt's earlier question message, its buttons taken off: one message per
    attempt answers (a resume, or a picture question, sent a newer one below)."""
    if message_id is None:
        return
    moved = _("quiz.moved_below")
    # The kind expected first; a resumed attempt's old message may be either. Deleted by
    # the user, or too old to edit: either way nothing is left to press.
    for caption in (on_photo, not on_photo):
        with contextlib.suppress(TelegramBadRequest):
            if caption:
                await bot.edit_message_caption(
                    caption=moved, chat_id=chat_id, message_id=message_id, reply_markup=None
                )
            else:
                await bot.edit_message_text(
                    text=moved, chat_id=chat_id, message_id=message_id, reply_markup=None
                )
            return


async def _move_to(
    bot: Bot,
    uow: UnitOfWork,
    attempt: Attempt,
    question: AttemptQuestion,
    text: str,
    message_id: int | None,
    on_photo: bool,
    _: Gettext,
) -> None:
    """The live question message becomes ``question``: edited in place where it keeps its
    kind (text to text, photo to photo), else sent anew below with the old one retired."""
    assert attempt.chat_id is not None
    markup = question_keyboard(question, _)
    as_photo = shown_as_photo(question, text)
    if message_id is not None and question.question.picture_sha256 is None and not on_photo:
        await bot.edit_message_text(
            text=text, chat_id=attempt.chat_id, message_id=message_id, reply_markup=markup
        )
        return
    if message_id is not None and as_photo and on_photo:
        photo = await question_photo(uow, question.question)
        if photo is not None:
            with contextlib.suppress(TelegramBadRequest):  # not a photo after all: send anew
                edited = await bot.edit_message_media(
                    media=InputMediaPhoto(media=_photo_file(photo), caption=text),
                    chat_id=attempt.chat_id,
                    message_id=message_id,
                    reply_markup=markup,
                )
                await _kept(uow, photo, edited)
                return
    sent = await send_question(bot, uow, attempt.chat_id, question, text, markup, _)
    await remember_question_message(uow, attempt.id, sent)
    await retire_message(bot, attempt.chat_id, message_id, _, on_photo=on_photo)


async def show_next(
    bot: Bot,
    campaign: Campaign,
    attempt: Attempt,
    step: Step,
    message_id: int | None,
    uow: UnitOfWork,
    _: Gettext,
    zone: tzinfo,
    now: datetime,
    *,
    on_photo: bool | None = None,
) -> None:
    """After an answer or a timeout: the quiz message turns into the next question (with
    a note on the last one), or says the quiz is over and the result follows.

    ``on_photo`` says whether the quiz message is a photo; unknown (a timeout), it is
    judged from the question it showed."""
    if attempt.chat_id is None:  # taken on the web pages: its page shows the next step
        return
    if on_photo is None:
        before = step.answered
        on_photo = before is not None and shown_as_photo(
            before, question_text(campaign, attempt, before, _, zone, "", now)
        )
    if step.next is not None:
        note = ""
        if step.verdict is Verdict.TIME_UP:
            note = _("quiz.time_up_note")
        elif campaign.rules.feedback is Feedback.EACH and step.answered is not None:
            note = _("quiz.feedback.right_note")
            if not step.correct:  # the toast fades: the answer stays above the next question
                answered = step.answered
                answer = options_shown(
                    answered.question, answered.order, answered.question.correct, _.plain
                )
                note = _("quiz.feedback.wrong_note", answer=answer)
        text = question_text(campaign, attempt, step.next, _, zone, note, now)
        await _move_to(bot, uow, attempt, step.next, text, message_id, on_photo, _)
        return
    if message_id is not None:
        finished = _("quiz.finished_note", campaign=campaign.name)
        if step.verdict is Verdict.TIME_UP:
            finished = _("quiz.time_up_note") + "\n" + finished
        if on_photo:  # the picture stays, its caption says the quiz is over
            await bot.edit_message_caption(
                caption=finished,
                chat_id=attempt.chat_id,
                message_id=message_id,
                reply_markup=None,
            )
        else:
            await bot.edit_message_text(
                text=finished,
                chat_id=attempt.chat_id,
                message_id=message_id,
                reply_markup=None,
            )
    await send_result(bot, campaign, attempt, uow, _, now)


async def send_result(
    bot: Bot, campaign: Campaign, attempt: Attempt, uow: UnitOfWork, _: Gettext, now: datetime
) -> None:
    """The result of a finished attempt, with each question missed and its explanation."""
    if attempt.chat_id is None:  # taken on the web pages: the result is shown there
        return
    result = await attempt_result(uow, campaign, attempt, now=now)
    outcome = result.outcome
    parts = [
        _(
            "quiz.result.summary",
            campaign=campaign.name,
            points=f"{attempt.points:g}",
            count=attempt.question_count,
            percent=score_percent(outcome.percent),
            verdict=_("quiz.result.passed" if outcome.passed else "quiz.result.failed"),
            pass_mark=campaign.rules.pass_mark,
        )
    ]
    if result.attempts_left:
        parts[0] += "\n" + _("quiz.result.attempts_left", left=result.attempts_left)
    standing = result.standing
    if standing is not None:
        group = _(f"quiz.result.among.{standing.role.value}")
        parts.append(_("quiz.result.rank", group=group, rank=standing.place, total=standing.of))
    if result.certificate:
        parts.append(_("quiz.result.certificate_hint"))
    if result.missed:
        parts.append(_("quiz.result.missed_header"))
    for question in result.missed:
        stored, order = question.question, question.order
        answer = options_shown(stored, order, stored.correct, _.plain)
        yours = answer_given(question, _.plain)
        parts.append(
            _(
                "quiz.result.missed_item",
                seq=question.seq,
                stem=stored.stem,
                yours=yours,
                answer=answer,
                explanation=stored.explanation or "—",
            )
        )
    for chunk in split_message(parts, separator="\n\n"):
        await bot.send_message(attempt.chat_id, chunk)


async def stop_live_quiz(bot: Bot, uow: UnitOfWork, live: LiveQuiz, _: Gettext) -> bool:
    """End a running live quiz now: close its poll and post the final board. False when
    it had ended meanwhile."""
    return await stop(bot, uow, uow.live_quizzes, live, _)
