"""Certificates: a PNG for each passed attempt, with the real name asked once with consent."""

from __future__ import annotations

from datetime import UTC, datetime

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.certificates import CertificateText, render_certificate
from bot.config import Settings
from bot.i18n import Gettext
from quizzes.engine import Outcome
from quizzes.participants import Participant, clean_display_name
from storage.repositories import Repositories


class CertificateCb(CallbackData, prefix="ct"):
    attempt: int


class Certifying(StatesGroup):
    real_name = State()


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
    attempt = await repo.attempts.get(callback_data.attempt)
    if attempt is None or attempt.participant_id != participant.id or not attempt.passed:
        await callback.answer(_.plain("errors.stale_button"))
        return
    await callback.answer()
    real_name = await repo.certificate_names.get(participant.id)
    if real_name is None:
        await state.set_state(Certifying.real_name)
        await state.update_data(attempt=attempt.id)
        await bot.send_message(callback.from_user.id, _("certificate.ask_name"))
        return
    await send_certificate(bot, callback.from_user.id, attempt.id, real_name, repo, settings, _)


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
    percent = Outcome(attempt.points, attempt.question_count, campaign.rules.pass_mark).percent
    day = attempt.finished_at.astimezone(settings.zone).date()
    text = CertificateText(
        title=_.plain("certificate.title"),
        name_line=_.plain("certificate.name_line", name=real_name),
        body=_.plain("certificate.body", campaign=campaign.name, percent=f"{percent:.0f}"),
        issuer=_.plain("certificate.issuer"),
        date_line=_.plain("certificate.date", year=day.year, month=day.month, day=day.day),
    )
    png = render_certificate(text)
    await bot.send_document(
        chat_id,
        BufferedInputFile(png, filename=f"certificate-{attempt.id}.png"),
        caption=_("certificate.caption", campaign=campaign.name),
    )


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(list_certificates, Command("certificate"))
    router.message.register(forget_name, Command("forgetname"))
    router.callback_query.register(want_certificate, CertificateCb.filter())
    router.message.register(
        give_real_name, StateFilter(Certifying.real_name), F.text, ~F.text.startswith("/")
    )
    return router
