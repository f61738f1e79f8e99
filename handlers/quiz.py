"""Answering in chat: /quiz lists what is open, questions arrive one at a time as buttons."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import replace
from datetime import tzinfo

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardMarkup,
    MaybeInaccessibleMessage,
    Message,
)
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.application import Clock, UnitOfWork
from bot.application.quiz import (
    OpenCampaign,
    attempt_campaign,
    choose_option,
    current_question,
    open_campaigns,
    presser_locale,
    remember_question_message,
    start_attempt,
    submit_choices,
)
from bot.campaign_messages import options_shown
from bot.config import Settings
from bot.i18n import Gettext, Translator
from bot.views.mini_app import pages_web_app
from bot.views.quiz import (
    AnswerCb,
    CampaignCb,
    SubmitCb,
    question_keyboard,
    question_text,
    retire_message,
    send_question,
    send_result,
    show_next,
)
from bot.when import short_when
from handlers.certificates import CertificateCb
from quizzes.attempts import Step, Verdict
from quizzes.campaigns import Campaign
from quizzes.engine import Feedback
from quizzes.participants import Participant
from quizzes.statistics import score_percent

MAX_TOAST = 200  # characters of a callback query's answer


async def list_open(
    message: Message,
    participant: Participant,
    uow: UnitOfWork,
    settings: Settings,
    clock: Clock,
    _: Gettext,
) -> None:
    listed = await open_campaigns(uow, participant, now=clock())
    if not listed.registered:
        await message.answer(_("quiz.register_first"))
        return
    if not listed.campaigns:
        await message.answer(_("quiz.none_open"))
        return
    # Telegram opens a web app from a private chat only.
    public_url = settings.public_url if message.chat.type == "private" else None
    text, markup = campaign_list(listed.campaigns, _, settings.zone, public_url)
    await message.answer(text, reply_markup=markup)


def campaign_list(
    campaigns: Sequence[OpenCampaign], _: Gettext, zone: tzinfo, public_url: str | None
) -> tuple[str, InlineKeyboardMarkup | None]:
    """/quiz's list: each campaign with its use and best result so far; a button to start
    (resume, try again) only where the server would allow it, and the certificate of a
    passed one. No keyboard at all when nothing is left to press."""
    builder = InlineKeyboardBuilder()
    lines = [_("quiz.open_list")]
    for item in campaigns:
        campaign = item.campaign
        rules = campaign.rules
        lines.append(
            _(
                "quiz.open_item",
                name=campaign.name,
                questions=rules.questions,
                closes=short_when(campaign.closes_at, zone, _),
                used=item.attempts_used,
                allowed=rules.attempts_allowed,
            )
        )
        if item.best is not None and item.outcome is not None:
            verdict = "quiz.listed.passed" if item.outcome.passed else "quiz.listed.failed"
            lines.append(
                _(
                    "quiz.listed.best",
                    points=f"{item.best.points:g}",
                    count=item.best.question_count,
                    percent=score_percent(item.outcome.percent),
                    verdict=_(verdict, pass_mark=rules.pass_mark),
                )
            )
        if item.may_start:
            builder.button(
                text=_.plain(f"quiz.{item.offer.value}", name=campaign.name),
                callback_data=CampaignCb(campaign=campaign.id),
            )
            web_app = pages_web_app(public_url, campaign.id)
            if web_app is not None:
                builder.button(text=_.plain("quiz.on_pages", name=campaign.name), web_app=web_app)
        else:
            lines.append(_("quiz.listed.used_up", allowed=rules.attempts_allowed))
        if item.certificate and item.best is not None:
            builder.button(
                text=_.plain("certificate.button", campaign=campaign.name),
                callback_data=CertificateCb(attempt=item.best.id),
            )
    builder.adjust(1)
    markup = builder.as_markup()
    return "\n".join(lines), markup if markup.inline_keyboard else None


async def start_campaign(
    callback: CallbackQuery,
    callback_data: CampaignCb,
    participant: Participant,
    uow: UnitOfWork,
    bot: Bot,
    settings: Settings,
    clock: Clock,
    _: Gettext,
) -> None:
    begun = await start_attempt(
        uow, callback_data.campaign, participant, chat_id=callback.from_user.id, clock=clock
    )
    if begun is None:
        await callback.answer(_.plain("errors.stale_button"))
        return
    campaign, started = begun.campaign, begun.started
    if started.refusal is not None or started.attempt is None:
        reason = started.refusal.value if started.refusal else "not_open"
        await callback.answer(_.plain(f"quiz.refused.{reason}"), show_alert=True)
        return
    await callback.answer()
    attempt, question = started.attempt, started.question
    if attempt.finished or question is None:
        await send_result(bot, campaign, attempt, uow, _, clock())
        return
    note = _("quiz.resumed") if started.resumed else ""
    sent = await send_question(
        bot,
        uow,
        callback.from_user.id,  # the attempt's own chat: only its owner gets this far
        question,
        question_text(campaign, attempt, question, _, settings.zone, note, clock()),
        question_keyboard(question, _),
        _,
    )
    await remember_question_message(uow, attempt.id, sent)
    if started.resumed and attempt.message_id not in (None, sent):
        # A double tap on Start, or a resume, sent a newer one below.
        await retire_message(bot, callback.from_user.id, attempt.message_id, _)


# The two answer handlers take no ``participant`` (nor ``_``): the attempt's snapshot
# checks the presser against its owner's Telegram id and names the owner's language.


async def press_option(
    callback: CallbackQuery,
    callback_data: AnswerCb,
    uow: UnitOfWork,
    bot: Bot,
    settings: Settings,
    translator: Translator,
    clock: Clock,
) -> None:
    step = await choose_option(
        uow,
        callback.from_user.id,
        callback_data.attempt,
        callback_data.seq,
        callback_data.option,
        clock=clock,
    )
    _ = await language_of(step, callback, uow, translator)
    await show_step(callback, step, uow, bot, settings, clock, _)


async def submit_multiple(
    callback: CallbackQuery,
    callback_data: SubmitCb,
    uow: UnitOfWork,
    bot: Bot,
    settings: Settings,
    translator: Translator,
    clock: Clock,
) -> None:
    step = await submit_choices(
        uow, callback.from_user.id, callback_data.attempt, callback_data.seq, clock=clock
    )
    _ = await language_of(step, callback, uow, translator)
    await show_step(callback, step, uow, bot, settings, clock, _)


async def language_of(
    step: Step, callback: CallbackQuery, uow: UnitOfWork, translator: Translator
) -> Gettext:
    """The owner's language for their own press. A press refused as not theirs (rare)
    reads the presser's chosen language, or takes Telegram's for a stranger."""
    chosen = step.locale
    if chosen is None:
        chosen = await presser_locale(uow, callback.from_user.id)
    return translator.bind_for(callback.from_user.language_code, chosen)


async def show_step(
    callback: CallbackQuery,
    step: Step,
    uow: UnitOfWork,
    bot: Bot,
    settings: Settings,
    clock: Clock,
    _: Gettext,
) -> None:
    """Toast for the press, then the quiz message edited to the next question or result."""
    if step.verdict in (Verdict.NOT_YOURS, Verdict.STALE, Verdict.ALREADY_ANSWERED, Verdict.EMPTY):
        await callback.answer(_.plain(f"quiz.verdict.{step.verdict.value}"))
        if step.verdict is Verdict.STALE:
            await catch_up(callback, step, uow, bot, settings, clock, _)
        return
    attempt = step.attempt
    assert attempt is not None
    campaign = step.campaign or await attempt_campaign(uow, attempt)
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
    on_photo = bool(getattr(callback.message, "photo", None))
    await show_next(
        bot, campaign, attempt, step, message_id, uow, _, settings.zone, clock(), on_photo=on_photo
    )


async def catch_up(
    callback: CallbackQuery,
    step: Step,
    uow: UnitOfWork,
    bot: Bot,
    settings: Settings,
    clock: Clock,
    _: Gettext,
) -> None:
    """A press on the attempt's own message that still shows an earlier question: the
    answer was recorded, but the message was not moved on (the process handling it was
    stopped in between, and Telegram sent the press again). Show where the attempt is
    now: its current question, or the end and the result."""
    attempt = step.attempt
    message = callback.message
    if attempt is None or attempt.chat_id is None or message is None:
        return
    if message.message_id != attempt.message_id or not _shows_an_earlier_question(
        message, attempt.current_seq, attempt.finished
    ):
        return
    campaign = step.campaign or await attempt_campaign(uow, attempt)
    where = replace(step, next=await current_question(uow, attempt), answered=None)
    on_photo = bool(getattr(message, "photo", None))
    await show_next(
        bot,
        campaign,
        attempt,
        where,
        message.message_id,
        uow,
        _,
        settings.zone,
        clock(),
        on_photo=on_photo,
    )


def _shows_an_earlier_question(
    message: MaybeInaccessibleMessage, seq: int, finished: bool
) -> bool:
    """Whether the message's answer buttons are for a question before ``seq`` (any, once
    the attempt is finished)."""
    markup = getattr(message, "reply_markup", None)
    for row in markup.inline_keyboard if markup else ():
        for button in row:
            data = button.callback_data or ""
            for kind in (AnswerCb, SubmitCb):
                with contextlib.suppress(TypeError, ValueError):
                    shown = kind.unpack(data).seq
                    return finished or shown < seq
    return False


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


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(list_open, Command("quiz"))
    router.callback_query.register(start_campaign, CampaignCb.filter())
    router.callback_query.register(press_option, AnswerCb.filter())
    router.callback_query.register(submit_multiple, SubmitCb.filter())
    return router
