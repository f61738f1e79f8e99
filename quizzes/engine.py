"""The quiz engine: drawing questions, shuffling options, timing and scoring an answer.

Pure functions over plain values: the handlers and repositories decide where the
values come from, so every rule here is tested without a database or Telegram.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum

LETTERS = "ABCDEFGH"

# A person needs time to read before answering: a quarter second per character of the
# question and its options, at least two seconds. Faster than that is flagged, not counted
# silently (it is what a script or a copied answer sheet looks like).
READING_SECONDS_PER_CHAR = 0.05
MIN_READING_SECONDS = 2.0


class Feedback(StrEnum):
    EACH = "each"  # right or wrong after every question
    END = "end"  # only in the result


@dataclass(frozen=True, slots=True)
class Candidate:
    """A question as the draw sees it."""

    id: int
    tags: tuple[str, ...] = ()


class DrawError(ValueError):
    """The pool cannot supply what the campaign asks for."""


def draw(
    pool: Sequence[Candidate],
    count: int,
    rng: random.Random,
    per_tag: Mapping[str, int] | None = None,
) -> list[int]:
    """``count`` distinct question ids: first ``per_tag`` quotas, then the rest at random."""
    if count > len(pool):
        raise DrawError(f"the banks hold {len(pool)} questions, {count} asked")
    chosen: list[int] = []
    taken: set[int] = set()
    for tag, quota in (per_tag or {}).items():
        tagged = [c.id for c in pool if tag in c.tags and c.id not in taken]
        if len(tagged) < quota:
            raise DrawError(f"tag {tag!r} has {len(tagged)} questions, {quota} asked")
        for question_id in rng.sample(tagged, quota):
            chosen.append(question_id)
            taken.add(question_id)
    if len(chosen) > count:
        raise DrawError(f"tag quotas add up to {len(chosen)}, more than {count}")
    rest = [c.id for c in pool if c.id not in taken]
    chosen.extend(rng.sample(rest, count - len(chosen)))
    rng.shuffle(chosen)
    return chosen


def shuffled_order(option_count: int, rng: random.Random, *, keep: bool = False) -> list[int]:
    """Display position -> original option index. True/false keeps its order."""
    order = list(range(option_count))
    if not keep:
        rng.shuffle(order)
    return order


def to_original(order: Sequence[int], shown: Sequence[int]) -> frozenset[int]:
    """Map the positions a participant pressed back to the bank's option indices."""
    return frozenset(order[position] for position in shown)


def score(
    chosen: frozenset[int], correct: frozenset[int], *, multiple: bool, partial: bool
) -> float:
    """Points in [0, 1] for one answer.

    Single choice and true/false: 1 if right. Multiple choice: all or nothing, or with
    partial credit the share of right options chosen, and nothing if any wrong one is.
    """
    if not chosen:
        return 0.0
    if not multiple or not partial:
        return 1.0 if chosen == correct else 0.0
    if chosen - correct:
        return 0.0
    return len(chosen) / len(correct)


def reading_seconds(text_length: int) -> float:
    return max(MIN_READING_SECONDS, text_length * READING_SECONDS_PER_CHAR)


def too_fast(shown_at: datetime, answered_at: datetime, text_length: int) -> bool:
    return (answered_at - shown_at).total_seconds() < reading_seconds(text_length)


def question_deadline(
    shown_at: datetime,
    per_question_seconds: int | None,
    attempt_deadline: datetime | None,
) -> datetime | None:
    """When an unanswered question counts as "no answer": its own limit or the attempt's."""
    limits = [attempt_deadline] if attempt_deadline else []
    if per_question_seconds:
        limits.append(shown_at + timedelta(seconds=per_question_seconds))
    return min(limits) if limits else None


def shows_deadline(deadline: datetime | None, *, timed: bool, now: datetime, zone: tzinfo) -> bool:
    """Whether a question states when it must be answered: always under a time limit;
    with none, only when the campaign closes on it today (a close days away is no news)."""
    if deadline is None:
        return False
    return timed or deadline.astimezone(zone).date() == now.astimezone(zone).date()


@dataclass(frozen=True, slots=True)
class Outcome:
    points: float
    max_points: int
    pass_mark: int  # percent

    @property
    def percent(self) -> float:
        return 100.0 * self.points / self.max_points if self.max_points else 0.0

    @property
    def passed(self) -> bool:
        # Compare in hundredths so 59.999... from float sums does not fail a 60% pass mark.
        return round(self.percent, 2) >= self.pass_mark


@dataclass(frozen=True, slots=True)
class Standing:
    """One finished attempt, as the shortlist ranks it."""

    participant_id: int
    points: float
    total_ms: int
    finished_at: datetime


def rank(standings: Sequence[Standing]) -> list[Standing]:
    """Best first: higher score, then less total time, then who finished first."""
    return sorted(standings, key=lambda s: (-round(s.points, 6), s.total_ms, s.finished_at))


def best_per_participant(standings: Sequence[Standing]) -> list[Standing]:
    """Each participant's best attempt, by the same order as :func:`rank`."""
    best: dict[int, Standing] = {}
    for standing in rank(standings):
        best.setdefault(standing.participant_id, standing)
    return list(best.values())
