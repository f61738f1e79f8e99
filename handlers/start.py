"""Joining: ``/start <code>`` from a class invite link, or a walk down the unit tree."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import CommandObject, CommandStart, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message, User

from bot.i18n import Gettext
from handlers.keyboards import NameCb, RoleCb, UnitCb, name_keyboard, role_keyboard, unit_keyboard
from quizzes.participants import (
    MissingField,
    Participant,
    clean_display_name,
    missing_fields,
    name_looks_like_formula,
)
from quizzes.registration import JOINABLE_KINDS, JoinStatus, Registration
from quizzes.units import UnitKind
from storage.repositories import Repositories


class Joining(StatesGroup):
    unit = State()
    role = State()
    name = State()


def telegram_name(user: User) -> str:
    return (user.full_name or user.username or str(user.id))[:32]


async def start_with_code(
    message: Message,
    command: CommandObject,
    participant: Participant,
    registration: Registration,
    repo: Repositories,
    state: FSMContext,
    bot: Bot,
    _: Gettext,
) -> None:
    outcome = await registration.join_with_code(participant, command.args or "")
    await repo.commit()
    if outcome.status in (JoinStatus.UNKNOWN_CODE, JoinStatus.REVOKED_CODE):
        await message.answer(_(f"join.{outcome.status.value}"))
        await show_level(bot, message.chat.id, 0, repo, state, _)
        return
    assert outcome.unit is not None
    label = (await repo.units.label(outcome.unit)).text()
    await message.answer(_(f"join.status.{outcome.status.value}", unit=label))
    assert message.from_user is not None
    await ask_next(
        bot,
        message.chat.id,
        outcome.participant,
        message.from_user,
        repo,
        state,
        _,
        updated=participant.registered,
    )


async def start_plain(
    message: Message,
    participant: Participant,
    repo: Repositories,
    state: FSMContext,
    bot: Bot,
    _: Gettext,
) -> None:
    assert message.from_user is not None
    if participant.registered:
        await state.clear()
        await message.answer(_("start.welcome_back", name=participant.display_name or ""))
        return
    await message.answer(_("start.welcome"))
    await ask_next(bot, message.chat.id, participant, message.from_user, repo, state, _)


async def ask_next(
    bot: Bot,
    chat_id: int,
    participant: Participant,
    user: User,
    repo: Repositories,
    state: FSMContext,
    _: Gettext,
    *,
    updated: bool = False,
) -> None:
    """Ask for the first thing still missing, or say that registration is complete.

    ``updated``: the person was registered before this change (from /me, or a second
    invite link), so the answer is their updated profile, not a welcome.
    """
    missing = missing_fields(participant)
    if MissingField.UNIT in missing:
        await show_level(bot, chat_id, 0, repo, state, _)
    elif MissingField.ROLE in missing:
        await state.set_state(Joining.role)
        await bot.send_message(chat_id, _("join.ask_role"), reply_markup=role_keyboard(_))
    elif MissingField.DISPLAY_NAME in missing:
        await ask_name(bot, chat_id, participant, user, state, _)
    else:
        await state.clear()
        text = await profile_text(participant, repo, _, done=not updated, updated=updated)
        await bot.send_message(chat_id, text)


async def ask_name(
    bot: Bot, chat_id: int, participant: Participant, user: User, state: FSMContext, _: Gettext
) -> None:
    """The name question, with an example that fits the person's role."""
    await state.set_state(Joining.name)
    key = f"join.ask_name_{participant.role.value}" if participant.role else "join.ask_name"
    await bot.send_message(chat_id, _(key), reply_markup=name_keyboard(telegram_name(user), _))


async def profile_text(
    participant: Participant,
    repo: Repositories,
    _: Gettext,
    *,
    done: bool = False,
    updated: bool = False,
) -> str:
    unit = await repo.units.get(participant.unit_id) if participant.unit_id else None
    label = (await repo.units.label(unit)).text() if unit else _("profile.no_unit")
    role = _(f"role.{participant.role.value}") if participant.role else _("profile.no_role")
    key = "join.done" if done else "profile.updated" if updated else "profile.show"
    return _(
        key,
        name=participant.display_name or _("profile.no_name"),
        role=role,
        unit=label,
        language=_(f"language.name.{participant.locale}"),
        subscribed=_("profile.subscribed" if participant.subscribed else "profile.unsubscribed"),
    )


async def show_level(
    bot: Bot,
    chat_id: int,
    parent_id: int,
    repo: Repositories,
    state: FSMContext,
    _: Gettext,
    *,
    edit: Message | None = None,
) -> None:
    """Show the children of ``parent_id`` (0: the top of the tree) as buttons."""
    await state.set_state(Joining.unit)
    markup: InlineKeyboardMarkup | None
    if parent_id == 0:
        roots = await repo.units.roots()
        units = roots
        # The division is the only root in practice: start at its regiments.
        while len(units) == 1 and units[0].kind is UnitKind.DIVISION:
            units = await repo.units.children(units[0].id)
        text = _("join.ask_regiment") if units else _("join.no_units")
        markup = unit_keyboard(units, _) if units else None
    else:
        parent = await repo.units.get(parent_id)
        assert parent is not None
        units = await repo.units.children(parent.id)
        back = parent.parent_id or 0
        if parent.parent_id is not None:
            grand = await repo.units.get(parent.parent_id)
            back = 0 if grand is None or grand.kind is UnitKind.DIVISION else grand.id
        join_here = parent if parent.kind is UnitKind.SCHOOL else None
        key = "join.ask_class" if parent.kind is UnitKind.SCHOOL else "join.ask_school"
        text = _(key, unit=await repo.units.display_label(parent))
        markup = unit_keyboard(units, _, back_to=back, join_here=join_here)
    if edit is not None:
        await edit.edit_text(text, reply_markup=markup)
    else:
        await bot.send_message(chat_id, text, reply_markup=markup)


async def pick_unit(
    callback: CallbackQuery,
    callback_data: UnitCb,
    participant: Participant,
    registration: Registration,
    repo: Repositories,
    state: FSMContext,
    bot: Bot,
    _: Gettext,
) -> None:
    message = callback.message if isinstance(callback.message, Message) else None
    chat_id = callback.from_user.id
    if callback_data.id == 0:
        await callback.answer()
        await show_level(bot, chat_id, 0, repo, state, _, edit=message)
        return
    unit = await repo.units.get(callback_data.id)
    if unit is None or unit.retired:
        await callback.answer(_("errors.stale_button"), show_alert=False)
        return
    children = await repo.units.children(unit.id) if not callback_data.final else []
    if children:
        await callback.answer()
        await show_level(bot, chat_id, unit.id, repo, state, _, edit=message)
        return
    if unit.kind not in JOINABLE_KINDS:
        unit_name = await repo.units.display_label(unit)
        await callback.answer(_("join.empty_unit", unit=unit_name), show_alert=True)
        return
    was_registered = participant.registered
    participant = await registration.choose_unit(participant, unit)
    await repo.commit()
    await callback.answer()
    label = (await repo.units.label(unit)).text()
    if message is not None:
        await message.edit_text(_("join.unit_chosen", unit=label))
    await ask_next(
        bot, chat_id, participant, callback.from_user, repo, state, _, updated=was_registered
    )


async def pick_role(
    callback: CallbackQuery,
    callback_data: RoleCb,
    participant: Participant,
    registration: Registration,
    repo: Repositories,
    state: FSMContext,
    bot: Bot,
    _: Gettext,
) -> None:
    was_registered = participant.registered
    participant = await registration.choose_role(participant, callback_data.role)
    await repo.commit()
    await callback.answer()
    if isinstance(callback.message, Message):
        await callback.message.edit_text(
            _("join.role_chosen", role=_(f"role.{callback_data.role.value}"))
        )
    await state.set_state(None)
    await ask_next(
        bot,
        callback.from_user.id,
        participant,
        callback.from_user,
        repo,
        state,
        _,
        updated=was_registered,
    )


async def use_telegram_name(
    callback: CallbackQuery,
    participant: Participant,
    registration: Registration,
    repo: Repositories,
    state: FSMContext,
    bot: Bot,
    _: Gettext,
) -> None:
    shown = telegram_name(callback.from_user)
    name = clean_display_name(shown)
    if name is None:
        # A Telegram name that may not be a display name: ask for one typed instead.
        await callback.answer()
        await bot.send_message(callback.from_user.id, _(_bad_name_key(shown)))
        return
    was_registered = participant.registered
    participant = await registration.set_display_name(participant, name)
    await repo.commit()
    await callback.answer()
    if isinstance(callback.message, Message):
        await callback.message.edit_reply_markup(reply_markup=None)
    await state.set_state(None)
    await ask_next(
        bot,
        callback.from_user.id,
        participant,
        callback.from_user,
        repo,
        state,
        _,
        updated=was_registered,
    )


def _bad_name_key(text: str) -> str:
    return "join.formula_name" if name_looks_like_formula(text) else "join.bad_name"


async def type_name(
    message: Message,
    participant: Participant,
    registration: Registration,
    repo: Repositories,
    state: FSMContext,
    bot: Bot,
    _: Gettext,
) -> None:
    assert message.text is not None and message.from_user is not None
    name = clean_display_name(message.text)
    if name is None:
        await message.answer(_(_bad_name_key(message.text)))
        return
    was_registered = participant.registered
    participant = await registration.set_display_name(participant, name)
    await repo.commit()
    await state.set_state(None)
    await ask_next(
        bot,
        message.chat.id,
        participant,
        message.from_user,
        repo,
        state,
        _,
        updated=was_registered,
    )


async def expected_a_button(message: Message, _: Gettext) -> None:
    await message.answer(_("errors.use_buttons"))


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(start_with_code, CommandStart(deep_link=True))
    router.message.register(start_plain, CommandStart())
    router.callback_query.register(pick_unit, StateFilter(Joining.unit), UnitCb.filter())
    router.callback_query.register(pick_role, StateFilter(Joining.role), RoleCb.filter())
    router.callback_query.register(use_telegram_name, StateFilter(Joining.name), NameCb.filter())
    router.message.register(type_name, StateFilter(Joining.name), F.text, ~F.text.startswith("/"))
    router.message.register(expected_a_button, StateFilter(Joining.unit), ~F.text.startswith("/"))
    router.message.register(expected_a_button, StateFilter(Joining.role), ~F.text.startswith("/"))
    return router
