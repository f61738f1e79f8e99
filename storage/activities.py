"""Offline activities and 法治副校长 in the database."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from quizzes.activities import (
    Activity,
    ActivityDraft,
    ActivityStatus,
    ActivityTally,
    Headcount,
    ReportPhoto,
    Source,
)
from quizzes.activity_kinds import CHECKED_IN_CODES
from quizzes.participants import Role
from quizzes.statistics import Period
from quizzes.themes import Theme
from quizzes.units import Unit
from quizzes.vice_principals import VicePrincipal
from storage.models import ParticipantRow, UnitRow
from storage.models_activities import ActivityPhotoRow, ActivityRow, VicePrincipalRow
from storage.models_publicity import LectureCheckinRow, LectureRow
from storage.repositories import insert_ignoring_conflicts
from storage.scope import Query, Scope

__all__ = [
    "ActivityRepository",
    "VicePrincipalRepository",
    "activities_pending",
    "activity_tallies",
    "counted_checkins",
    "schools_with_vice_principal",
    "tally_rows",
]


def _activity(row: ActivityRow, photos: int = 0) -> Activity:
    return Activity(
        id=row.id,
        kind=row.kind,
        theme=Theme(row.theme),
        held_on=row.held_on,
        title=row.title,
        unit_id=row.unit_id,
        headcount=Headcount(row.students, row.teachers, row.parents),
        speaker=row.speaker,
        speaker_organisation=row.speaker_organisation,
        status=ActivityStatus(row.status),
        source=Source(row.source),
        recorded_by=row.recorded_by,
        recorded_at=row.recorded_at,
        reviewed_by=row.reviewed_by,
        reviewed_at=row.reviewed_at,
        review_note=row.review_note,
        photos=photos,
    )


def activity_tallies(scope: Scope, period: Period) -> Query:
    """``(row_id, kind, theme, events, students, teachers, parents)``: confirmed events
    held in the period, per row of the scope (a class's event counts for its school).

    Kinds taken part in by checking in (online lectures) are left out: their figures
    are the lectures' own (:func:`storage.statistics.lectures_held` and
    :func:`storage.statistics.lecture_attendance`), so they are counted once."""
    return (
        select(
            scope.map.c.row_id,
            ActivityRow.kind,
            ActivityRow.theme,
            func.count(ActivityRow.id),
            func.sum(ActivityRow.students),
            func.sum(ActivityRow.teachers),
            func.sum(ActivityRow.parents),
        )
        .join(scope.map, scope.map.c.unit_id == ActivityRow.unit_id)
        .where(
            scope.map.c.row_id.is_not(None),
            ActivityRow.status == ActivityStatus.CONFIRMED.value,
            ActivityRow.held_on.between(period.start, period.end),
            ActivityRow.kind.not_in(CHECKED_IN_CODES),
        )
        .group_by(scope.map.c.row_id, ActivityRow.kind, ActivityRow.theme)
    )


def counted_checkins(*columns: Any) -> Query:
    """``columns`` over the lecture check-ins that count, the one definition behind
    every figure of them (the report's check-ins, attendees and online-lecture kind, an
    activity list's headcount of a lecture): those of a lecture not cancelled, by
    someone with a role (student, teacher or parent), as ``LectureCheckinRow``,
    ``LectureRow`` and ``ParticipantRow``; the caller narrows them to a scope's people.

    A check-in is counted by its person's role, so one without a role (registration
    unfinished: refused since, but older rows may hold some) would count in the
    check-ins and under no role: it counts nowhere."""
    return (
        select(*columns)
        .select_from(LectureCheckinRow)
        .join(LectureRow, LectureRow.id == LectureCheckinRow.lecture_id)
        .join(ParticipantRow, ParticipantRow.id == LectureCheckinRow.participant_id)
        .where(ParticipantRow.role.is_not(None), LectureRow.status != "cancelled")
    )


def activities_pending(scope: Scope, period: Period) -> Query:
    """``(count,)``: entries of the scope held in the period that wait for the bureau."""
    return (
        select(func.count(ActivityRow.id))
        .join(scope.map, scope.map.c.unit_id == ActivityRow.unit_id)
        .where(
            ActivityRow.status == ActivityStatus.PENDING.value,
            ActivityRow.held_on.between(period.start, period.end),
        )
    )


def schools_with_vice_principal(scope: Scope, on: date) -> Query:
    """``(row_id,)``: rows of the scope with a 法治副校长 serving on the day."""
    return (
        select(scope.map.c.row_id)
        .join(VicePrincipalRow, VicePrincipalRow.school_id == scope.map.c.unit_id)
        .where(
            scope.map.c.row_id.is_not(None),
            VicePrincipalRow.appointed_on <= on,
            VicePrincipalRow.ended_on.is_(None) | (VicePrincipalRow.ended_on > on),
        )
        .distinct()
    )


def tally_rows(rows: Iterable[Sequence[Any]]) -> tuple[ActivityTally, ...]:
    return tuple(
        ActivityTally(
            int(row_id),
            kind,
            Theme(theme),
            int(events),
            Headcount(int(students or 0), int(teachers or 0), int(parents or 0)),
        )
        for row_id, kind, theme, events, students, teachers, parents in rows
    )


class ActivityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _values(
        self,
        draft: ActivityDraft,
        *,
        status: ActivityStatus,
        source: Source,
        recorded_by: int | None,
        now: datetime,
    ) -> dict[str, object]:
        return {
            "kind": draft.kind,
            "theme": draft.theme.value,
            "held_on": draft.held_on,
            "title": draft.title,
            "unit_id": draft.unit_id,
            "students": draft.headcount.students,
            "teachers": draft.headcount.teachers,
            "parents": draft.headcount.parents,
            "speaker": draft.speaker,
            "speaker_organisation": draft.speaker_organisation,
            "status": status.value,
            "source": source.value,
            "recorded_by": recorded_by,
            "recorded_at": now,
            "reviewed_by": recorded_by if status is ActivityStatus.CONFIRMED else None,
            "reviewed_at": now if status is ActivityStatus.CONFIRMED else None,
            "review_note": "",
        }

    async def record(
        self,
        drafts: Sequence[ActivityDraft],
        *,
        status: ActivityStatus,
        source: Source,
        recorded_by: int | None,
        now: datetime,
    ) -> list[int | None]:
        """Record each draft; its new id, or ``None`` where the same event (school or
        class, day, kind, title) was already recorded."""
        ids: list[int | None] = []
        for draft in drafts:
            values = self._values(
                draft, status=status, source=source, recorded_by=recorded_by, now=now
            )
            result = await self.session.execute(
                insert_ignoring_conflicts(self.session, ActivityRow)
                .values(**values)
                .returning(ActivityRow.id)
            )
            ids.append(result.scalar_one_or_none())
        return ids

    async def get(self, activity_id: int) -> Activity | None:
        row = await self.session.get(ActivityRow, activity_id)
        if row is None:
            return None
        [found] = await self._with_checkins([_activity(row, await self._photo_count(row.id))])
        return found

    async def _with_checkins(self, activities: list[Activity]) -> list[Activity]:
        """Activities taken part in by checking in (online lectures) with their
        check-ins by role as their headcount: their participation records are the
        lecture's check-ins (one ``GROUP BY``), not counts typed by a recorder. Those
        the report counts for the organising unit's scope (:func:`counted_checkins`
        of the people in its subtree), so a school's list and its report agree."""
        ids = [a.id for a in activities if a.activity_kind.checked_in]
        if not ids:
            return activities
        organiser = UnitRow.__table__.alias("organiser")
        member = UnitRow.__table__.alias("member")
        query = (
            counted_checkins(LectureRow.activity_id, ParticipantRow.role, func.count())
            .join(ActivityRow, ActivityRow.id == LectureRow.activity_id)
            .join(organiser, organiser.c.id == ActivityRow.unit_id)
            .join(member, member.c.id == ParticipantRow.unit_id)
            .where(
                LectureRow.activity_id.in_(ids),
                member.c.path.startswith(organiser.c.path, autoescape=False),
            )
            .group_by(LectureRow.activity_id, ParticipantRow.role)
        )
        counts: dict[int, dict[str | None, int]] = {}
        for activity_id, role, count in await self.session.execute(query):
            if activity_id is not None:  # the query keeps only those of ids
                counts.setdefault(activity_id, {})[role] = int(count)
        return [
            replace(
                activity,
                headcount=Headcount(
                    counts.get(activity.id, {}).get(Role.STUDENT.value, 0),
                    counts.get(activity.id, {}).get(Role.TEACHER.value, 0),
                    counts.get(activity.id, {}).get(Role.PARENT.value, 0),
                ),
            )
            if activity.activity_kind.checked_in
            else activity
            for activity in activities
        ]

    async def _photo_count(self, activity_id: int) -> int:
        query = select(func.count()).where(ActivityPhotoRow.activity_id == activity_id)
        return int(await self.session.scalar(query) or 0)

    async def within(
        self,
        unit: Unit,
        *,
        status: ActivityStatus | None = None,
        period: Period | None = None,
        limit: int = 50,
    ) -> list[Activity]:
        """Activities organised in the unit or below it, latest first."""
        member = UnitRow.__table__.alias("member")
        query = (
            select(ActivityRow)
            .join(member, member.c.id == ActivityRow.unit_id)
            .where(member.c.path.startswith(unit.path, autoescape=False))
        )
        if status is not None:
            query = query.where(ActivityRow.status == status.value)
        if period is not None:
            query = query.where(ActivityRow.held_on.between(period.start, period.end))
        query = query.order_by(ActivityRow.held_on.desc(), ActivityRow.id.desc()).limit(limit)
        return await self._with_checkins(
            [_activity(row) for row in await self.session.scalars(query)]
        )

    async def report_photos(
        self, scope: Unit, period: Period, *, limit: int = 12
    ) -> list[ReportPhoto]:
        """Photos of the confirmed activities of the period for the report's appendix:
        the first photo of each activity before any second one, earliest day first."""
        rows = Scope(scope)
        query = (
            select(
                rows.map.c.row_id,
                ActivityRow.held_on,
                ActivityRow.title,
                ActivityPhotoRow.content,
            )
            .join(ActivityRow, ActivityRow.id == ActivityPhotoRow.activity_id)
            .join(rows.map, rows.map.c.unit_id == ActivityRow.unit_id)
            .where(
                rows.map.c.row_id.is_not(None),
                ActivityPhotoRow.content.is_not(None),
                ActivityRow.status == ActivityStatus.CONFIRMED.value,
                ActivityRow.held_on.between(period.start, period.end),
            )
            .order_by(ActivityPhotoRow.position, ActivityRow.held_on, ActivityRow.id)
            .limit(limit)
        )
        found = [
            ReportPhoto(int(row_id), held_on, title, bytes(content))
            for row_id, held_on, title, content in await self.session.execute(query)
        ]
        return sorted(found, key=lambda photo: photo.held_on)

    async def review(
        self, activity_id: int, status: ActivityStatus, *, by: int | None, note: str, now: datetime
    ) -> Activity | None:
        row = await self.session.get(ActivityRow, activity_id)
        if row is None:
            return None
        row.status = status.value
        row.reviewed_by = by
        row.reviewed_at = now
        row.review_note = note
        await self.session.flush()
        return _activity(row)

    async def add_photo(
        self, activity_id: int, *, telegram_file_id: str | None, content: bytes | None
    ) -> int:
        """Append a photo; its position (0-based)."""
        position = await self._photo_count(activity_id)
        self.session.add(
            ActivityPhotoRow(
                activity_id=activity_id,
                position=position,
                telegram_file_id=telegram_file_id,
                content=content,
            )
        )
        await self.session.flush()
        return position

    async def photos_kept(self, activity_ids: Iterable[int]) -> dict[int, list[int]]:
        """The positions of the photos whose pictures are kept (not only a Telegram file
        id), per activity: what a web page can show."""
        ids = sorted(set(activity_ids))
        if not ids:
            return {}
        query = (
            select(ActivityPhotoRow.activity_id, ActivityPhotoRow.position)
            .where(ActivityPhotoRow.activity_id.in_(ids), ActivityPhotoRow.content.is_not(None))
            .order_by(ActivityPhotoRow.activity_id, ActivityPhotoRow.position)
        )
        kept: dict[int, list[int]] = {}
        for activity_id, position in await self.session.execute(query):
            kept.setdefault(activity_id, []).append(position)
        return kept

    async def photo(self, activity_id: int, position: int) -> bytes | None:
        """One photo's picture, if kept."""
        content = await self.session.scalar(
            select(ActivityPhotoRow.content).where(
                ActivityPhotoRow.activity_id == activity_id, ActivityPhotoRow.position == position
            )
        )
        return bytes(content) if content is not None else None

    async def photos(self, activity_id: int) -> list[tuple[str | None, bytes | None]]:
        query = (
            select(ActivityPhotoRow.telegram_file_id, ActivityPhotoRow.content)
            .where(ActivityPhotoRow.activity_id == activity_id)
            .order_by(ActivityPhotoRow.position)
        )
        return [(file_id, content) for file_id, content in await self.session.execute(query)]


class VicePrincipalRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def appoint(self, appointment: VicePrincipal) -> bool:
        """Record an appointment; ``False`` when it was already recorded."""
        result = await self.session.execute(
            insert_ignoring_conflicts(self.session, VicePrincipalRow).values(
                school_id=appointment.school_id,
                name=appointment.name,
                organisation_kind=appointment.organisation_kind,
                organisation=appointment.organisation,
                appointed_on=appointment.appointed_on,
                ended_on=appointment.ended_on,
            )
        )
        return bool(getattr(result, "rowcount", 0))

    async def serving(self, schools: Iterable[int], on: date) -> list[VicePrincipal]:
        """Who serves each of these schools on the day (appointed by then, not ended)."""
        ids = list(schools)
        if not ids:
            return []
        query = (
            select(VicePrincipalRow)
            .where(
                VicePrincipalRow.school_id.in_(ids),
                VicePrincipalRow.appointed_on <= on,
                (VicePrincipalRow.ended_on.is_(None)) | (VicePrincipalRow.ended_on > on),
            )
            .order_by(VicePrincipalRow.school_id, VicePrincipalRow.appointed_on)
        )
        return [
            VicePrincipal(
                row.school_id,
                row.name,
                row.organisation_kind,
                row.organisation,
                row.appointed_on,
                row.ended_on,
            )
            for row in await self.session.scalars(query)
        ]
