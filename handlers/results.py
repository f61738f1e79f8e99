"""Per-question statistics of a campaign (``/qstats``)."""

from __future__ import annotations

import re

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.i18n import Gettext
from bot.message_parts import split_message
from bot.shortlists import question_lines
from quizzes.campaigns import Campaign
from quizzes.participants import Participant
from quizzes.permissions import Permissions
from storage.repositories import Repositories

CAMPAIGN_NUMBER = re.compile(r"[0-9]+")
LONGEST_NUMBER = 18  # digits: any longer is past every id (and BIGINT)


async def chosen_campaign(repo: Repositories, number: str | None) -> Campaign | None:
    """The campaign of this number (ASCII digits), else the latest one when no number is
    given; None when there is no such campaign. A number too long for an id is none."""
    if number is None:
        campaigns = await repo.campaigns.all()
        return campaigns[-1] if campaigns else None
    number = number.lstrip("0") or "0"
    return await repo.campaigns.get(int(number)) if len(number) <= LONGEST_NUMBER else None


async def question_stats(
    message: Message,
    command: CommandObject,
    participant: Participant,
    permissions: Permissions,
    repo: Repositories,
    _: Gettext,
) -> None:
    """``/qstats [campaign number]``: for teachers and staff, no personal data."""
    if not permissions.may_teach(participant.role):
        await message.answer(_("errors.teachers_only"))
        return
    args = (command.args or "").split()
    if len(args) > 1 or (args and not CAMPAIGN_NUMBER.fullmatch(args[0])):
        await message.answer(_("qstats.usage"))
        return
    number = args[0] if args else None
    campaign = await chosen_campaign(repo, number)
    if campaign is None:
        if number is None:
            await message.answer(_("shortlist.no_campaign"))
        else:
            await message.answer(_("qstats.unknown", id=number.lstrip("0") or "0"))
        return
    lines = await question_lines(repo, campaign.id, _)
    await repo.commit()  # end the reads: hold no connection while waiting to send
    if not lines:
        await message.answer(_("qstats.none", campaign=campaign.name))
        return
    for part in split_message([_("qstats.header", campaign=campaign.name), *lines]):
        await message.answer(part)


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(question_stats, Command("qstats"))
    return router
