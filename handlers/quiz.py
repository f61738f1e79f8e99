"""Answering in chat: /quiz lists what is open, questions arrive one at a time as buttons."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, tzinfo

from aiogram import Bot, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.campaign_messages import option_text, options_shown
from bot.config import Settings
from bot.i18n import Gettext, Translator
from bot.message_parts import split_message
from bot.when import short_when
from quizzes.attempts import Attempt, AttemptQuestion, Attempts, Step, Verdict
from quizzes.bank import QuestionType
from quizzes.campaigns import Campaign
from quizzes.engine import LETTERS, Feedback, Outcome, shows_deadline
from quizzes.participants import Participant
from quizzes.statistics import score_percent
from storage.repositories import Repositories

MAX_TOAST = 200  # characters of a callback query's answer


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
    note: str = "",
    now: datetime | None = None,
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
    now = now or datetime.now(UTC)
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


def attempts_service(repo: Repositories) -> Attempts:
    return Attempts(repo.attempts, repo.campaigns)


async def list_open(
    message: Message,
    participant: Participant,
    repo: Repositories,
    settings: Settings,
    _: Gettext,
) -> None:
    now = datetime.now(UTC)
    unit = await repo.units.get(participant.unit_id) if participant.unit_id else None
    campaigns = [
        c for c in await repo.campaigns.open_at(now) if c.audience.includes(participant, unit)
    ]
    if not participant.registered:
        await message.answer(_("quiz.register_first"))
        return
    if not campaigns:
        await message.answer(_("quiz.none_open"))
        return
    builder = InlineKeyboardBuilder()
    lines = [_("quiz.open_list")]
    for campaign in campaigns:
        used = await repo.attempts.attempts_used(campaign.id, participant.id)
        active = await repo.attempts.active_attempt(campaign.id, participant.id)
        closes = short_when(campaign.closes_at, settings.zone, _)
        lines.append(
            _(
                "quiz.open_item",
                name=campaign.name,
                questions=campaign.rules.questions,
                closes=closes,
                used=used,
                allowed=campaign.rules.attempts_allowed,
            )
        )
        key = "quiz.resume" if active else "quiz.start"
        builder.button(
            text=_(key, name=campaign.name), callback_data=CampaignCb(campaign=campaign.id)
        )
    builder.adjust(1)
    await message.answer("\n".join(lines), reply_markup=builder.as_markup())


async def start_campaign(
    callback: CallbackQuery,
    callback_data: CampaignCb,
    participant: Participant,
    repo: Repositories,
    bot: Bot,
    settings: Settings,
    _: Gettext,
) -> None:
    campaign = await repo.campaigns.get(callback_data.campaign)
    if campaign is None:
        await callback.answer(_.plain("errors.stale_button"))
        return
    unit = await repo.units.get(participant.unit_id) if participant.unit_id else None
    started = await attempts_service(repo).start(
        campaign, participant, unit, chat_id=callback.from_user.id
    )
    await repo.commit()
    if started.refusal is not None or started.attempt is None:
        reason = started.refusal.value if started.refusal else "not_open"
        await callback.answer(_.plain(f"quiz.refused.{reason}"), show_alert=True)
        return
    await callback.answer()
    attempt, question = started.attempt, started.question
    if attempt.finished or question is None:
        await send_result(bot, campaign, attempt, repo, _)
        return
    note = _("quiz.resumed") if started.resumed else ""
    sent = await bot.send_message(
        attempt.chat_id,
        question_text(campaign, attempt, question, _, settings.zone, note),
        reply_markup=question_keyboard(question, _),
    )
    await repo.attempts.set_message(attempt.id, sent.message_id)
    await repo.commit()
    if started.resumed and attempt.message_id not in (None, sent.message_id):
        await retire_message(bot, attempt.chat_id, attempt.message_id, _)


async def retire_message(bot: Bot, chat_id: int, message_id: int | None, _: Gettext) -> None:
    """The attempt's earlier question message, its buttons taken off: one message per
    attempt answers (a double tap on Start, or a resume, sent a newer one below)."""
    if message_id is None:
        return
    # Deleted by the user, or too old to edit: either way nothing is left to press.
    with contextlib.suppress(TelegramBadRequest):
        await bot.edit_message_text(
            text=_("quiz.moved_below"), chat_id=chat_id, message_id=message_id, reply_markup=None
        )


# The two answer handlers take no ``participant`` (nor ``_``): the attempt's snapshot
# checks the presser against its owner's Telegram id and names the owner's language.


async def press_option(
    callback: CallbackQuery,
    callback_data: AnswerCb,
    repo: Repositories,
    bot: Bot,
    settings: Settings,
    translator: Translator,
) -> None:
    step = await attempts_service(repo).choose(
        callback.from_user.id, callback_data.attempt, callback_data.seq, callback_data.option
    )
    await repo.commit()
    _ = await language_of(step, callback, repo, translator)
    await show_step(callback, step, repo, bot, settings, _)


async def submit_multiple(
    callback: CallbackQuery,
    callback_data: SubmitCb,
    repo: Repositories,
    bot: Bot,
    settings: Settings,
    translator: Translator,
) -> None:
    step = await attempts_service(repo).submit(
        callback.from_user.id, callback_data.attempt, callback_data.seq
    )
    await repo.commit()
    _ = await language_of(step, callback, repo, translator)
    await show_step(callback, step, repo, bot, settings, _)


async def language_of(
    step: Step, callback: CallbackQuery, repo: Repositories, translator: Translator
) -> Gettext:
    """The owner's language for their own press. A press refused as not theirs (rare)
    reads the presser's chosen language, or takes Telegram's for a stranger."""
    chosen = step.locale
    if chosen is None:
        presser = await repo.participants.by_telegram_id(callback.from_user.id)
        chosen = presser.locale if presser else None
    return translator.bind_for(callback.from_user.language_code, chosen)


async def show_step(
    callback: CallbackQuery,
    step: Step,
    repo: Repositories,
    bot: Bot,
    settings: Settings,
    _: Gettext,
) -> None:
    """Toast for the press, then the quiz message edited to the next question or result."""
    if step.verdict in (Verdict.NOT_YOURS, Verdict.STALE, Verdict.ALREADY_ANSWERED, Verdict.EMPTY):
        await callback.answer(_.plain(f"quiz.verdict.{step.verdict.value}"))
        return
    attempt = step.attempt
    assert attempt is not None
    campaign = step.campaign or await repo.campaigns.get(attempt.campaign_id)
    assert campaign is not None
    message_id = callback.message.message_id if callback.message else attempt.message_id
    if step.verdict is Verdict.TOGGLED:
        assert step.next is not None
        await callback.answer()
        await bot.edit_message_reply_markup(
            chat_id=attempt.chat_id,
            message_id=message_id,
            reply_markup=question_keyboard(step.next, _),
        )
        return
    await callback.answer(feedback_toast(campaign, step, _))
    await show_next(bot, campaign, attempt, step, message_id, repo, _, settings.zone)


def feedback_toast(campaign: Campaign, step: Step, _: Gettext) -> str:
    if step.verdict is Verdict.CLOSED:
        return _.plain("quiz.verdict.closed")
    if step.verdict is Verdict.TIME_UP:
        return _.plain("quiz.verdict.time_up")
    if campaign.rules.feedback is Feedback.END or step.answered is None:
        return _.plain("quiz.verdict.recorded")
    if step.correct:
        return _.plain("quiz.feedback.right")
    answered = step.answered
    answer = options_shown(answered.question, answered.order, answered.question.correct, _.plain)
    toast = _.plain("quiz.feedback.wrong", answer=answer)
    if len(toast) > MAX_TOAST:  # long options: the result lists them in full
        cut = max(0, len(answer) - (len(toast) - MAX_TOAST) - 1)
        toast = _.plain("quiz.feedback.wrong", answer=answer[:cut] + "…")
    return toast


async def show_next(
    bot: Bot,
    campaign: Campaign,
    attempt: Attempt,
    step: Step,
    message_id: int | None,
    repo: Repositories,
    _: Gettext,
    zone: tzinfo,
) -> None:
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
        text = question_text(campaign, attempt, step.next, _, zone, note)
        markup = question_keyboard(step.next, _)
        if message_id is not None:
            await bot.edit_message_text(
                text=text, chat_id=attempt.chat_id, message_id=message_id, reply_markup=markup
            )
        else:
            sent = await bot.send_message(attempt.chat_id, text, reply_markup=markup)
            await repo.attempts.set_message(attempt.id, sent.message_id)
            await repo.commit()
        return
    if message_id is not None:
        finished = _("quiz.finished_note", campaign=campaign.name)
        if step.verdict is Verdict.TIME_UP:
            finished = _("quiz.time_up_note") + "\n" + finished
        await bot.edit_message_text(
            text=finished,
            chat_id=attempt.chat_id,
            message_id=message_id,
            reply_markup=None,
        )
    await send_result(bot, campaign, attempt, repo, _)


async def send_result(
    bot: Bot, campaign: Campaign, attempt: Attempt, repo: Repositories, _: Gettext
) -> None:
    outcome = Outcome(attempt.points, attempt.question_count, campaign.rules.pass_mark)
    standing = await repo.attempts.rank_in_school(attempt)
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
    left = campaign.rules.attempts_allowed - attempt.number
    if not outcome.passed and left > 0 and campaign.is_open(datetime.now(UTC)):
        parts[0] += "\n" + _("quiz.result.attempts_left", left=left)
    if standing is not None and standing.place is not None:
        group = _(f"quiz.result.among.{standing.role.value}")
        parts.append(_("quiz.result.rank", group=group, rank=standing.place, total=standing.of))
    if outcome.passed and campaign.rules.certificate:
        parts.append(_("quiz.result.certificate_hint"))
    missed = [q for q in await repo.attempts.all_questions(attempt.id) if (q.points or 0) < 1]
    if missed:
        parts.append(_("quiz.result.missed_header"))
        for question in missed:
            stored, order = question.question, question.order
            answer = options_shown(stored, order, stored.correct, _.plain)
            if question.timed_out:
                yours = _.plain("quiz.result.yours_timed_out")
            elif question.chosen:
                yours = options_shown(stored, order, question.chosen, _.plain)
            else:  # the window closed on it
                yours = _.plain("quiz.result.yours_unanswered")
            parts.append(
                _(
                    "quiz.result.missed_item",
                    seq=question.seq,
                    stem=question.question.stem,
                    yours=yours,
                    answer=answer,
                    explanation=question.question.explanation or "—",
                )
            )
    await repo.commit()  # end the reads: hold no connection while waiting to send
    for chunk in split_message(parts, separator="\n\n"):
        await bot.send_message(attempt.chat_id, chunk)


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(list_open, Command("quiz"))
    router.callback_query.register(start_campaign, CampaignCb.filter())
    router.callback_query.register(press_option, AnswerCb.filter())
    router.callback_query.register(submit_multiple, SubmitCb.filter())
    return router
