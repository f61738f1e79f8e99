"""``/web``: a one-time login link to the staff dashboard, in a private chat only."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import Message

from bot.application import Clock, UnitOfWork
from bot.application.dashboard import LinkRefusal, login_key, login_link
from bot.config import Settings
from bot.i18n import Gettext
from quizzes.participants import Participant


def create_router() -> Router:
    router = Router(name="web")

    @router.message(Command("web"), F.chat.type == "private")
    async def web_link(
        message: Message,
        participant: Participant,
        uow: UnitOfWork,
        settings: Settings,
        clock: Clock,
        _: Gettext,
    ) -> None:
        link = await login_link(
            uow,
            participant,
            admin_ids=settings.admin_ids,
            key=login_key(settings.token),
            base=f"{settings.link_base}{settings.admin_path}",
            now=clock(),
        )
        if isinstance(link, LinkRefusal):
            await message.answer(_("web.chat.not_staff"))
            return
        await message.answer(_("web.chat.link", link=link), disable_web_page_preview=True)

    @router.message(Command("web"))
    async def web_elsewhere(message: Message, _: Gettext) -> None:
        await message.answer(_("web.chat.private_only"))

    return router
