"""Registration and the profile in chat: callback data (ids only, short prefixes), the
keyboards built on them, and the texts of the profile and of the walk down the unit tree.

Here rather than in the handlers because the simulated participants of the demo and the
benchmarks press the same buttons.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.application.roster import Profile, UnitLevel
from bot.i18n import SUPPORTED_LOCALES, Gettext
from quizzes.participants import Role
from quizzes.units import Unit, UnitKind


class UnitCb(CallbackData, prefix="u"):
    """Walk the unit tree: show the children of ``id`` (0 = top), or join it when ``final``."""

    id: int
    final: bool = False


class RoleCb(CallbackData, prefix="r"):
    role: Role


class NameCb(CallbackData, prefix="n"):
    """Use the name Telegram already knows."""


class LocaleCb(CallbackData, prefix="l"):
    locale: str


class ProfileCb(CallbackData, prefix="p"):
    field: str  # "unit" | "role" | "name"


def unit_keyboard(
    units: Sequence[Unit],
    _: Gettext,
    *,
    back_to: int | None = None,
    join_here: Unit | None = None,
) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for unit in units:
        builder.button(text=unit.name, callback_data=UnitCb(id=unit.id))
    builder.adjust(2)
    if join_here is not None:
        builder.row()
        builder.button(
            text=_("join.whole_school"), callback_data=UnitCb(id=join_here.id, final=True)
        )
    if back_to is not None:
        builder.row()
        builder.button(text=_("common.back"), callback_data=UnitCb(id=back_to))
    return builder.as_markup()


def role_keyboard(_: Gettext) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for role in Role:
        builder.button(text=_(f"role.{role.value}"), callback_data=RoleCb(role=role))
    builder.adjust(3)
    return builder.as_markup()


def name_keyboard(telegram_name: str, _: Gettext) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("join.use_telegram_name", name=telegram_name), callback_data=NameCb())
    return builder.as_markup()


def locale_keyboard(_: Gettext) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for locale in SUPPORTED_LOCALES:
        builder.button(text=_(f"language.name.{locale}"), callback_data=LocaleCb(locale=locale))
    return builder.as_markup()


def profile_keyboard(_: Gettext) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for field in ("name", "role", "unit"):
        builder.button(text=_(f"profile.edit.{field}"), callback_data=ProfileCb(field=field))
    builder.adjust(3)
    return builder.as_markup()


def profile_text(
    profile: Profile, _: Gettext, *, done: bool = False, updated: bool = False
) -> str:
    """/me's text; ``done``: registration just completed, ``updated``: a change to it."""
    participant = profile.participant
    role = _(f"role.{participant.role.value}") if participant.role else _("profile.no_role")
    key = "join.done" if done else "profile.updated" if updated else "profile.show"
    return _(
        key,
        name=participant.display_name or _("profile.no_name"),
        role=role,
        unit=_("profile.no_unit") if profile.unit_label is None else profile.unit_label,
        language=_(f"language.name.{participant.locale}"),
        subscribed=_("profile.subscribed" if participant.subscribed else "profile.unsubscribed"),
    )


def unit_level_message(level: UnitLevel, _: Gettext) -> tuple[str, InlineKeyboardMarkup | None]:
    """The question and the buttons of one level of the walk down the unit tree."""
    if level.parent is None:
        if not level.units:
            return _("join.no_units"), None
        return _("join.ask_regiment"), unit_keyboard(level.units, _)
    key = "join.ask_class" if level.parent.kind is UnitKind.SCHOOL else "join.ask_school"
    markup = unit_keyboard(level.units, _, back_to=level.back_to, join_here=level.join_here)
    return _(key, unit=level.parent_label), markup
