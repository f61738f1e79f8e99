"""/forgetme: a person erases what the bot keeps about them, after a confirmation."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.application import Clock, UnitOfWork, privacy
from bot.i18n import Gettext
from quizzes.participants import Participant


class ForgetMeCb(CallbackData, prefix="fme"):
    erase: bool


async def ask_forget_me(message: Message, _: Gettext) -> None:
    builder = InlineKeyboardBuilder()
    builder.button(text=_.plain("privacy.erase"), callback_data=ForgetMeCb(erase=True))
    builder.button(text=_.plain("privacy.keep"), callback_data=ForgetMeCb(erase=False))
    builder.adjust(1)
    await message.answer(_("privacy.ask"), reply_markup=builder.as_markup())


async def forget_me(
    callback: CallbackQuery,
    participant: Participant,
    uow: UnitOfWork,
    clock: Clock,
    state: FSMContext,
    _: Gettext,
) -> None:
    await privacy.forget(uow, participant, now=clock())
    # A dialogue left open would otherwise carry what was typed into it.
    await state.clear()
    await callback.answer()
    if isinstance(callback.message, Message):
        await callback.message.edit_text(_("privacy.erased"))


async def keep_me(callback: CallbackQuery, _: Gettext) -> None:
    await callback.answer()
    if isinstance(callback.message, Message):
        await callback.message.edit_text(_("privacy.kept"))


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(ask_forget_me, Command("forgetme"), F.chat.type == "private")
    router.callback_query.register(forget_me, ForgetMeCb.filter(F.erase))
    router.callback_query.register(keep_me, ForgetMeCb.filter(~F.erase))
    return router
