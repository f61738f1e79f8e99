"""Per-question statistics of a campaign (``/qstats``)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.i18n import Gettext
from bot.shortlists import question_lines
from quizzes.campaigns import Campaign
from quizzes.participants import Participant
from quizzes.permissions import Permissions
from storage.repositories import Repositories


async def latest_campaign(repo: Repositories, args: list[str]) -> Campaign | None:
    if args and args[0].isdigit():
        return await repo.campaigns.get(int(args[0]))
    campaigns = await repo.campaigns.all()
    return campaigns[-1] if campaigns else None


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
    campaign = await latest_campaign(repo, (command.args or "").split())
    if campaign is None:
        await message.answer(_("shortlist.no_campaign"))
        return
    lines = await question_lines(repo, campaign.id, _)
    header = _("campaign.stats.header", campaign=campaign.name)
    await message.answer("\n".join([header, *lines]) if lines else _("campaign.stats.none"))


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(question_stats, Command("qstats"))
    return router
