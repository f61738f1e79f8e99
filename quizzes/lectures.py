"""Online public lectures (网络公开课): when they run, when to remind, when to check in.

A lecture is announced when it is scheduled and reminded an hour before it starts; both
go out as articles (so they are broadcast, read and clicked like any other) carrying a
check-in button, which works while the lecture runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from quizzes.permissions import Permissions
from quizzes.publicity import Audience, may_address
from quizzes.units import Unit

REMIND_BEFORE = timedelta(hours=1)
# Latecomers may still check in a little after the end; early birds a little before.
CHECKIN_EARLY = timedelta(minutes=10)
CHECKIN_LATE = timedelta(minutes=10)
MAX_MINUTES = 24 * 60


class LectureStatus(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class CheckinProblem(StrEnum):
    NOT_YET = "not_yet"
    OVER = "over"
    CANCELLED = "cancelled"
    # The person's, not the lecture's: registration unfinished (no role yet), so the
    # check-in could be counted under no role (the use case's check, not the window's).
    NOT_REGISTERED = "not_registered"


@dataclass(frozen=True, slots=True)
class Lecture:
    id: int
    title: str
    speaker: str
    starts_at: datetime
    ends_at: datetime
    link: str | None
    audience: Audience
    created_by: int
    status: LectureStatus

    @property
    def remind_at(self) -> datetime:
        return self.starts_at - REMIND_BEFORE

    def checkin_problem(self, now: datetime) -> CheckinProblem | None:
        """Why checking in is not possible now, or ``None`` when it is."""
        if self.status is LectureStatus.CANCELLED:
            return CheckinProblem.CANCELLED
        if now < self.starts_at - CHECKIN_EARLY:
            return CheckinProblem.NOT_YET
        if now > self.ends_at + CHECKIN_LATE:
            return CheckinProblem.OVER
        return None


@dataclass(frozen=True, slots=True)
class Attendance:
    """Check-ins of one lecture in one school and role (``school_id`` None: no school)."""

    school_id: int | None
    school_name: str
    role: str | None
    count: int


def lecture_window(starts_at: datetime, minutes: int) -> tuple[datetime, datetime]:
    if not 1 <= minutes <= MAX_MINUTES:
        raise ValueError(f"a lecture lasts 1 to {MAX_MINUTES} minutes")
    return starts_at, starts_at + timedelta(minutes=minutes)


# ---------------------------------------------------------------------- scheduling in chat

SPEAKER_MAX = 255


class LectureProblem(StrEnum):
    """Why something typed while scheduling a lecture in chat was not accepted."""

    EMPTY = "empty"
    TOO_LONG = "too_long"
    BAD_MINUTES = "bad_minutes"
    BAD_LINK = "bad_link"


def clean_line(text: str, limit: int) -> str:
    """One line of plain text (a title, a speaker); raise ``ValueError(problem)``."""
    cleaned = " ".join(text.split())
    if not cleaned:
        raise ValueError(LectureProblem.EMPTY.value)
    if len(cleaned) > limit:
        raise ValueError(LectureProblem.TOO_LONG.value)
    return cleaned


def parse_minutes(text: str) -> int:
    """A duration in whole minutes, as :func:`lecture_window` accepts it."""
    stripped = text.strip()
    if not stripped.isdigit() or len(stripped) > 5:
        raise ValueError(LectureProblem.BAD_MINUTES.value)
    minutes = int(stripped)
    if not 1 <= minutes <= MAX_MINUTES:
        raise ValueError(LectureProblem.BAD_MINUTES.value)
    return minutes


def may_cancel(
    lecture: Lecture,
    telegram_id: int,
    permissions: Permissions,
    units: Mapping[int, Unit],
    now: datetime,
) -> bool:
    """Admins, and the staff member who scheduled it while they may still address its
    audience (not once their rights are revoked), may cancel a lecture not over yet.
    ``units`` maps each audience unit id to its unit."""
    if lecture.status is not LectureStatus.SCHEDULED or lecture.ends_at <= now:
        return False
    if permissions.is_admin:
        return True
    return lecture.created_by == telegram_id and may_address(permissions, lecture.audience, units)


@dataclass(frozen=True, slots=True)
class Cancellation:
    """What cancelling a lecture withdrew: reminders not yet sent (their publishing jobs
    are void) and broadcasts of its announcement or reminder stopped half way."""

    lecture: Lecture
    reminder_ids: tuple[int, ...]
    broadcast_ids: tuple[int, ...]
