"""Live quizzes in class groups: the questions a poll can carry and the leaderboard."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from quizzes.bank import QuestionType, StoredQuestion, poll_compatible
from quizzes.engine import shuffled_order
from quizzes.permissions import Permissions
from quizzes.units import Unit

DEFAULT_QUESTIONS = 5
MAX_QUESTIONS = 20
DEFAULT_SECONDS = 30
MIN_SECONDS, MAX_SECONDS = 5, 600  # what Telegram allows for open_period
# Sends to the group that fail in a row before the quiz ends and its teacher is told.
MAX_SEND_FAILURES = 3
STOP_WORDS = frozenset({"stop", "end", "结束", "停止"})


@dataclass(frozen=True, slots=True)
class LiveQuiz:
    id: int
    chat_id: int
    started_by: int
    started_at: datetime
    finished_at: datetime | None
    seconds_per_question: int
    question_count: int
    current_seq: int
    board_message_id: int | None
    failures: int = 0
    chat_title: str | None = None

    @property
    def finished(self) -> bool:
        return self.finished_at is not None


@dataclass(frozen=True, slots=True)
class PlannedPoll:
    """A question drawn for the quiz and the order its options are shown in."""

    question_id: int
    order: tuple[int, ...]  # display position -> the bank's option index


@dataclass(frozen=True, slots=True)
class LivePoll:
    """A quiz poll as sent: ``correct_option`` is a display position, as Telegram has it."""

    poll_id: str
    live_quiz_id: int
    seq: int
    question_id: int
    correct_option: int
    order: tuple[int, ...] | None  # None: shown in the bank's order (quizzes before shuffling)

    def bank_option(self, shown: int) -> int:
        """The bank's index of the option shown at position ``shown``."""
        return self.order[shown] if self.order is not None else shown


@dataclass(frozen=True, slots=True)
class BoardLine:
    participant_id: int
    name: str | None  # None: not registered, so no name is kept or shown
    right: int
    answered: int
    first_answered_at: datetime | None = None


def pick_poll_questions(
    pool: Sequence[StoredQuestion], count: int, rng: random.Random
) -> list[StoredQuestion]:
    """``count`` questions Telegram can show as a quiz poll (fewer if the pool is short)."""
    usable = [q for q in pool if q.picture_sha256 is None and poll_compatible(q.question)]
    return rng.sample(usable, min(count, len(usable)))


def plan_polls(
    pool: Sequence[StoredQuestion], count: int, rng: random.Random
) -> list[PlannedPoll]:
    """The questions of a live quiz with their options shuffled as a campaign shuffles them."""
    return [
        PlannedPoll(
            question.id,
            tuple(
                shuffled_order(
                    len(question.options), rng, keep=question.type is QuestionType.TRUE_FALSE
                )
            ),
        )
        for question in pick_poll_questions(pool, count, rng)
    ]


def shown_options(
    options: Sequence[str], correct: int, order: Sequence[int] | None
) -> tuple[list[str], int]:
    """The options in display order and the display position of the right one."""
    if order is None:
        return list(options), correct
    return [options[index] for index in order], list(order).index(correct)


def parse_livequiz_args(args: str | None) -> tuple[int, int] | None:
    """``/livequiz [questions] [seconds]`` -> (questions, seconds); None when malformed."""
    parts = (args or "").split()
    if len(parts) > 2 or not all(part.isdigit() for part in parts):
        return None
    questions = int(parts[0]) if parts else DEFAULT_QUESTIONS
    seconds = int(parts[1]) if len(parts) > 1 else DEFAULT_SECONDS
    if not 1 <= questions <= MAX_QUESTIONS or not MIN_SECONDS <= seconds <= MAX_SECONDS:
        return None
    return questions, seconds


def asks_to_stop(args: str | None) -> bool:
    """``/livequiz stop`` (or 结束, 停止)."""
    return (args or "").strip().lower() in STOP_WORDS


def may_stop(
    live: LiveQuiz, telegram_id: int, permissions: Permissions, starter_unit: Unit | None
) -> bool:
    """The teacher who started it, a coordinator of that teacher's school, or an admin."""
    if telegram_id == live.started_by or permissions.is_admin:
        return True
    return starter_unit is not None and permissions.may_manage(starter_unit)


def board(lines: Sequence[BoardLine]) -> list[BoardLine]:
    """Most right answers first; equal scores by fewer questions missed, then by name."""
    return sorted(
        lines,
        key=lambda line: (
            -line.right,
            line.answered - line.right,
            line.name is None,
            line.name or "",
            line.participant_id,
        ),
    )


def unregistered_numbers(lines: Sequence[BoardLine]) -> dict[int, int]:
    """Participant id -> the number shown instead of a name: in the order of their first
    answer in this quiz, so a number stays with its person from one board to the next."""
    unnamed = sorted(
        (line for line in lines if line.name is None),
        key=lambda line: (
            line.first_answered_at.timestamp() if line.first_answered_at else 0.0,
            line.participant_id,
        ),
    )
    return {line.participant_id: number for number, line in enumerate(unnamed, start=1)}
