"""Blocking and unblocking: Telegram tells us with ``my_chat_member`` in the private chat."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import KICKED, MEMBER, ChatMemberUpdatedFilter
from aiogram.types import ChatMemberUpdated

from bot.application import Clock, UnitOfWork, roster


async def blocked(event: ChatMemberUpdated, uow: UnitOfWork, clock: Clock) -> None:
    await roster.mark_blocked(uow, event.from_user.id, now=clock())


async def unblocked(event: ChatMemberUpdated, uow: UnitOfWork) -> None:
    await roster.mark_unblocked(uow, event.from_user.id)


def create_router() -> Router:
    router = Router(name=__name__)
    router.my_chat_member.filter(F.chat.type == "private")
    router.my_chat_member.register(blocked, ChatMemberUpdatedFilter(member_status_changed=KICKED))
    router.my_chat_member.register(
        unblocked, ChatMemberUpdatedFilter(member_status_changed=MEMBER)
    )
    return router
