"""What the step-by-step dialogues (/post, /newcampaign, /newlecture, /activity) share:
their typed state, showing the next step, a way back from every step (a 返回 button) and
one way out of every one of them (``/cancel`` or a 取消 button)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Self

from aiogram import Bot, F, Router
from aiogram.dispatcher.event.handler import CallableObject
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from pydantic import BaseModel

from bot.i18n import Gettext

# Shows one step of a dialogue: its text and, optionally, its buttons.
Say = Callable[[str, InlineKeyboardMarkup | None], Awaitable[object]]

# What leaving a dialogue says, by its state group (a dialogue not named here gets the
# general "left" message).
_LEFT: dict[str, str] = {}


def on_leaving(group: type[StatesGroup], key: str) -> None:
    """Say the catalog message ``key`` when someone leaves the dialogue ``group``."""
    _LEFT[group.__full_group_name__] = key


class LeaveCb(CallbackData, prefix="dq"):
    """The 取消 button of any dialogue's step."""


def leave_button(_: Gettext) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=_.plain("dialogue.cancel"), callback_data=LeaveCb().pack())


class DialogueState(BaseModel):
    """A dialogue's answers so far: a typed model kept in the FSM data under ``key``
    (plain JSON there, so any FSM storage, Redis included, keeps it)."""

    key: ClassVar[str]

    @classmethod
    async def load(cls, state: FSMContext) -> Self:
        return cls.model_validate((await state.get_data()).get(cls.key) or {})

    async def save(self, state: FSMContext) -> None:
        await state.update_data({self.key: self.model_dump(mode="json")})


# ---------------------------------------------------------------------- back


class StepBackCb(CallbackData, prefix="db"):
    """The 返回 button of a dialogue's step: the step before it, asked again."""


# Shows a step again: an aiogram-style function that takes ``say`` and, by parameter
# name, whatever else a handler may take (``state``, ``uow``, ``_``...).
Asker = Callable[..., Awaitable[object]]

# Where the 返回 button of a step leads: the step before it and how to ask it.
_BACK: dict[str, tuple[State, Asker]] = {}


def on_back(step: State, previous: State, ask: Asker) -> None:
    """The 返回 button of ``step`` goes to ``previous``, asked again by ``ask``."""
    assert step.state is not None
    _BACK[step.state] = (previous, ask)


def back_button(_: Gettext) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=_.plain("common.back"), callback_data=StepBackCb().pack())


def step_keyboard(_: Gettext, *, back: bool = True) -> InlineKeyboardMarkup:
    """Under a step that asks for text: 返回 (but on a first step) and 取消."""
    return InlineKeyboardMarkup(
        inline_keyboard=[[*([back_button(_)] if back else []), leave_button(_)]]
    )


async def go_back(
    callback: CallbackQuery, state: FSMContext, bot: Bot, _: Gettext, **data: Any
) -> None:
    target = _BACK.get(await state.get_state() or "")
    if target is None:
        await callback.answer(_.plain("errors.stale_button"))
        return
    previous, ask = target
    await callback.answer()
    await state.set_state(previous)
    message = callback.message if isinstance(callback.message, Message) else None
    say = replier(bot, callback.from_user.id, message)
    await CallableObject(ask).call(say=say, state=state, bot=bot, _=_, **data)


def replier(bot: Bot, chat_id: int, message: Message | None) -> Say:
    """Show the next step in place of the message whose button was pressed (Telegram
    allows about one new message per second in a chat), or as a new one."""

    async def say(text: str, markup: InlineKeyboardMarkup | None = None) -> object:
        if message is not None:
            try:
                return await message.edit_text(text, reply_markup=markup)
            except TelegramBadRequest as error:
                if "not modified" in error.message:
                    return None
        return await bot.send_message(chat_id, text, reply_markup=markup)

    return say


async def leave(state: FSMContext, _: Gettext) -> str:
    """End whatever dialogue is open; what to tell the person."""
    current = await state.get_state()
    if current is None:
        return _("dialogue.nothing_to_cancel")
    await state.clear()
    return _(_LEFT.get(current.split(":", 1)[0], "dialogue.left"))


async def leave_by_command(message: Message, state: FSMContext, _: Gettext) -> None:
    await message.answer(await leave(state, _))


async def leave_by_button(
    callback: CallbackQuery, state: FSMContext, bot: Bot, _: Gettext
) -> None:
    if await state.get_state() is None:
        await callback.answer(_.plain("errors.stale_button"))
        return
    text = await leave(state, _)
    await callback.answer()
    message = callback.message if isinstance(callback.message, Message) else None
    await replier(bot, callback.from_user.id, message)(text, None)


async def not_this_step(message: Message, _: Gettext) -> None:
    """Something a dialogue's step does not take (a file, a sticker, a photo where text
    is asked for...): say so, and how to leave, rather than "not understood"."""
    key = "dialogue.no_file_here" if message.document else "dialogue.not_this_step"
    await message.answer(_(key))


def create_router() -> Router:
    """Early in the order: ``/cancel`` wins over any dialogue's own handlers."""
    router = Router(name=__name__)
    router.message.register(leave_by_command, Command("cancel"))
    router.callback_query.register(leave_by_button, LeaveCb.filter())
    router.callback_query.register(go_back, StepBackCb.filter())
    return router


def register_fallback(router: Router) -> None:
    """Late in the order (the fallback router): what no step of an open dialogue took."""
    router.message.register(
        not_this_step, ~StateFilter(None), F.chat.type == "private", ~F.text.startswith("/")
    )
