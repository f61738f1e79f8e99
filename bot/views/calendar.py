"""The key-date reminder as staff see it: what is coming, and buttons to act on it."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import Gettext
from bot.reports import format as fmt
from quizzes.calendar import Reminder

__all__ = ["CalendarCb", "reminder_keyboard", "reminder_text"]


class CalendarCb(CallbackData, prefix="kd"):
    """``action`` (post, campaign) for key date ``code`` of ``year``."""

    action: str
    code: str
    year: int


def reminder_text(reminder: Reminder, _: Gettext) -> str:
    key = reminder.key_date
    return _(
        "calendar.reminder",
        days=(reminder.held_on - reminder.remind_at.date()).days,
        date=fmt.day(reminder.held_on, _.locale),
        name=_.plain(f"calendar.name.{key.code}"),
        theme=_.plain(f"activity.theme.{key.theme.value}"),
    )


def reminder_keyboard(reminder: Reminder, _: Gettext) -> InlineKeyboardMarkup:
    code, year = reminder.key_date.code, reminder.held_on.year
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_.plain("calendar.post"),
                    callback_data=CalendarCb(action="post", code=code, year=year).pack(),
                ),
                InlineKeyboardButton(
                    text=_.plain("calendar.campaign"),
                    callback_data=CalendarCb(action="campaign", code=code, year=year).pack(),
                ),
            ]
        ]
    )
