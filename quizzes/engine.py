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

from quizzes.bank import DEFAULT_DIFFICULTY, DEFAULT_LEVEL, Difficulty, Level

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
    level: Level = DEFAULT_LEVEL
    difficulty: Difficulty = DEFAULT_DIFFICULTY


class DrawError(ValueError):
    """The pool cannot supply what the campaign asks for."""


# Where a short difficulty borrows from, nearest first.
_NEIGHBOURS: dict[Difficulty, tuple[Difficulty, ...]] = {
    Difficulty.EASY: (Difficulty.MEDIUM, Difficulty.HARD),
    Difficulty.MEDIUM: (Difficulty.EASY, Difficulty.HARD),
    Difficulty.HARD: (Difficulty.MEDIUM, Difficulty.EASY),
}


def eligible(pool: Sequence[Candidate], level: Level | None) -> list[Candidate]:
    """The questions a campaign for ``level`` may draw: those suiting it, never a 难 one for
    小学 whatever the bank says; every question when the campaign has no level."""
    if level is None:
        return list(pool)
    return [
        c
        for c in pool
        if c.level.suits(level)
        and not (level is Level.PRIMARY and c.difficulty is Difficulty.HARD)
    ]


def largest_remainder(weights: Mapping[Difficulty, float], total: int) -> dict[Difficulty, int]:
    """``total`` split in proportion to ``weights``: floors, then one more to the largest
    remainders (the easier difficulty first on a tie)."""
    positive = {d: w for d, w in weights.items() if w > 0}
    whole = sum(positive.values())
    if not positive or total <= 0:
        return {d: 0 for d in Difficulty}
    exact = {d: total * w / whole for d, w in positive.items()}
    shares = {d: int(exact.get(d, 0)) for d in Difficulty}
    left = total - sum(shares.values())
    order = sorted(positive, key=lambda d: (-(exact[d] - shares[d]), d))
    for d in order[:left]:
        shares[d] += 1
    return shares


def draw(
    pool: Sequence[Candidate],
    count: int,
    rng: random.Random,
    per_tag: Mapping[str, int] | None = None,
    *,
    level: Level | None = None,
    mix: Mapping[Difficulty, float] | None = None,
) -> list[int]:
    """``count`` distinct question ids: first ``per_tag`` quotas, then the rest at random.

    With a ``level``, only the questions suiting it (:func:`eligible`); with a ``mix``, the
    draw takes ``count`` split by :func:`largest_remainder` as quotas per difficulty, the
    tag quotas counting toward them, and a difficulty the pool is short of borrows from its
    neighbours (中 for 易 and 难, 易 before 难 for 中). Without either, the draw is the one
    campaigns always had."""
    if level is None and mix is None:
        return _draw_plain(pool, count, rng, per_tag)
    pool = eligible(pool, level)
    if count > len(pool):
        raise DrawError(f"the banks hold {len(pool)} suitable questions, {count} asked")
    weights = {d: w for d, w in (mix or {}).items() if w > 0}
    if level is Level.PRIMARY:
        weights.pop(Difficulty.HARD, None)
    if not weights:  # no mix (or only 难 for 小学): every allowed difficulty alike
        weights = {
            d: 1.0 for d in Difficulty if d is not Difficulty.HARD or level is not Level.PRIMARY
        }
    targets = largest_remainder(weights, count)
    chosen: list[int] = []
    taken: set[int] = set()
    have = {d: 0 for d in Difficulty}
    for tag, quota in (per_tag or {}).items():
        tagged = [c for c in pool if tag in c.tags and c.id not in taken]
        if len(tagged) < quota:
            raise DrawError(f"tag {tag!r} has {len(tagged)} questions, {quota} asked")
        for _ in range(quota):
            # A tagged question of a difficulty still wanted, if there is one.
            wanted = [c for c in tagged if have[c.difficulty] < targets[c.difficulty]]
            pick = rng.choice(wanted or tagged)
            tagged.remove(pick)
            chosen.append(pick.id)
            taken.add(pick.id)
            have[pick.difficulty] += 1
    if len(chosen) > count:
        raise DrawError(f"tag quotas add up to {len(chosen)}, more than {count}")
    missing = {d: max(0, targets[d] - have[d]) for d in Difficulty}
    quotas = largest_remainder({d: float(n) for d, n in missing.items()}, count - len(chosen))
    rest = {d: [c.id for c in pool if c.difficulty is d and c.id not in taken] for d in Difficulty}
    short: dict[Difficulty, int] = {}
    for d in Difficulty:
        picked = rng.sample(rest[d], min(quotas[d], len(rest[d])))
        chosen.extend(picked)
        rest[d] = [qid for qid in rest[d] if qid not in set(picked)]
        short[d] = quotas[d] - len(picked)
    for d in Difficulty:
        for neighbour in _NEIGHBOURS[d]:
            if not short[d]:
                break
            borrowed = rng.sample(rest[neighbour], min(short[d], len(rest[neighbour])))
            chosen.extend(borrowed)
            rest[neighbour] = [qid for qid in rest[neighbour] if qid not in set(borrowed)]
            short[d] -= len(borrowed)
    if len(chosen) < count:  # cannot happen: the pool holds at least ``count``
        raise DrawError(f"the banks hold {len(pool)} suitable questions, {count} asked")
    rng.shuffle(chosen)
    return chosen


def _draw_plain(
    pool: Sequence[Candidate],
    count: int,
    rng: random.Random,
    per_tag: Mapping[str, int] | None,
) -> list[int]:
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
