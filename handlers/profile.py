"""The participant's own settings: /me, /language, /help, /stop, /subscribe."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.application import UnitOfWork, roster
from bot.application.roster import TOP
from bot.i18n import Gettext, Translator
from bot.views.registration import (
    LocaleCb,
    ProfileCb,
    locale_keyboard,
    profile_keyboard,
    profile_text,
)
from handlers.start import ask_name, ask_role, show_level
from quizzes.participants import Participant
from quizzes.permissions import Permissions


async def show_profile(
    message: Message, participant: Participant, uow: UnitOfWork, _: Gettext
) -> None:
    shown = await roster.profile(uow, participant)
    await message.answer(profile_text(shown, _), reply_markup=profile_keyboard(_))


async def edit_profile(
    callback: CallbackQuery,
    callback_data: ProfileCb,
    participant: Participant,
    uow: UnitOfWork,
    state: FSMContext,
    bot: Bot,
    _: Gettext,
) -> None:
    chat_id = callback.from_user.id
    await callback.answer()
    if callback_data.field == "unit":
        await show_level(bot, chat_id, TOP, uow, state, _)
    elif callback_data.field == "role":
        await ask_role(bot, chat_id, state, _)
    elif callback_data.field == "name":
        await ask_name(bot, chat_id, participant, callback.from_user, state, _)
    else:
        await bot.send_message(chat_id, _("errors.stale_button"))


async def choose_language(message: Message, _: Gettext) -> None:
    await message.answer(_("language.ask"), reply_markup=locale_keyboard(_))


async def set_language(
    callback: CallbackQuery,
    callback_data: LocaleCb,
    participant: Participant,
    uow: UnitOfWork,
    translator: Translator,
) -> None:
    changed = await roster.choose_language(uow, participant, callback_data.locale)
    if changed is None:
        await callback.answer(translator.get(participant.locale, "errors.stale_button"))
        return
    _ = translator.bind(changed.locale)
    await callback.answer()
    if isinstance(callback.message, Message):
        await callback.message.edit_text(_("language.set"))


async def show_help(
    message: Message, participant: Participant, permissions: Permissions, _: Gettext
) -> None:
    parts = [_("help.everyone")]
    if permissions.may_teach(participant.role):
        parts.append(_("help.teacher"))
    if permissions.is_coordinator or permissions.is_admin:
        parts.append(_("help.coordinator"))
    if permissions.is_admin:
        parts.append(_("help.admin"))
    await message.answer("\n\n".join(parts))


async def subscription_in_a_group(message: Message, _: Gettext) -> None:
    """/stop and /subscribe are a person's own setting: a group's command changes nothing."""
    await message.answer(_("subscription.private_only"))


async def unsubscribe(
    message: Message, participant: Participant, uow: UnitOfWork, _: Gettext
) -> None:
    await roster.set_subscription(uow, participant, subscribed=False)
    await message.answer(_("subscription.stopped"))


async def subscribe(
    message: Message, participant: Participant, uow: UnitOfWork, _: Gettext
) -> None:
    await roster.set_subscription(uow, participant, subscribed=True)
    await message.answer(_("subscription.started"))


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(show_profile, Command("me"))
    router.callback_query.register(edit_profile, ProfileCb.filter())
    router.message.register(choose_language, Command("language"))
    router.callback_query.register(set_language, LocaleCb.filter())
    router.message.register(show_help, Command("help"))
    private = F.chat.type == "private"
    router.message.register(unsubscribe, Command("stop"), private)
    router.message.register(subscribe, Command("subscribe"), private)
    router.message.register(subscription_in_a_group, Command("stop", "subscribe"))
    return router
