"""Live quizzes in a class group: the questions a poll can carry and the leaderboard."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from quizzes.bank import StoredQuestion, poll_compatible

DEFAULT_QUESTIONS = 5
MAX_QUESTIONS = 20
DEFAULT_SECONDS = 30
MIN_SECONDS, MAX_SECONDS = 5, 600  # what Telegram allows for open_period


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

    @property
    def finished(self) -> bool:
        return self.finished_at is not None


@dataclass(frozen=True, slots=True)
class BoardLine:
    participant_id: int
    name: str
    right: int
    answered: int


def pick_poll_questions(
    pool: Sequence[StoredQuestion], count: int, rng: random.Random
) -> list[StoredQuestion]:
    """``count`` questions Telegram can show as a quiz poll (fewer if the pool is short)."""
    usable = [q for q in pool if poll_compatible(q.question)]
    return rng.sample(usable, min(count, len(usable)))


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


def board(lines: Sequence[BoardLine]) -> list[BoardLine]:
    """Most right answers first; equal scores by fewer questions missed, then by name."""
    return sorted(lines, key=lambda line: (-line.right, line.answered - line.right, line.name))
