"""Online lectures' use cases: scheduling one for an audience its organiser may reach,
cancelling it, checking in while it runs, and its attendance figures.

The announcement, reminder and cancellation notice are articles written by
:mod:`bot.lectures`; these use cases decide who may do what and when, and commit, so the
door (the chat's /newlecture and /lectures, later the dashboard) only parses and renders.
After scheduling or cancelling, the door tells the scheduler and the broadcaster.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import StrEnum

from bot import lectures as lecture_articles
from bot.application.publicity import audience_problem, may_see_figures
from bot.i18n import Gettext, Translator
from bot.lectures import ScheduledLecture
from quizzes.lectures import (
    CHECKIN_EARLY,
    CHECKIN_LATE,
    Attendance,
    Cancellation,
    CheckinProblem,
    Lecture,
    LectureStatus,
    may_cancel,
)
from quizzes.permissions import Permissions
from quizzes.publicity import AudienceProblem
from quizzes.themes import Theme
from storage.unit_of_work import UnitOfWork

# ---------------------------------------------------------------------- checking in


class CheckinRefusal(StrEnum):
    UNKNOWN = "unknown"  # no such lecture


@dataclass(frozen=True, slots=True)
class CheckinClosed:
    """Checking in is not open now, or not to this person yet (registration unfinished):
    why, and when it opens and closes."""

    lecture: Lecture
    problem: CheckinProblem
    opens: datetime
    closes: datetime


@dataclass(frozen=True, slots=True)
class CheckedIn:
    lecture: Lecture
    first: bool  # False: this participant had checked in already


async def check_in(
    uow: UnitOfWork, lecture_id: int, participant_id: int, *, now: datetime
) -> CheckedIn | CheckinClosed | CheckinRefusal:
    """Count a participant present, once, while check-in is open (from a little before
    the start to a little after the end of a lecture not cancelled), once they have
    finished registering: a check-in is counted by its person's role, and someone without
    one would count in no figure (``NOT_REGISTERED``: the door asks them to finish).
    Someone who has checked in is told so whenever an old button or form is pressed
    again, even once the window closed (a cancelled lecture says it was cancelled)."""
    lecture = await uow.lectures.get(lecture_id)
    if lecture is None:
        return CheckinRefusal.UNKNOWN
    opens, closes = lecture.starts_at - CHECKIN_EARLY, lecture.ends_at + CHECKIN_LATE
    problem = lecture.checkin_problem(now)
    if problem is not None:
        if problem is not CheckinProblem.CANCELLED:
            done = await uow.lectures.checked_in_at(participant_id, [lecture.id])
            if lecture.id in done:
                await uow.commit()
                return CheckedIn(lecture, first=False)
        return CheckinClosed(lecture, problem, opens, closes)
    participant = await uow.participants.by_id(participant_id)
    if participant is None or not participant.registered:
        return CheckinClosed(lecture, CheckinProblem.NOT_REGISTERED, opens, closes)
    first = await uow.lectures.check_in(lecture.id, participant_id, now)
    await uow.commit()
    return CheckedIn(lecture, first)


# ---------------------------------------------------------------------- listing


@dataclass(frozen=True, slots=True)
class UpcomingLecture:
    lecture: Lecture
    cancellable: bool  # by the person asking


async def upcoming_lectures(
    uow: UnitOfWork, *, viewer: Permissions, telegram_id: int, now: datetime
) -> list[UpcomingLecture]:
    """The lectures to come, each with whether the person asking may cancel it."""
    listed = []
    for lecture in await uow.lectures.upcoming(now):
        cancellable = viewer.is_staff and await _may_cancel(uow, lecture, viewer, telegram_id, now)
        listed.append(UpcomingLecture(lecture, cancellable))
    return listed


async def _may_cancel(
    uow: UnitOfWork, lecture: Lecture, viewer: Permissions, telegram_id: int, now: datetime
) -> bool:
    units = await uow.units.by_ids(lecture.audience.unit_ids)
    return may_cancel(lecture, telegram_id, viewer, units, now)


# ---------------------------------------------------------------------- figures


class FiguresRefusal(StrEnum):
    NOT_ALLOWED = "not_allowed"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class LectureFigures:
    """Check-ins per school and role."""

    lecture: Lecture
    attendance: list[Attendance]

    @property
    def total(self) -> int:
        return sum(row.count for row in self.attendance)


async def lecture_figures(
    uow: UnitOfWork, lecture_id: int, *, viewer: Permissions
) -> LectureFigures | FiguresRefusal:
    if not may_see_figures(viewer):
        return FiguresRefusal.NOT_ALLOWED
    lecture = await uow.lectures.get(lecture_id)
    if lecture is None:
        return FiguresRefusal.UNKNOWN
    return LectureFigures(lecture, await uow.lectures.attendance(lecture.id))


# ---------------------------------------------------------------------- cancelling


class CancelRefusal(StrEnum):
    STALE = "stale"  # no such lecture, cancelled already, or over
    NOT_ALLOWED = "not_allowed"


async def lecture_to_cancel(
    uow: UnitOfWork, lecture_id: int, *, viewer: Permissions, telegram_id: int, now: datetime
) -> Lecture | CancelRefusal:
    """A lecture still to cancel that this person may cancel (an admin, or the staff
    member who scheduled it while they may still address its audience)."""
    lecture = await uow.lectures.get(lecture_id)
    if lecture is None or lecture.status is not LectureStatus.SCHEDULED or lecture.ends_at <= now:
        return CancelRefusal.STALE
    if not viewer.is_staff or not await _may_cancel(uow, lecture, viewer, telegram_id, now):
        return CancelRefusal.NOT_ALLOWED
    return lecture


async def cancel_lecture(
    uow: UnitOfWork,
    lecture_id: int,
    *,
    viewer: Permissions,
    telegram_id: int,
    now: datetime,
    zone: tzinfo,
    translator: Translator,
) -> Cancellation | CancelRefusal:
    """Cancel a lecture and write its notice to everyone told of it, in each one's
    language; the caller then drops the reminders' jobs and wakes the broadcaster."""
    lecture = await lecture_to_cancel(
        uow, lecture_id, viewer=viewer, telegram_id=telegram_id, now=now
    )
    if isinstance(lecture, CancelRefusal):
        return lecture
    cancellation = await lecture_articles.cancel_lecture(
        uow.session, lecture.id, now, cancelled_by=telegram_id, zone=zone, translator=translator
    )
    if cancellation is None:
        return CancelRefusal.STALE
    await uow.commit()
    return cancellation


# ---------------------------------------------------------------------- scheduling


class ScheduleRefusal(StrEnum):
    PAST_TIME = "past_time"  # it starts before now: the organiser waited too long


async def schedule_lecture(
    uow: UnitOfWork,
    draft: Lecture,
    *,
    minutes: int,
    viewer: Permissions,
    now: datetime,
    zone: tzinfo,
    _: Gettext,
    theme: Theme | None = None,
) -> ScheduledLecture | ScheduleRefusal | AudienceProblem:
    """Store a lecture as its organiser typed it (``draft``, id 0), announce it to its
    audience and write its reminder, in the organiser's language (``_``); the caller
    then plans the reminder's job and wakes the broadcaster. Only staff may (the
    audience's check says ``NOT_STAFF`` to anyone else).

    The lecture is an activity of the kind ``online_lecture`` too, made with it: of
    ``theme`` (else 宪法), confirmed at once, organised by the unit its audience is in
    (:func:`quizzes.activities.lecture_organiser`); cancelling it cancels that."""
    if draft.starts_at <= now:
        return ScheduleRefusal.PAST_TIME
    problem = await audience_problem(uow, draft.audience, viewer)
    if problem is not None:
        return problem
    scheduled = await lecture_articles.schedule_lecture(
        uow.session,
        title=draft.title,
        speaker=draft.speaker,
        starts_at=draft.starts_at,
        minutes=minutes,
        link=draft.link,
        audience=draft.audience,
        created_by=draft.created_by,
        zone=zone,
        now=now,
        _=_,
        theme=theme,
    )
    await uow.commit()
    return scheduled
