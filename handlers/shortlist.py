"""The shortlist: ``/top`` ranks the best of a campaign, as text and XLSX."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, Message

from bot.config import Settings
from bot.i18n import Gettext
from bot.shortlists import shortlist_for
from handlers.results import latest_campaign
from quizzes.participants import Participant
from quizzes.permissions import Permissions
from storage.repositories import Repositories

TOP_DEFAULT = 9  # the bureau selected nine students for the corps-wide contest
TOP_MAX = 200


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
    campaign = await latest_campaign(repo, args)
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


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(top, Command("top"))
    return router
