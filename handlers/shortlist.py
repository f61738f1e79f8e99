"""The shortlist: ``/top`` ranks the best students of a campaign (text and XLSX); a
button under the list makes it a selection, which the report counts."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)

from bot.application import UnitOfWork
from bot.application.shortlists import (
    Confirmation,
    ShortlistRefusal,
    confirm_shown_list,
    may_rank,
    top_students,
)
from bot.config import Settings
from bot.i18n import Gettext
from quizzes.participants import Participant
from quizzes.permissions import Permissions
from quizzes.statistics import score_percent

TOP_DEFAULT = 9  # the bureau selected nine students for the corps-wide contest
TOP_MAX = 200


class ConfirmShortlistCb(CallbackData, prefix="slc"):
    """Make the list /top showed (kept under this id) a selection."""

    id: int


def top_arguments(args: str | None) -> tuple[int, int | None] | None:
    """``[N] [campaign id]`` as ``(N, campaign id or None)``; None when anything else is
    written (a word, a third number, N outside 1..TOP_MAX)."""
    parts = (args or "").split()
    if len(parts) > 2 or not all(p.isascii() and p.isdigit() for p in parts):
        return None
    top_n = int(parts[0]) if parts else TOP_DEFAULT
    if not 1 <= top_n <= TOP_MAX:
        return None
    return top_n, int(parts[1]) if len(parts) == 2 else None


async def top(
    message: Message,
    command: CommandObject,
    participant: Participant,
    permissions: Permissions,
    uow: UnitOfWork,
    bot: Bot,
    settings: Settings,
    _: Gettext,
) -> None:
    """``/top [N] [campaign id]``: admins rank every school, coordinators their own.
    Looking is not selecting: the list is kept as shown, and counts once confirmed."""
    if not may_rank(permissions):
        await message.answer(_("errors.staff_only"))
        return
    arguments = top_arguments(command.args)
    if arguments is None:
        await message.answer(_("shortlist.usage", top=TOP_DEFAULT, most=TOP_MAX))
        return
    top_n, campaign_id = arguments
    drawn = await top_students(
        uow,
        top_n,
        campaign_id,
        viewer=permissions,
        drawn_by=participant.chat_id,
        settings=settings,
        _=_.plain,
    )
    if drawn is ShortlistRefusal.NOT_STAFF:
        await message.answer(_("errors.staff_only"))
        return
    if drawn is ShortlistRefusal.NO_CAMPAIGN:
        await message.answer(_("shortlist.no_campaign"))
        return
    if isinstance(drawn, ShortlistRefusal):
        await message.answer(_("shortlist.unknown_campaign", id=campaign_id))
        return
    campaign, scope, result = drawn.campaign, drawn.scope, drawn.result
    if not result.lines or result.shortlist_id is None:
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
            percent=score_percent(line.percent),
            seconds=f"{line.total_ms / 1000:.0f}",
        )
        + (_("shortlist.flagged", count=line.flagged) if line.flagged else "")
        for line in result.lines
    ]
    confirm = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_.plain("shortlist.confirm_button", count=len(result.lines)),
                    callback_data=ConfirmShortlistCb(id=result.shortlist_id).pack(),
                )
            ]
        ]
    )
    await message.answer("\n".join(lines), reply_markup=confirm)
    await bot.send_document(
        message.chat.id,
        BufferedInputFile(
            result.xlsx, filename=f"shortlist-{campaign.id}-{result.shortlist_id}.xlsx"
        ),
        caption=_("shortlist.viewed", id=result.shortlist_id),
    )


async def confirm_selection(
    callback: CallbackQuery,
    callback_data: ConfirmShortlistCb,
    participant: Participant,
    permissions: Permissions,
    uow: UnitOfWork,
    _: Gettext,
) -> None:
    """The button under /top's list: checked against the presser's rights and against
    the ranking as it is now."""
    outcome, kept = await confirm_shown_list(
        uow, callback_data.id, viewer=permissions, confirmed_by=participant.chat_id
    )
    message = callback.message if isinstance(callback.message, Message) else None
    if outcome is not Confirmation.CONFIRMED or kept is None:
        await callback.answer(_.plain(f"shortlist.confirm.{outcome.value}"), show_alert=True)
        if outcome is Confirmation.ALREADY and message is not None:
            await message.edit_reply_markup(reply_markup=None)
        return
    await callback.answer()
    if message is not None:
        await message.edit_reply_markup(reply_markup=None)
        await message.answer(
            _("shortlist.confirm.confirmed", id=kept.id, count=len(kept.participant_ids))
        )


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(top, Command("top"))
    router.callback_query.register(confirm_selection, ConfirmShortlistCb.filter())
    return router
