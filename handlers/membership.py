"""Blocking and unblocking: Telegram tells us with ``my_chat_member`` in the private chat."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import KICKED, MEMBER, ChatMemberUpdatedFilter
from aiogram.types import ChatMemberUpdated

from storage.models import utcnow
from storage.repositories import Repositories


async def blocked(event: ChatMemberUpdated, repo: Repositories) -> None:
    await repo.participants.set_blocked(event.from_user.id, utcnow())


async def unblocked(event: ChatMemberUpdated, repo: Repositories) -> None:
    await repo.participants.set_blocked(event.from_user.id, None)


def create_router() -> Router:
    router = Router(name=__name__)
    router.my_chat_member.filter(F.chat.type == "private")
    router.my_chat_member.register(blocked, ChatMemberUpdatedFilter(member_status_changed=KICKED))
    router.my_chat_member.register(
        unblocked, ChatMemberUpdatedFilter(member_status_changed=MEMBER)
    )
    return router
