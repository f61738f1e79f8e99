"""After the quiz: certificates, the shortlist (/top) and per-question statistics (/qstats)."""

from __future__ import annotations

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
from bot.i18n import Gettext
from bot.shortlists import question_lines, shortlist_for
from quizzes.campaigns import Campaign
from quizzes.engine import Outcome
from quizzes.participants import Participant, clean_display_name
from quizzes.permissions import Permissions
from storage.repositories import Repositories

TOP_DEFAULT = 9  # the bureau selected nine students for the corps-wide contest
TOP_MAX = 200


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


async def _latest_campaign(repo: Repositories, args: list[str]) -> Campaign | None:
    if args and args[0].isdigit():
        return await repo.campaigns.get(int(args[0]))
    campaigns = await repo.campaigns.all()
    return campaigns[-1] if campaigns else None


async def top(
    message: Message,
    command: CommandObject,
    participant: Participant,
    permissions: Permissions,
    repo: Repositories,
    bot: Bot,
    settings: Settings,
    _: Gettext,
) -> None:
    """``/top [N] [campaign id]``: admins rank everyone, coordinators their own school."""
    if not permissions.is_staff:
        await message.answer(_("errors.staff_only"))
        return
    args = (command.args or "").split()
    top_n = TOP_DEFAULT
    if args and args[0].isdigit():
        top_n = max(1, min(TOP_MAX, int(args.pop(0))))
    campaign = await _latest_campaign(repo, args)
    if campaign is None:
        await message.answer(_("shortlist.no_campaign"))
        return
    scope = None
    if not permissions.is_admin:
        scope = await repo.units.get(sorted(permissions.coordinator_of)[0])
    result = await shortlist_for(
        repo, campaign, top_n, scope, participant.telegram_id, settings, _.plain
    )
    await repo.commit()
    if not result.lines:
        await message.answer(_("shortlist.empty", campaign=campaign.name))
        return
    lines = [
        _(
            "shortlist.header",
            campaign=campaign.name,
            top=top_n,
            scope=scope.name if scope else _.plain("shortlist.overall"),
        )
    ]
    lines += [
        _(
            "shortlist.line",
            rank=line.rank,
            name=line.name,
            school=line.school,
            percent=f"{line.percent:.0f}",
            seconds=f"{line.total_ms / 1000:.0f}",
        )
        + (_("shortlist.flagged", count=line.flagged) if line.flagged else "")
        for line in result.lines
    ]
    await message.answer("\n".join(lines))
    await bot.send_document(
        message.chat.id,
        BufferedInputFile(
            result.xlsx, filename=f"shortlist-{campaign.id}-{result.shortlist_id}.xlsx"
        ),
        caption=_("shortlist.recorded", id=result.shortlist_id),
    )


async def question_stats(
    message: Message,
    command: CommandObject,
    participant: Participant,
    permissions: Permissions,
    repo: Repositories,
    _: Gettext,
) -> None:
    """``/qstats [campaign id]``: for teachers and staff, no personal data."""
    if not permissions.may_teach(participant.role):
        await message.answer(_("errors.teachers_only"))
        return
    campaign = await _latest_campaign(repo, (command.args or "").split())
    if campaign is None:
        await message.answer(_("shortlist.no_campaign"))
        return
    lines = await question_lines(repo, campaign.id, _)
    header = _("campaign.stats.header", campaign=campaign.name)
    await message.answer("\n".join([header, *lines]) if lines else _("campaign.stats.none"))


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(list_certificates, Command("certificate"))
    router.message.register(forget_name, Command("forgetname"))
    router.callback_query.register(want_certificate, CertificateCb.filter())
    router.message.register(
        give_real_name, StateFilter(Certifying.real_name), F.text, ~F.text.startswith("/")
    )
    router.message.register(top, Command("top"))
    router.message.register(question_stats, Command("qstats"))
    return router
