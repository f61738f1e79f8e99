"""``/link CODE``: someone who also answers on the participant pages links the two doors
with their recovery code, so that they count once; in a private chat only."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.application import Clock, UnitOfWork
from bot.application.web_participants import (
    LinkRefusal,
    OtherUnit,
    link,
    participant_key,
)
from bot.config import Settings
from bot.i18n import Gettext
from bot.recent_tries import RECOVERY_TRIES, RecentTries, Tries
from quizzes.participants import Participant


def create_router() -> Router:
    router = Router(name="link")
    own_tries = Tries(RECOVERY_TRIES)  # for a Dispatcher that brings none

    @router.message(Command("link"), F.chat.type == "private")
    async def link_doors(
        message: Message,
        command: CommandObject,
        participant: Participant,
        uow: UnitOfWork,
        settings: Settings,
        clock: Clock,
        _: Gettext,
        recovery_tries: RecentTries | None = None,
    ) -> None:
        tries = recovery_tries or own_tries  # per person, as the pages count per address
        if command.args and not await tries.allow(f"person:{participant.id}"):
            await message.answer(_("link.too_many"))
            return
        linked = await link(
            uow,
            participant,
            command.args or "",
            key=participant_key(settings.token),
            now=clock(),
        )
        if isinstance(linked, LinkRefusal):
            await message.answer(_(f"link.{linked.value}"))
        elif isinstance(linked, OtherUnit):
            await message.answer(_("link.other_unit", unit=linked.unit_label))
        else:
            await message.answer(
                _(
                    "link.done",
                    attempts=linked.attempts,
                    reads=linked.reads,
                    check_ins=linked.check_ins,
                )
            )

    @router.message(Command("link"))
    async def link_elsewhere(message: Message, _: Gettext) -> None:
        await message.answer(_("link.private_only"))

    return router
