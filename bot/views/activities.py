"""What the chat shows of offline activities: the /activity dialogue's buttons and
summary, and the bureau's review list."""

from __future__ import annotations

from datetime import date, timedelta

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import Gettext
from quizzes.activities import Activity, Headcount
from quizzes.activity_kinds import RECORDED_BY_HAND, kind_named
from quizzes.themes import Theme

__all__ = [
    "ActivityCb",
    "ReviewCb",
    "activity_line",
    "confirm_keyboard",
    "days_keyboard",
    "kinds_keyboard",
    "photos_keyboard",
    "review_keyboard",
    "summary",
    "units_keyboard",
]


class ActivityCb(CallbackData, prefix="av"):
    """A button of /activity: ``action`` (kind, unit, day, photos_done, save) and the
    value chosen (a kind's code, a unit id, a day); its themes are
    :class:`bot.views.themes.ThemeCb`."""

    action: str
    value: str = ""


class ReviewCb(CallbackData, prefix="ar"):
    """The bureau confirms (or rejects) activity ``activity_id``."""

    activity_id: int
    confirm: bool


def _button(text: str, action: str, value: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=text, callback_data=ActivityCb(action=action, value=value).pack()
    )


def kinds_keyboard(_: Gettext, *bottom: InlineKeyboardButton) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for kind in RECORDED_BY_HAND:
        builder.add(_button(_.plain(f"activity.kind.{kind.code}"), "kind", kind.code))
    builder.adjust(2)
    builder.row(*bottom)
    return builder.as_markup()


def units_keyboard(
    units: tuple[tuple[int, str], ...], *bottom: InlineKeyboardButton
) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for unit_id, label in units:
        builder.row(_button(label, "unit", str(unit_id)))
    builder.row(*bottom)
    return builder.as_markup()


def days_keyboard(today: date, _: Gettext, *bottom: InlineKeyboardButton) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.row(
        _button(_.plain("activity.chat.today"), "day", today.isoformat()),
        _button(_.plain("activity.chat.yesterday"), "day", (today - timedelta(1)).isoformat()),
    )
    builder.row(*bottom)
    return builder.as_markup()


def photos_keyboard(have: int, _: Gettext, *bottom: InlineKeyboardButton) -> InlineKeyboardMarkup:
    key = "activity.chat.photos_done" if have else "activity.chat.no_photos"
    return InlineKeyboardMarkup(
        inline_keyboard=[[_button(_.plain(key), "photos_done")], [*bottom]]
    )


def confirm_keyboard(_: Gettext, *bottom: InlineKeyboardButton) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[_button(_.plain("activity.chat.save"), "save")], [*bottom]]
    )


def review_keyboard(activity_id: int, _: Gettext) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_.plain("activity.review.confirm"),
                    callback_data=ReviewCb(activity_id=activity_id, confirm=True).pack(),
                ),
                InlineKeyboardButton(
                    text=_.plain("activity.review.reject"),
                    callback_data=ReviewCb(activity_id=activity_id, confirm=False).pack(),
                ),
            ]
        ]
    )


def summary(
    _: Gettext,
    *,
    kind: str,
    unit_label: str,
    day: date,
    title: str,
    theme: Theme,
    headcount: Headcount,
    speaker: str,
    organisation: str,
    photos: int,
) -> str:
    lines = [
        _("activity.chat.summary_kind", kind=_.plain(f"activity.kind.{kind}")),
        _("activity.chat.summary_unit", unit=unit_label),
        _("activity.chat.summary_day", day=day.isoformat()),
        _("activity.chat.summary_title", title=title),
        _("activity.chat.summary_theme", theme=_.plain(f"activity.theme.{theme.value}")),
        _(
            "activity.chat.summary_counts",
            students=headcount.students,
            teachers=headcount.teachers,
            parents=headcount.parents,
        ),
    ]
    if speaker:
        lines.append(
            _("activity.chat.summary_speaker", speaker=speaker, organisation=organisation)
        )
    lines.append(_("activity.chat.summary_photos", count=photos))
    return "\n".join(lines)


def activity_line(activity: Activity, unit_label: str, _: Gettext) -> str:
    """One entry of a list: number, day, unit, kind, title, people, status."""
    return _(
        "activity.chat.line",
        id=activity.id,
        day=activity.held_on.isoformat(),
        unit=unit_label,
        kind=_.plain(f"activity.kind.{kind_named(activity.kind).code}"),
        title=activity.title,
        people=activity.headcount.total,
        status=_.plain(f"activity.status.{activity.status.value}"),
    )
