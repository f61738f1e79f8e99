"""What the step-by-step dialogues (/post, /newcampaign, /newlecture) share."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import InlineKeyboardMarkup, Message

# Shows one step of a dialogue: its text and, optionally, its buttons.
Say = Callable[[str, InlineKeyboardMarkup | None], Awaitable[object]]


def replier(bot: Bot, chat_id: int, message: Message | None) -> Say:
    """Show the next step in place of the message whose button was pressed (Telegram
    allows about one new message per second in a chat), or as a new one."""

    async def say(text: str, markup: InlineKeyboardMarkup | None = None) -> object:
        if message is not None:
            try:
                return await message.edit_text(text, reply_markup=markup)
            except TelegramBadRequest as error:
                if "not modified" in error.message:
                    return None
        return await bot.send_message(chat_id, text, reply_markup=markup)

    return say
