"""The participant's own settings: /me, /language, /help, /stop, /subscribe."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.i18n import SUPPORTED_LOCALES, Gettext, Translator
from handlers.keyboards import (
    LocaleCb,
    ProfileCb,
    locale_keyboard,
    profile_keyboard,
    role_keyboard,
)
from handlers.start import Joining, ask_name, profile_text, show_level
from quizzes.participants import Participant
from quizzes.permissions import Permissions
from storage.repositories import Repositories


async def show_profile(
    message: Message, participant: Participant, repo: Repositories, _: Gettext
) -> None:
    await message.answer(
        await profile_text(participant, repo, _), reply_markup=profile_keyboard(_)
    )


async def edit_profile(
    callback: CallbackQuery,
    callback_data: ProfileCb,
    participant: Participant,
    repo: Repositories,
    state: FSMContext,
    bot: Bot,
    _: Gettext,
) -> None:
    chat_id = callback.from_user.id
    await callback.answer()
    if callback_data.field == "unit":
        await show_level(bot, chat_id, 0, repo, state, _)
    elif callback_data.field == "role":
        await state.set_state(Joining.role)
        await bot.send_message(chat_id, _("join.ask_role"), reply_markup=role_keyboard(_))
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
    repo: Repositories,
    translator: Translator,
) -> None:
    if callback_data.locale not in SUPPORTED_LOCALES:
        await callback.answer(translator.get(participant.locale, "errors.stale_button"))
        return
    await repo.participants.update(participant, locale=callback_data.locale)
    await repo.commit()
    _ = translator.bind(callback_data.locale)
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
    message: Message, participant: Participant, repo: Repositories, _: Gettext
) -> None:
    await repo.participants.update(participant, subscribed=False)
    await repo.commit()
    await message.answer(_("subscription.stopped"))


async def subscribe(
    message: Message, participant: Participant, repo: Repositories, _: Gettext
) -> None:
    await repo.participants.update(participant, subscribed=True)
    await repo.commit()
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
