"""Joining: ``/start <code>`` from a class invite link, or a walk down the unit tree."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import CommandObject, CommandStart, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message, User

from bot.application import Clock, UnitOfWork, roster
from bot.application.roster import TOP, UnitPickStatus
from bot.i18n import Gettext
from bot.views.registration import (
    NameCb,
    RoleCb,
    UnitCb,
    name_keyboard,
    profile_text,
    role_keyboard,
    unit_level_message,
)
from quizzes.participants import (
    MissingField,
    Participant,
    clean_display_name,
    missing_fields,
    name_looks_like_formula,
)
from quizzes.registration import JoinStatus


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
    uow: UnitOfWork,
    clock: Clock,
    state: FSMContext,
    bot: Bot,
    _: Gettext,
) -> None:
    joined = await roster.join_with_code(uow, participant, command.args or "", clock=clock)
    outcome = joined.outcome
    if outcome.status in (JoinStatus.UNKNOWN_CODE, JoinStatus.REVOKED_CODE):
        await message.answer(_(f"join.{outcome.status.value}"))
        await show_level(bot, message.chat.id, TOP, uow, state, _)
        return
    await message.answer(_(f"join.status.{outcome.status.value}", unit=joined.unit_label))
    assert message.from_user is not None
    await ask_next(
        bot,
        message.chat.id,
        outcome.participant,
        message.from_user,
        uow,
        state,
        _,
        updated=participant.registered,
    )


async def start_plain(
    message: Message,
    participant: Participant,
    uow: UnitOfWork,
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
    await ask_next(bot, message.chat.id, participant, message.from_user, uow, state, _)


async def ask_next(
    bot: Bot,
    chat_id: int,
    participant: Participant,
    user: User,
    uow: UnitOfWork,
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
        await show_level(bot, chat_id, TOP, uow, state, _)
    elif MissingField.ROLE in missing:
        await ask_role(bot, chat_id, state, _)
    elif MissingField.DISPLAY_NAME in missing:
        await ask_name(bot, chat_id, participant, user, state, _)
    else:
        await state.clear()
        shown = await roster.profile(uow, participant)
        await bot.send_message(chat_id, profile_text(shown, _, done=not updated, updated=updated))


async def ask_role(bot: Bot, chat_id: int, state: FSMContext, _: Gettext) -> None:
    await state.set_state(Joining.role)
    await bot.send_message(chat_id, _("join.ask_role"), reply_markup=role_keyboard(_))


async def ask_name(
    bot: Bot, chat_id: int, participant: Participant, user: User, state: FSMContext, _: Gettext
) -> None:
    """The name question, with an example that fits the person's role."""
    await state.set_state(Joining.name)
    key = f"join.ask_name_{participant.role.value}" if participant.role else "join.ask_name"
    await bot.send_message(chat_id, _(key), reply_markup=name_keyboard(telegram_name(user), _))


async def show_level(
    bot: Bot,
    chat_id: int,
    parent_id: int,
    uow: UnitOfWork,
    state: FSMContext,
    _: Gettext,
    *,
    edit: Message | None = None,
) -> None:
    """Show the children of ``parent_id`` (``TOP``: the top of the tree) as buttons."""
    await state.set_state(Joining.unit)
    text, markup = unit_level_message(await roster.unit_level(uow, parent_id), _)
    if edit is not None:
        await edit.edit_text(text, reply_markup=markup)
    else:
        await bot.send_message(chat_id, text, reply_markup=markup)


async def pick_unit(
    callback: CallbackQuery,
    callback_data: UnitCb,
    participant: Participant,
    uow: UnitOfWork,
    clock: Clock,
    state: FSMContext,
    bot: Bot,
    _: Gettext,
) -> None:
    message = callback.message if isinstance(callback.message, Message) else None
    chat_id = callback.from_user.id
    if callback_data.id == TOP:
        await callback.answer()
        await show_level(bot, chat_id, TOP, uow, state, _, edit=message)
        return
    was_registered = participant.registered
    picked = await roster.pick_unit(
        uow, participant, callback_data.id, final=callback_data.final, clock=clock
    )
    if picked.status is UnitPickStatus.STALE:
        await callback.answer(_("errors.stale_button"), show_alert=False)
        return
    assert picked.unit is not None
    if picked.status is UnitPickStatus.DESCEND:
        await callback.answer()
        await show_level(bot, chat_id, picked.unit.id, uow, state, _, edit=message)
        return
    if picked.status is UnitPickStatus.NOT_JOINABLE:
        await callback.answer(_("join.empty_unit", unit=picked.label), show_alert=True)
        return
    await callback.answer()
    if message is not None:
        await message.edit_text(_("join.unit_chosen", unit=picked.label))
    await ask_next(
        bot,
        chat_id,
        picked.participant,
        callback.from_user,
        uow,
        state,
        _,
        updated=was_registered,
    )


async def pick_role(
    callback: CallbackQuery,
    callback_data: RoleCb,
    participant: Participant,
    uow: UnitOfWork,
    clock: Clock,
    state: FSMContext,
    bot: Bot,
    _: Gettext,
) -> None:
    was_registered = participant.registered
    participant = await roster.choose_role(uow, participant, callback_data.role, clock=clock)
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
        uow,
        state,
        _,
        updated=was_registered,
    )


async def use_telegram_name(
    callback: CallbackQuery,
    participant: Participant,
    uow: UnitOfWork,
    clock: Clock,
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
    participant = await roster.set_display_name(uow, participant, name, clock=clock)
    await callback.answer()
    if isinstance(callback.message, Message):
        await callback.message.edit_reply_markup(reply_markup=None)
    await state.set_state(None)
    await ask_next(
        bot,
        callback.from_user.id,
        participant,
        callback.from_user,
        uow,
        state,
        _,
        updated=was_registered,
    )


def _bad_name_key(text: str) -> str:
    return "join.formula_name" if name_looks_like_formula(text) else "join.bad_name"


async def type_name(
    message: Message,
    participant: Participant,
    uow: UnitOfWork,
    clock: Clock,
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
    participant = await roster.set_display_name(uow, participant, name, clock=clock)
    await state.set_state(None)
    await ask_next(
        bot,
        message.chat.id,
        participant,
        message.from_user,
        uow,
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
