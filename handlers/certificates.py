"""Certificates: a PNG for each passed attempt, with the real name given with consent.

A student says first whether they are 14 or older. Under 14 (个人信息保护法 art. 31) the
real name needs a guardian's consent: the student gets a one-time code, and a teacher of
their class or a coordinator of their school, having checked with a parent, confirms it
with ``/consent CODE 姓名``; until then the certificate carries the display name. Teachers
and parents are adults and give their own name.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.certificates import CertificateText, render_certificate
from bot.config import Settings
from bot.i18n import Gettext, Translator
from bot.verification import describe, verify_url
from handlers.dialogue import on_leaving
from quizzes.certificates import band_for, grouped, normalize_verification_code
from quizzes.engine import Outcome
from quizzes.participants import Participant, Role, clean_display_name
from quizzes.permissions import Permissions
from quizzes.privacy import (
    CONSENT_CODE_VALID,
    may_confirm,
    needs_age_question,
    normalize_consent_code,
)
from quizzes.statistics import score_percent
from storage.repositories import Repositories


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
    message: Message, participant: Participant, repo: Repositories, _: Gettext
) -> None:
    passed = await repo.attempts.passed_for(participant.id)
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


async def _own_passed_attempt(
    repo: Repositories, participant: Participant, attempt_id: int
) -> bool:
    attempt = await repo.attempts.get(attempt_id)
    return bool(attempt and attempt.participant_id == participant.id and attempt.passed)


async def want_certificate(
    callback: CallbackQuery,
    callback_data: CertificateCb,
    participant: Participant,
    repo: Repositories,
    state: FSMContext,
    bot: Bot,
    settings: Settings,
    _: Gettext,
) -> None:
    if not await _own_passed_attempt(repo, participant, callback_data.attempt):
        await callback.answer(_.plain("errors.stale_button"))
        return
    await callback.answer()
    chat_id = callback.from_user.id
    real_name = await repo.certificate_names.get(participant.id)
    if real_name is not None:
        await send_certificate(bot, chat_id, callback_data.attempt, real_name, repo, settings, _)
        return
    if not needs_age_question(participant):
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
    repo: Repositories,
    state: FSMContext,
    bot: Bot,
    _: Gettext,
) -> None:
    if not await _own_passed_attempt(repo, participant, callback_data.attempt):
        await callback.answer(_.plain("errors.stale_button"))
        return
    chat_id = callback.from_user.id
    if not callback_data.under_14:
        await callback.answer()
        await _ask_real_name(bot, chat_id, callback_data.attempt, state, _)
        return
    code = await repo.certificate_names.consent_code(
        participant.id, callback_data.attempt, datetime.now(UTC)
    )
    await repo.commit()
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
            code=code,
            days=CONSENT_CODE_VALID.days,
            display=participant.display_name or "",
        ),
        reply_markup=builder.as_markup(),
    )


async def certificate_with_display_name(
    callback: CallbackQuery,
    callback_data: DisplayNameCb,
    participant: Participant,
    repo: Repositories,
    bot: Bot,
    settings: Settings,
    _: Gettext,
) -> None:
    if not participant.display_name or not await _own_passed_attempt(
        repo, participant, callback_data.attempt
    ):
        await callback.answer(_.plain("errors.stale_button"))
        return
    await callback.answer()
    await send_certificate(
        bot,
        callback.from_user.id,
        callback_data.attempt,
        participant.display_name,
        repo,
        settings,
        _,
    )


async def give_real_name(
    message: Message,
    participant: Participant,
    repo: Repositories,
    state: FSMContext,
    bot: Bot,
    settings: Settings,
    _: Gettext,
) -> None:
    assert message.text is not None
    name = clean_display_name(message.text)
    if name is None:
        await message.answer(_("certificate.bad_name"))
        return
    data = await state.get_data()
    await state.clear()
    await repo.certificate_names.set(participant.id, name, datetime.now(UTC))
    await repo.commit()
    await message.answer(_("certificate.name_saved", name=name))
    attempt_id = data.get("attempt")
    if isinstance(attempt_id, int):
        await send_certificate(bot, message.chat.id, attempt_id, name, repo, settings, _)


async def confirm_consent(
    message: Message,
    command: CommandObject,
    participant: Participant,
    permissions: Permissions,
    repo: Repositories,
    bot: Bot,
    settings: Settings,
    translator: Translator,
    _: Gettext,
) -> None:
    """``/consent CODE``: whose code it is; ``/consent CODE 姓名``: confirm the name."""
    code_text, _space, name_text = (command.args or "").strip().partition(" ")
    code = normalize_consent_code(code_text)
    if code is None:
        await message.answer(_("certificate.consent_usage"))
        return
    now = datetime.now(UTC)
    pending = await repo.certificate_names.pending(code, now)
    student = await repo.participants.by_id(pending.participant_id) if pending else None
    if pending is None or student is None:
        await message.answer(_("certificate.consent_unknown", code=code))
        return
    unit = await repo.units.get(student.unit_id) if student.unit_id is not None else None
    if not may_confirm(participant, permissions, student, unit):
        await message.answer(_("certificate.consent_not_yours"))
        return
    where = (await repo.units.label(unit)).text() if unit else ""
    display = student.display_name or ""
    if not name_text.strip():
        await message.answer(
            _("certificate.consent_whose", code=code, unit=where, display=display)
        )
        return
    name = clean_display_name(name_text)
    if name is None:
        await message.answer(_("certificate.bad_name"))
        return
    if not await repo.certificate_names.confirm(pending, name, participant.id, now):
        await message.answer(_("certificate.consent_unknown", code=code))
        return
    await repo.commit()
    await message.answer(_("certificate.consent_done", unit=where, display=display, name=name))
    theirs = translator.bind(student.locale)
    await bot.send_message(student.telegram_id, theirs("certificate.consent_confirmed", name=name))
    if pending.attempt_id is not None and await _own_passed_attempt(
        repo, student, pending.attempt_id
    ):
        await send_certificate(
            bot, student.telegram_id, pending.attempt_id, name, repo, settings, theirs
        )


async def forget_name(
    message: Message, participant: Participant, repo: Repositories, _: Gettext
) -> None:
    removed = await repo.certificate_names.delete(participant.id)
    await repo.commit()
    await message.answer(
        _("certificate.forgotten" if removed else "certificate.nothing_to_forget")
    )


async def send_certificate(
    bot: Bot,
    chat_id: int,
    attempt_id: int,
    real_name: str,
    repo: Repositories,
    settings: Settings,
    _: Gettext,
) -> None:
    attempt = await repo.attempts.get(attempt_id)
    assert attempt is not None and attempt.finished_at is not None
    campaign = await repo.campaigns.get(attempt.campaign_id)
    assert campaign is not None
    holder = await repo.participants.by_id(attempt.participant_id)
    percent = Outcome(attempt.points, attempt.question_count, campaign.rules.pass_mark).percent
    day = attempt.finished_at.astimezone(settings.zone).date()
    now = datetime.now(UTC)
    issued = await repo.certificate_names.issue(
        attempt.id, band_for(percent, campaign.rules), now.astimezone(settings.zone).year, now
    )
    await repo.commit()
    band = issued.band.value
    code = grouped(issued.code)
    me = await bot.me()
    # Students are 同学; teachers and parents are named without a title.
    student = holder is not None and holder.role is Role.STUDENT
    text = CertificateText(
        title=_.plain(f"certificate.title_{band}"),
        name_line=_.plain(
            "certificate.name_line" if student else "certificate.name_line_adult", name=real_name
        ),
        body=_.plain(
            f"certificate.body_{band}", campaign=campaign.name, percent=score_percent(percent)
        ),
        issuer=await _issuer(repo, settings),
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


async def _issuer(repo: Repositories, settings: Settings) -> str:
    """``PUFA_ISSUER``, else the top unit (the bureau), as it is named."""
    if settings.issuer and settings.issuer.strip():
        return settings.issuer.strip()
    roots = sorted(await repo.units.roots(), key=lambda unit: unit.id)
    return roots[0].name if roots else ""


async def verify(
    message: Message,
    command: CommandObject,
    permissions: Permissions,
    repo: Repositories,
    settings: Settings,
    _: Gettext,
) -> None:
    """``/verify CODE``: whether a certificate is genuine, and what it says."""
    code = normalize_verification_code(command.args or "")
    if code is None:
        await message.answer(_("certificate.verify_usage"))
        return
    found = await repo.certificate_names.verify(code)
    if found is None:
        await message.answer(_("certificate.verify_unknown", code=grouped(code)))
        return
    # The real name is personal data (often a minor's): only staff see it.
    text = describe(found, _, settings.zone, real_name=permissions.is_staff)
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
