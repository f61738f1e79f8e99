"""The key-date reminder as staff see it: what is coming, buttons to act on it, and what
a button offers (an article or a campaign with the day's title and theme filled in)."""

from __future__ import annotations

from dataclasses import dataclass

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import Gettext
from bot.reports import format as fmt
from quizzes.calendar import Reminder, key_date
from quizzes.themes import Theme

__all__ = ["CalendarCb", "CalendarOffer", "offer_of", "reminder_keyboard", "reminder_text"]


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


@dataclass(frozen=True, slots=True)
class CalendarOffer:
    """What a reminder's button starts: ``post`` (an article titled ``title``) or
    ``campaign`` (named ``title``), either pre-filled with the key date's ``theme``."""

    action: str
    title: str
    theme: Theme


def offer_of(callback_data: CalendarCb, _: Gettext) -> CalendarOffer | None:
    """The article or campaign a pressed button offers; ``None`` for a date since removed
    from the calendar or an action it does not know."""
    key = key_date(callback_data.code)
    if key is None:
        return None
    year = callback_data.year
    if callback_data.action == "post":
        return CalendarOffer("post", _.plain(f"calendar.article.{key.code}", year=year), key.theme)
    if callback_data.action == "campaign":
        name = _.plain(f"calendar.campaign_name.{key.code}", year=year)
        return CalendarOffer("campaign", name, key.theme)
    return None
