"""A class's progress in a quiz campaign, student by student, for its class teacher (班主任).

Students are minors: a line names a student by the display name they gave the bot,
nothing else (no Telegram id, no real name). A student's result is their best finished
attempt, ordered as the shortlist orders attempts (score, then time, then who finished
first).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from quizzes.engine import Standing, best_per_participant


class Stage(StrEnum):
    NOT_STARTED = "not_started"
    UNFINISHED = "unfinished"  # started, no attempt finished yet
    FINISHED = "finished"


@dataclass(frozen=True, slots=True)
class Student:
    """A registered student of the class."""

    participant_id: int
    display_name: str | None  # None once the person was erased
    reachable: bool  # subscribed, not blocked, reachable in chat: a reminder gets to them


@dataclass(frozen=True, slots=True)
class AttemptLine:
    """One attempt of a student of the class in the campaign."""

    participant_id: int
    finished: bool
    points: float
    passed: bool
    total_ms: int | None
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class StudentProgress:
    student: Student
    stage: Stage
    points: float | None = None  # of the best finished attempt
    passed: bool = False  # any finished attempt passed
    seconds: float | None = None  # time taken by the best finished attempt

    @property
    def name(self) -> str:
        return self.student.display_name or ""


def progress_of(
    students: Sequence[Student], attempts: Iterable[AttemptLine]
) -> list[StudentProgress]:
    """Each student's stage and best result, in the order given (by name)."""
    attempts = list(attempts)
    started = {a.participant_id for a in attempts}
    done = {a.participant_id for a in attempts if a.finished}
    passed = {a.participant_id for a in attempts if a.passed}  # as the report counts
    finished = [
        Standing(a.participant_id, a.points, a.total_ms or 0, a.finished_at)
        for a in attempts
        if a.finished and a.finished_at is not None
    ]
    best = {s.participant_id: s for s in best_per_participant(finished)}
    lines = []
    for student in students:
        pid = student.participant_id
        top = best.get(pid)
        if pid in done:
            lines.append(
                StudentProgress(
                    student,
                    Stage.FINISHED,
                    round(top.points, 2) if top is not None else None,
                    pid in passed,
                    round(top.total_ms / 1000, 1) if top is not None else None,
                )
            )
        else:
            stage = Stage.UNFINISHED if pid in started else Stage.NOT_STARTED
            lines.append(StudentProgress(student, stage))
    return lines


@dataclass(frozen=True, slots=True)
class ClassReminder:
    """A reminder sent to a class's unfinished students: once per campaign and day."""

    id: int
    campaign_id: int
    unit_id: int
    day: date  # in the bureau's time zone
    sent_by: int  # participant id
    sent_by_name: str | None  # their display name (None once erased)
    sent_at: datetime
    recipients: int
