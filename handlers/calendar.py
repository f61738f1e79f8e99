"""The buttons under a key-date reminder: start /post or /newcampaign with the day's
suggested title, which a tap on it copies."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.application import UnitOfWork
from bot.config import Settings
from bot.i18n import Gettext
from bot.views.calendar import CalendarCb
from handlers.campaign_setup import start_setup
from handlers.publicity import start_post
from quizzes.calendar import key_date
from quizzes.permissions import Permissions

__all__ = ["create_router"]


async def act_on_reminder(
    callback: CallbackQuery,
    callback_data: CalendarCb,
    permissions: Permissions,
    uow: UnitOfWork,
    state: FSMContext,
    settings: Settings,
    bot: Bot,
    _: Gettext,
) -> None:
    key = key_date(callback_data.code)
    message = callback.message
    if key is None or callback_data.action not in ("post", "campaign"):
        await callback.answer(_.plain("errors.stale_button"))
        return
    if not isinstance(message, Message) or not permissions.is_admin:
        await callback.answer(_.plain("calendar.admins_only"), show_alert=True)
        return
    await callback.answer()
    year = callback_data.year
    if callback_data.action == "post":
        title = _.plain(f"calendar.article.{key.code}", year=year)
        await message.answer(_("calendar.suggest_article", title=title))
        await start_post(message, state, bot, _, usual=key.theme)
    else:
        name = _.plain(f"calendar.campaign_name.{key.code}", year=year)
        await start_setup(message, permissions, uow, state, settings, bot, _, usual=key.theme)
        await message.answer(_("calendar.suggest_campaign", name=name))


def create_router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(act_on_reminder, CalendarCb.filter())
    return router
