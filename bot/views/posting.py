"""The /post dialogue's own buttons after the audience (the picker's are in
:mod:`bot.views.audience`): when to send, and the confirmation."""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import Gettext
from bot.views.publicity import PostCb

__all__ = ["confirm_keyboard", "when_keyboard"]


def _button(text: str, action: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=PostCb(action=action).pack())


def when_keyboard(
    _: Gettext, back: InlineKeyboardButton, leave: InlineKeyboardButton
) -> InlineKeyboardMarkup:
    """Send now (or type a time), back to the audience, leave."""
    return InlineKeyboardMarkup(
        inline_keyboard=[[_button(_.plain("publicity.compose.now"), "now")], [back, leave]]
    )


def confirm_keyboard(
    _: Gettext,
    back: InlineKeyboardButton,
    leave: InlineKeyboardButton,
    channel: bool | None = None,
) -> InlineKeyboardMarkup:
    """Send, the channel toggle (``channel`` None: no channel to offer), a test to
    oneself, then back to the time and leave."""
    rows = [[_button(_.plain("publicity.compose.confirm"), "go")]]
    if channel is not None:
        key = "publicity.compose.channel_on" if channel else "publicity.compose.channel_off"
        rows.append([_button(_.plain(key), "channel")])
    rows.append([_button(_.plain("publicity.compose.test"), "test")])
    rows.append([back, leave])
    return InlineKeyboardMarkup(inline_keyboard=rows)
