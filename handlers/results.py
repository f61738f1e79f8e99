"""Per-question statistics of a campaign (``/qstats``)."""

from __future__ import annotations

import re

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.application import UnitOfWork
from bot.application.results import (
    ResultsRefusal,
    may_read_question_figures,
    question_figures,
)
from bot.i18n import Gettext
from bot.message_parts import split_message
from quizzes.participants import Participant
from quizzes.permissions import Permissions

CAMPAIGN_NUMBER = re.compile(r"[0-9]+")


async def question_stats(
    message: Message,
    command: CommandObject,
    participant: Participant,
    permissions: Permissions,
    uow: UnitOfWork,
    _: Gettext,
) -> None:
    """``/qstats [campaign number]``: for teachers and staff, no personal data."""
    if not may_read_question_figures(permissions, participant.role):
        await message.answer(_("errors.teachers_only"))
        return
    args = (command.args or "").split()
    if len(args) > 1 or (args and not CAMPAIGN_NUMBER.fullmatch(args[0])):
        await message.answer(_("qstats.usage"))
        return
    number = args[0] if args else None
    figures = await question_figures(uow, number, viewer=permissions, role=participant.role, _=_)
    if figures is ResultsRefusal.NOT_ALLOWED:
        await message.answer(_("errors.teachers_only"))
        return
    if figures is ResultsRefusal.NO_CAMPAIGN:
        await message.answer(_("shortlist.no_campaign"))
        return
    if isinstance(figures, ResultsRefusal):
        await message.answer(_("qstats.unknown", id=(number or "").lstrip("0") or "0"))
        return
    campaign = figures.campaign
    if not figures.lines:
        await message.answer(_("qstats.none", campaign=campaign.name))
        return
    for part in split_message([_("qstats.header", campaign=campaign.name), *figures.lines]):
        await message.answer(part)


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(question_stats, Command("qstats"))
    return router
