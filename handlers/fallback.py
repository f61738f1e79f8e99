"""Last router: anything nobody else handled gets a short, helpful answer."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message

from bot.i18n import Gettext
from handlers.dialogue import register_fallback


async def unknown_command(message: Message, _: Gettext) -> None:
    await message.answer(_("errors.unknown_command"))


async def free_text(message: Message, _: Gettext) -> None:
    await message.answer(_("errors.not_understood"))


async def stale_button(callback: CallbackQuery, _: Gettext) -> None:
    await callback.answer(_("errors.stale_button"))


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(unknown_command, F.chat.type == "private", F.text.startswith("/"))
    register_fallback(router)
    router.message.register(free_text, F.chat.type == "private")
    router.callback_query.register(stale_button)
    return router
