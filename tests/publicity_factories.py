"""Building publicity test data: many participants at once, articles, broadcasters."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from aiogram import Bot
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.broadcaster import Broadcaster
from bot.config import Settings
from bot.i18n import Translator
from bot.services import ServiceContext
from quizzes.publicity import Article, Audience
from storage.models import ParticipantRow
from storage.models_publicity import DeliveryRow
from storage.publicity import PublicityRepository


async def add_people(
    session_factory: async_sessionmaker[AsyncSession],
    telegram_ids: Sequence[int],
    unit_id: int | None,
    role: str = "student",
    *,
    joined: bool = True,
    subscribed: bool = True,
    blocked: bool = False,
    locale: str = "zh-CN",
) -> None:
    """Registered participants, inserted directly (thousands in one statement)."""
    now = datetime.now(UTC)
    rows = [
        {
            "telegram_id": telegram_id,
            "display_name": f"p{telegram_id}",
            "role": role,
            "unit_id": unit_id,
            "locale": locale,
            "subscribed": subscribed,
            "blocked_at": now if blocked else None,
            "first_seen_at": now,
            "joined_at": now if joined else None,
        }
        for telegram_id in telegram_ids
    ]
    async with session_factory() as session:
        for start in range(0, len(rows), 5000):
            await session.execute(insert(ParticipantRow), rows[start : start + 5000])
        await session.commit()


async def make_article(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    title: str = "宪法宣传周",
    body: str = "学习<b>宪法</b>，争做守法小公民。",
    audience: Audience | None = None,
    link: str | None = None,
    author_id: int = 1,
    photo_bytes: bytes | None = None,
    to_channel: bool = False,
) -> Article:
    async with session_factory() as session:
        repo = PublicityRepository(session)
        article = await repo.create_article(
            title=title,
            body=body,
            author_id=author_id,
            audience=audience,
            link=link,
            photo_bytes=photo_bytes,
            to_channel=to_channel,
        )
        await repo.commit()
    return article


def broadcaster_for(
    api_url: str,
    token: str,
    database_url: str,
    session_factory: async_sessionmaker[AsyncSession],
    *,
    channel: str | None = None,
    **options: object,
) -> Broadcaster:
    settings = Settings(
        bot_token=token,
        bot_api_url=api_url,
        database_url=database_url,
        publicity_channel=channel,
    )
    context = ServiceContext(settings, session_factory, Bot(token), Translator.load())
    return Broadcaster(context, **options)  # type: ignore[arg-type]


async def status_counts(
    session_factory: async_sessionmaker[AsyncSession], broadcast_id: int
) -> dict[str, int]:
    async with session_factory() as session:
        rows = await session.execute(
            select(DeliveryRow.status, func.count())
            .where(DeliveryRow.broadcast_id == broadcast_id)
            .group_by(DeliveryRow.status)
        )
        return {status: count for status, count in rows}
