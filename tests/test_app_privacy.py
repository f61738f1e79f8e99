"""Erasing a person on both databases: once, committed, and by Telegram id for the CLI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.application import UnitOfWork, privacy
from quizzes.participants import GrantKind
from storage.models import ParticipantRow

NOW = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)


@pytest.fixture
async def uow(session_factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[UnitOfWork]:
    async with session_factory() as session:
        yield UnitOfWork.over(session)


async def erased_at(
    session_factory: async_sessionmaker[AsyncSession], participant_id: int
) -> datetime | None:
    async with session_factory() as session:
        query = select(ParticipantRow.erased_at).where(ParticipantRow.id == participant_id)
        return await session.scalar(query)


async def test_forgetting_erases_once_and_commits(
    uow: UnitOfWork, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    person = await uow.participants.get_or_create(701, "zh-CN")
    await uow.grants.grant(person.id, GrantKind.ADMIN, None, granted_by=1)
    await uow.commit()

    first = await privacy.forget(uow, person, now=NOW)
    second = await privacy.forget(uow, person, now=NOW)

    assert first is not None and (first.telegram_id, first.grants) == (701, 1)
    assert second is None
    assert await erased_at(session_factory, person.id) == NOW
    assert await uow.participants.by_telegram_id(701) is None


async def test_forgetting_by_telegram_id_finds_only_someone_not_yet_erased(
    uow: UnitOfWork, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    person = await uow.participants.get_or_create(702, "zh-CN")
    await uow.commit()

    assert await privacy.forget_telegram_user(uow, 999, now=NOW) is None
    erased = await privacy.forget_telegram_user(uow, 702, now=NOW)
    again = await privacy.forget_telegram_user(uow, 702, now=NOW)

    assert erased is not None and erased.participant_id == person.id
    assert again is None
    assert await erased_at(session_factory, person.id) == NOW
