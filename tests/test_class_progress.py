"""A class's progress student by student: the stage, and the best finished attempt as the
shortlist orders them (score, then time, then who finished first)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from quizzes.class_progress import AttemptLine, Stage, Student, progress_of

T0 = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


def test_each_student_gets_a_stage_and_the_best_finished_attempt() -> None:
    students = [Student(1, "小明", True), Student(2, "小红", True), Student(3, None, False)]
    attempts = [
        AttemptLine(1, True, 6.0, True, 90_000, T0),
        AttemptLine(1, True, 8.0, False, 120_000, T0 + timedelta(minutes=5)),  # best score
        AttemptLine(1, True, 8.0, False, 150_000, T0 + timedelta(minutes=1)),  # slower
        AttemptLine(2, False, 2.0, False, None, None),  # running
    ]
    first, second, third = progress_of(students, attempts)
    assert (first.stage, first.points, first.seconds) == (Stage.FINISHED, 8.0, 120.0)
    assert first.passed  # an attempt passed, as the report counts it
    assert (second.stage, second.points, second.passed) == (Stage.UNFINISHED, None, False)
    assert (third.stage, third.name) == (Stage.NOT_STARTED, "")
