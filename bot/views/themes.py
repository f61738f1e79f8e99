"""The theme buttons every dialogue shares (/post, /newcampaign, /activity): what the
article, campaign or event is about, the usual one marked."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import Gettext
from quizzes.themes import Theme

__all__ = ["ThemeCb", "themes_keyboard"]


class ThemeCb(CallbackData, prefix="th"):
    """A theme chosen (its code)."""

    theme: str


def themes_keyboard(
    usual: Theme | None, _: Gettext, *bottom: InlineKeyboardButton
) -> InlineKeyboardMarkup:
    """Every theme, two a row, ``usual`` marked (常用); then ``bottom`` (返回, 取消)."""
    builder = InlineKeyboardBuilder()
    for theme in Theme:
        text = _.plain(f"activity.theme.{theme.value}")
        if theme is usual:
            text = _.plain("activity.chat.usual", theme=text)
        builder.button(text=text, callback_data=ThemeCb(theme=theme.value))
    builder.adjust(2)
    builder.row(*bottom)
    return builder.as_markup()
