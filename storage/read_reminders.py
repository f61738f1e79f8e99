"""Repository of reminders to read an article: who it was delivered to and has not read
it, and the reminders sent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from quizzes.publicity import DeliveryStatus
from quizzes.read_reminders import ReadReminder
from storage.class_progress import _reachable
from storage.models import ParticipantRow, UnitRow
from storage.models_publicity import ArticleReadRow, BroadcastRow, DeliveryRow
from storage.models_read_reminders import ReadReminderRow
from storage.repositories import claim_once


class ReadReminderRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def unread(
        self, article_id: int, school_paths: Sequence[str] | None, locale: str | None
    ) -> Select[Any]:
        """The ids of the people the article was delivered to (status sent, no test
        sends) who have not read it and whom a message still reaches; with
        ``school_paths``, those of them in these schools (and their classes); with
        ``locale``, those who speak it."""
        delivered = (
            select(DeliveryRow.participant_id)
            .join(BroadcastRow, BroadcastRow.id == DeliveryRow.broadcast_id)
            .where(
                BroadcastRow.article_id == article_id,
                BroadcastRow.test_send.is_(False),
                DeliveryRow.status == DeliveryStatus.SENT.value,
            )
        )
        read = select(ArticleReadRow.participant_id).where(ArticleReadRow.article_id == article_id)
        query = select(ParticipantRow.id).where(
            ParticipantRow.id.in_(delivered), ParticipantRow.id.not_in(read), _reachable()
        )
        if school_paths is not None:
            within = select(UnitRow.id).where(
                or_(*(UnitRow.path.startswith(path, autoescape=True) for path in school_paths))
            )
            query = query.where(ParticipantRow.unit_id.in_(within))
        if locale is not None:
            query = query.where(ParticipantRow.locale == locale)
        return query

    async def unread_locales(
        self, article_id: int, school_paths: Sequence[str] | None
    ) -> dict[str, int]:
        """``{language: people}`` of those :meth:`unread` chooses."""
        chosen = self.unread(article_id, school_paths, None).subquery()
        rows = await self.session.execute(
            select(ParticipantRow.locale, func.count())
            .where(ParticipantRow.id.in_(select(chosen.c.id)))
            .group_by(ParticipantRow.locale)
            .order_by(ParticipantRow.locale)
        )
        return {locale: int(count) for locale, count in rows}

    async def claim(
        self, article_id: int, reach: str, day: date, sent_by: int, now: datetime
    ) -> int | None:
        """The new reminder's id, or None when the reach had one for the article that day
        (another press got there first: the unique key decides, across processes)."""
        return await claim_once(
            self.session,
            ReadReminderRow,
            article_id=article_id,
            reach=reach,
            day=day,
            sent_by=sent_by,
            sent_at=now,
            recipients=0,
        )

    async def record_sent(self, reminder_id: int, recipients: int) -> None:
        await self.session.execute(
            update(ReadReminderRow)
            .where(ReadReminderRow.id == reminder_id)
            .values(recipients=recipients)
        )

    async def reminder_on(self, article_id: int, reach: str, day: date) -> ReadReminder | None:
        row = (
            await self.session.execute(
                select(ReadReminderRow, ParticipantRow.display_name)
                .join(ParticipantRow, ParticipantRow.id == ReadReminderRow.sent_by)
                .where(
                    ReadReminderRow.article_id == article_id,
                    ReadReminderRow.reach == reach,
                    ReadReminderRow.day == day,
                )
            )
        ).first()
        if row is None:
            return None
        reminder, name = row
        return ReadReminder(
            reminder.id,
            reminder.article_id,
            reminder.reach,
            reminder.day,
            reminder.sent_by,
            name,
            reminder.sent_at,
            reminder.recipients,
        )
