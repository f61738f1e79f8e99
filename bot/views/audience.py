"""What the audience picker shows: its buttons (one ``CallbackData`` class per action,
ids only) and its keyboards, shared by every dialogue that asks "for whom"."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.application.audience import Level, Scope
from bot.i18n import Gettext
from quizzes.participants import Role
from quizzes.units import Unit

__all__ = [
    "PER_PAGE",
    "ROLES",
    "BackCb",
    "DoneCb",
    "EveryoneCb",
    "LevelCb",
    "OpenCb",
    "OwnCb",
    "PageCb",
    "RoleCb",
    "UnitCb",
    "roles_keyboard",
    "top_keyboard",
    "units_keyboard",
]

ROLES = tuple(Role)
PER_PAGE = 20  # units on one page of a list (Telegram shows up to 100 buttons)


class EveryoneCb(CallbackData, prefix="pke"):
    """Everyone (the bureau's to address)."""


class LevelCb(CallbackData, prefix="pkl"):
    """Open a level of the first question: everyone, regiments, schools, classes."""

    level: str


class OwnCb(CallbackData, prefix="pko"):
    """The one unit that is all the presser's (their one school, their class)."""


class OpenCb(CallbackData, prefix="pks"):
    """Choosing classes: open this school's."""

    school: int


class UnitCb(CallbackData, prefix="pku"):
    """Tick (or, choosing one, choose) a unit."""

    unit: int


class RoleCb(CallbackData, prefix="pkr"):
    """Tick a role (its index in :data:`ROLES`)."""

    role: int


class PageCb(CallbackData, prefix="pkp"):
    page: int


class BackCb(CallbackData, prefix="pkb"):
    """One question back (from the first: the dialogue's step before)."""


class DoneCb(CallbackData, prefix="pkd"):
    """The units (or the roles) are chosen."""


def _row(builder: InlineKeyboardBuilder, *buttons: InlineKeyboardButton) -> None:
    builder.row(*buttons)


def _back(_: Gettext) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=_.plain("common.back"), callback_data=BackCb().pack())


def _done(_: Gettext) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=_.plain("audience.next"), callback_data=DoneCb().pack())


def top_keyboard(
    scope: Scope, _: Gettext, leave: InlineKeyboardButton, *, everyone: bool, back: bool
) -> InlineKeyboardMarkup:
    """Everyone (the bureau's, where the dialogue allows it), the presser's own unit
    whole, then a list per level; back (when there is a step before) and leave."""
    builder = InlineKeyboardBuilder()
    if everyone and scope.everyone:
        text = _.plain("audience.everyone")
        _row(builder, InlineKeyboardButton(text=text, callback_data=EveryoneCb().pack()))
    if scope.own is not None:
        text = _.plain("audience.whole_unit", unit=scope.own_label)
        _row(builder, InlineKeyboardButton(text=text, callback_data=OwnCb().pack()))
    for level in scope.levels:
        _row(builder, _level(level, f"audience.by_{level.value}", _))
    _row(builder, *([_back(_)] if back else []), leave)
    return builder.as_markup()


def _level(level: Level, key: str, _: Gettext) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=_.plain(key), callback_data=LevelCb(level=level).pack())


def units_keyboard(
    units: Sequence[Unit],
    chosen: Collection[int],
    _: Gettext,
    leave: InlineKeyboardButton,
    *,
    labels: Mapping[int, str],
    page: int = 0,
    schools: bool = False,
    many: bool = True,
) -> InlineKeyboardMarkup:
    """A page of units, two a row, ticked when chosen; with ``schools`` each opens its
    classes. Then more pages, back, next (choosing several) and leave."""
    builder = InlineKeyboardBuilder()
    shown = units[page * PER_PAGE : (page + 1) * PER_PAGE]
    for pair in range(0, len(shown), 2):
        buttons = []
        for unit in shown[pair : pair + 2]:
            text = labels.get(unit.id, unit.name)
            if unit.id in chosen:
                text = f"✅ {text}"
            data = OpenCb(school=unit.id) if schools else UnitCb(unit=unit.id)
            buttons.append(InlineKeyboardButton(text=text, callback_data=data.pack()))
        _row(builder, *buttons)
    if len(units) > PER_PAGE:
        pages = (len(units) - 1) // PER_PAGE + 1
        following = (page + 1) % pages
        text = _.plain("audience.more", page=following + 1, pages=pages)
        _row(builder, InlineKeyboardButton(text=text, callback_data=PageCb(page=following).pack()))
    bottom = [_back(_)]
    if many and not schools:
        bottom.append(_done(_))
    _row(builder, *bottom, leave)
    return builder.as_markup()


def roles_keyboard(
    chosen: Collection[Role], _: Gettext, leave: InlineKeyboardButton
) -> InlineKeyboardMarkup:
    """Tick roles (none ticked: every role), then back, next or leave."""
    builder = InlineKeyboardBuilder()
    for index, role in enumerate(ROLES):
        mark = "✅ " if role in chosen else ""
        builder.button(
            text=f"{mark}{_.plain(f'role.{role.value}')}", callback_data=RoleCb(role=index)
        )
    builder.adjust(3)
    _row(builder, _back(_), _done(_), leave)
    return builder.as_markup()
