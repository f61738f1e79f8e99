"""Callback data factories (ids only, short prefixes) and the keyboards built on them."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import SUPPORTED_LOCALES, Gettext
from quizzes.participants import Role
from quizzes.units import Unit


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
