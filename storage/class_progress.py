"""Repository of a class's progress in a campaign and of the reminders sent to it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from quizzes.class_progress import AttemptLine, ClassReminder, Student
from quizzes.participants import Role
from storage.models import ParticipantRow
from storage.models_class_reminders import ClassReminderArticleRow, ClassReminderRow
from storage.models_quiz import AttemptRow
from storage.repositories import claim_once


def _reachable() -> Any:
    return and_(
        ParticipantRow.subscribed.is_(True),
        ParticipantRow.blocked_at.is_(None),
        ParticipantRow.telegram_id.is_not(None),
    )


def _students_of(class_id: int) -> Any:
    """Registered students of the class (as the report's ``registered`` counts them)."""
    return and_(
        ParticipantRow.unit_id == class_id,
        ParticipantRow.joined_at.is_not(None),
        ParticipantRow.role == Role.STUDENT.value,
    )


class ClassProgressRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def students(self, class_id: int) -> list[Student]:
        """The class's registered students, by display name."""
        rows = await self.session.execute(
            select(
                ParticipantRow.id,
                ParticipantRow.display_name,
                _reachable().label("reachable"),
            )
            .where(_students_of(class_id))
            .order_by(ParticipantRow.display_name, ParticipantRow.id)
        )
        return [Student(pid, name, bool(reachable)) for pid, name, reachable in rows]

    async def attempts(self, campaign_id: int, class_id: int) -> list[AttemptLine]:
        """Every attempt of the class's registered students in the campaign."""
        rows = await self.session.execute(
            select(
                AttemptRow.participant_id,
                AttemptRow.status,
                AttemptRow.points,
                AttemptRow.passed,
                AttemptRow.total_ms,
                AttemptRow.finished_at,
            )
            .join(ParticipantRow, ParticipantRow.id == AttemptRow.participant_id)
            .where(AttemptRow.campaign_id == campaign_id, _students_of(class_id))
        )
        return [
            AttemptLine(pid, status == "finished", points, bool(passed), total_ms, finished_at)
            for pid, status, points, passed, total_ms, finished_at in rows
        ]

    def unfinished(
        self, campaign_id: int, class_id: int, roles: tuple[Role, ...], locale: str | None
    ) -> Select[Any]:
        """The ids of the class's registered students (of ``roles`` when the campaign is
        for some roles only) a reminder reaches who have no finished attempt in the
        campaign; with ``locale``, those of them who speak it."""
        finished = select(AttemptRow.participant_id).where(
            AttemptRow.campaign_id == campaign_id, AttemptRow.status == "finished"
        )
        query = select(ParticipantRow.id).where(
            _students_of(class_id), _reachable(), ParticipantRow.id.not_in(finished)
        )
        if roles:
            query = query.where(ParticipantRow.role.in_([role.value for role in roles]))
        if locale is not None:
            query = query.where(ParticipantRow.locale == locale)
        return query

    async def unfinished_locales(
        self, campaign_id: int, class_id: int, roles: tuple[Role, ...]
    ) -> list[str]:
        chosen = self.unfinished(campaign_id, class_id, roles, None).subquery()
        rows = await self.session.scalars(
            select(ParticipantRow.locale)
            .where(ParticipantRow.id.in_(select(chosen.c.id)))
            .distinct()
            .order_by(ParticipantRow.locale)
        )
        return list(rows)

    # ------------------------------------------------------------------ reminders

    async def claim_reminder(
        self, campaign_id: int, class_id: int, day: date, sent_by: int, now: datetime
    ) -> int | None:
        """The new reminder's id, or None when the class had one for the campaign that day
        (another press got there first: the unique key decides, across processes)."""
        return await claim_once(
            self.session,
            ClassReminderRow,
            campaign_id=campaign_id,
            unit_id=class_id,
            day=day,
            sent_by=sent_by,
            sent_at=now,
            recipients=0,
        )

    async def record_sent(self, reminder_id: int, article_ids: list[int], recipients: int) -> None:
        for article_id in article_ids:
            self.session.add(
                ClassReminderArticleRow(article_id=article_id, reminder_id=reminder_id)
            )
        await self.session.execute(
            update(ClassReminderRow)
            .where(ClassReminderRow.id == reminder_id)
            .values(recipients=recipients)
        )
        await self.session.flush()

    async def reminder_on(
        self, campaign_id: int, class_id: int, day: date
    ) -> ClassReminder | None:
        row = (
            await self.session.execute(
                select(ClassReminderRow, ParticipantRow.display_name)
                .join(ParticipantRow, ParticipantRow.id == ClassReminderRow.sent_by)
                .where(
                    ClassReminderRow.campaign_id == campaign_id,
                    ClassReminderRow.unit_id == class_id,
                    ClassReminderRow.day == day,
                )
            )
        ).first()
        if row is None:
            return None
        reminder, name = row
        return ClassReminder(
            reminder.id,
            reminder.campaign_id,
            reminder.unit_id,
            reminder.day,
            reminder.sent_by,
            name,
            reminder.sent_at,
            reminder.recipients,
        )
