"""Certificates: a PNG for each passed attempt, with the real name given with consent.

A student says first whether they are 14 or older. Under 14 (个人信息保护法 art. 31) the
real name needs a guardian's consent: the student gets a one-time code, and a teacher of
their class or a coordinator of their school, having checked with a parent, confirms it
with ``/consent CODE 姓名``; until then the certificate carries the display name. Teachers
and parents are adults and give their own name.
"""

from __future__ import annotations

import html

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.application import Clock, UnitOfWork
from bot.application.certificates import (
    Consent,
    ConsentRefusal,
    Next,
    confirm_guardian_consent,
    declare_age,
    display_name_certificate,
    forget_real_name,
    issue_certificate,
    passed_attempts,
    request_certificate,
    save_real_name,
    verify_certificate,
)
from bot.certificates import CertificateText, render_certificate
from bot.config import Settings
from bot.i18n import Gettext, Translator
from bot.verification import describe, verify_url
from handlers.dialogue import on_leaving
from quizzes.certificates import grouped
from quizzes.participants import Participant
from quizzes.permissions import Permissions
from quizzes.privacy import CONSENT_CODE_VALID
from quizzes.statistics import score_percent


class CertificateCb(CallbackData, prefix="ct"):
    attempt: int


class AgeCb(CallbackData, prefix="cta"):
    """The student's answer to "are you 14 or older?" for the certificate of ``attempt``."""

    attempt: int
    under_14: bool


class DisplayNameCb(CallbackData, prefix="ctd"):
    """A certificate with the display name, while a guardian's consent is pending."""

    attempt: int


class Certifying(StatesGroup):
    real_name = State()


on_leaving(Certifying, "certificate.name_cancelled")


async def list_certificates(
    message: Message, participant: Participant, uow: UnitOfWork, _: Gettext
) -> None:
    passed = await passed_attempts(uow, participant)
    if not passed:
        await message.answer(_("certificate.none"))
        return
    builder = InlineKeyboardBuilder()
    for attempt, campaign in passed:
        builder.button(
            text=_.plain("certificate.button", campaign=campaign.name),
            callback_data=CertificateCb(attempt=attempt.id),
        )
    builder.adjust(1)
    await message.answer(_("certificate.choose"), reply_markup=builder.as_markup())


async def want_certificate(
    callback: CallbackQuery,
    callback_data: CertificateCb,
    participant: Participant,
    uow: UnitOfWork,
    state: FSMContext,
    bot: Bot,
    settings: Settings,
    clock: Clock,
    _: Gettext,
) -> None:
    step = await request_certificate(uow, participant, callback_data.attempt)
    if step.next is Next.STALE:
        await callback.answer(_.plain("errors.stale_button"))
        return
    await callback.answer()
    chat_id = callback.from_user.id
    if step.next is Next.ISSUE:
        assert step.real_name is not None
        await send_certificate(
            bot, chat_id, callback_data.attempt, step.real_name, uow, settings, clock, _
        )
        return
    if step.next is Next.ASK_NAME:
        await _ask_real_name(bot, chat_id, callback_data.attempt, state, _)
        return
    builder = InlineKeyboardBuilder()
    for under_14 in (False, True):
        builder.button(
            text=_.plain("certificate.age_child" if under_14 else "certificate.age_adult"),
            callback_data=AgeCb(attempt=callback_data.attempt, under_14=under_14),
        )
    builder.adjust(1)
    await bot.send_message(chat_id, _("certificate.ask_age"), reply_markup=builder.as_markup())


async def _ask_real_name(
    bot: Bot, chat_id: int, attempt_id: int, state: FSMContext, _: Gettext
) -> None:
    await state.set_state(Certifying.real_name)
    await state.update_data(attempt=attempt_id)
    await bot.send_message(chat_id, _("certificate.ask_name"))


async def answer_age(
    callback: CallbackQuery,
    callback_data: AgeCb,
    participant: Participant,
    uow: UnitOfWork,
    state: FSMContext,
    bot: Bot,
    clock: Clock,
    _: Gettext,
) -> None:
    step = await declare_age(
        uow, participant, callback_data.attempt, under_14=callback_data.under_14, now=clock()
    )
    if step.next is Next.STALE:
        await callback.answer(_.plain("errors.stale_button"))
        return
    chat_id = callback.from_user.id
    if step.next is Next.ASK_NAME:
        await callback.answer()
        await _ask_real_name(bot, chat_id, callback_data.attempt, state, _)
        return
    await callback.answer()
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_.plain("certificate.display_name_now"),
        callback_data=DisplayNameCb(attempt=callback_data.attempt),
    )
    await bot.send_message(
        chat_id,
        _(
            "certificate.guardian_needed",
            code=step.consent_code,
            days=CONSENT_CODE_VALID.days,
            display=participant.display_name or "",
        ),
        reply_markup=builder.as_markup(),
    )


async def certificate_with_display_name(
    callback: CallbackQuery,
    callback_data: DisplayNameCb,
    participant: Participant,
    uow: UnitOfWork,
    bot: Bot,
    settings: Settings,
    clock: Clock,
    _: Gettext,
) -> None:
    name = await display_name_certificate(uow, participant, callback_data.attempt)
    if name is None:
        await callback.answer(_.plain("errors.stale_button"))
        return
    await callback.answer()
    await send_certificate(
        bot, callback.from_user.id, callback_data.attempt, name, uow, settings, clock, _
    )


async def give_real_name(
    message: Message,
    participant: Participant,
    uow: UnitOfWork,
    state: FSMContext,
    bot: Bot,
    settings: Settings,
    clock: Clock,
    _: Gettext,
) -> None:
    assert message.text is not None
    name = await save_real_name(uow, participant, message.text, now=clock())
    if name is None:
        await message.answer(_("certificate.bad_name"))
        return
    data = await state.get_data()
    await state.clear()
    await message.answer(_("certificate.name_saved", name=name))
    attempt_id = data.get("attempt")
    if isinstance(attempt_id, int):
        await send_certificate(bot, message.chat.id, attempt_id, name, uow, settings, clock, _)


async def confirm_consent(
    message: Message,
    command: CommandObject,
    participant: Participant,
    permissions: Permissions,
    uow: UnitOfWork,
    bot: Bot,
    settings: Settings,
    translator: Translator,
    clock: Clock,
    _: Gettext,
) -> None:
    """``/consent CODE``: whose code it is; ``/consent CODE 姓名``: confirm the name."""
    code_text, _space, name_text = (command.args or "").strip().partition(" ")
    answer = await confirm_guardian_consent(
        uow, participant, permissions, code_text, name_text, now=clock()
    )
    if not isinstance(answer, Consent):
        await message.answer(_refused(answer.refusal, answer.code, _))
        return
    display = answer.student.display_name or ""
    if answer.name is None:
        await message.answer(
            _("certificate.consent_whose", code=answer.code, unit=answer.where, display=display)
        )
        return
    name = answer.name
    await message.answer(
        _("certificate.consent_done", unit=answer.where, display=display, name=name)
    )
    student = answer.student
    if student.telegram_id is None:  # joined on the web pages: the certificate is there
        return
    theirs = translator.bind(student.locale)
    await bot.send_message(student.telegram_id, theirs("certificate.consent_confirmed", name=name))
    if answer.attempt_id is not None:
        await send_certificate(
            bot, student.telegram_id, answer.attempt_id, name, uow, settings, clock, theirs
        )


def _refused(refusal: ConsentRefusal, code: str, _: Gettext) -> str:
    if refusal is ConsentRefusal.MALFORMED:
        return _("certificate.consent_usage")
    if refusal is ConsentRefusal.UNKNOWN:
        return _("certificate.consent_unknown", code=code)
    if refusal is ConsentRefusal.NOT_YOURS:
        return _("certificate.consent_not_yours")
    return _("certificate.bad_name")


async def forget_name(
    message: Message, participant: Participant, uow: UnitOfWork, _: Gettext
) -> None:
    removed = await forget_real_name(uow, participant)
    await message.answer(
        _("certificate.forgotten" if removed else "certificate.nothing_to_forget")
    )


async def send_certificate(
    bot: Bot,
    chat_id: int,
    attempt_id: int,
    real_name: str,
    uow: UnitOfWork,
    settings: Settings,
    clock: Clock,
    _: Gettext,
) -> None:
    certificate = await issue_certificate(
        uow, attempt_id, now=clock(), zone=settings.zone, issuer=settings.issuer
    )
    issued, campaign = certificate.issued, certificate.campaign
    band = issued.band.value
    code = grouped(issued.code)
    me = await bot.me()
    day = certificate.passed_on
    text = CertificateText(
        title=_.plain(f"certificate.title_{band}"),
        name_line=_.plain(
            "certificate.name_line" if certificate.for_student else "certificate.name_line_adult",
            name=real_name,
        ),
        body=_.plain(
            f"certificate.body_{band}",
            campaign=campaign.name,
            percent=score_percent(certificate.percent),
        ),
        issuer=certificate.issuer,
        date_line=_.plain("certificate.date", year=day.year, month=day.month, day=day.day),
        serial_line=_.plain("certificate.serial", serial=issued.serial),
        verify_line=_.plain("certificate.verify_line", bot=me.username or "", code=code)
        if not settings.public_url
        else _.plain(
            "certificate.verify_line_url",
            url=verify_url(settings.public_url, issued.code),
            bot=me.username or "",
            code=code,
        ),
    )
    png = render_certificate(text)
    await bot.send_document(
        chat_id,
        BufferedInputFile(png, filename=f"certificate-{issued.serial}.png"),
        caption=_(
            "certificate.caption",
            campaign=campaign.name,
            title=_.plain(f"certificate.title_{band}"),
            serial=issued.serial,
            code=code,
        ),
    )


async def verify(
    message: Message,
    command: CommandObject,
    permissions: Permissions,
    uow: UnitOfWork,
    settings: Settings,
    _: Gettext,
) -> None:
    """``/verify CODE``: whether a certificate is genuine, and what it says."""
    verification = await verify_certificate(uow, command.args or "", viewer=permissions)
    if verification is None:
        await message.answer(_("certificate.verify_usage"))
        return
    if verification.found is None:
        await message.answer(_("certificate.verify_unknown", code=grouped(verification.code)))
        return
    text = describe(verification.found, _, settings.zone, real_name=verification.shows_real_name)
    await message.answer(html.escape(text, quote=False))


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(list_certificates, Command("certificate"))
    router.message.register(forget_name, Command("forgetname"))
    router.message.register(verify, Command("verify"))
    router.message.register(confirm_consent, Command("consent"), F.chat.type == "private")
    router.callback_query.register(want_certificate, CertificateCb.filter())
    router.callback_query.register(answer_age, AgeCb.filter())
    router.callback_query.register(certificate_with_display_name, DisplayNameCb.filter())
    router.message.register(
        give_real_name, StateFilter(Certifying.real_name), F.text, ~F.text.startswith("/")
    )
    return router
