"""Quiz campaigns: the window, the audience, the rules of an attempt, and their spec file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from quizzes.bank import Difficulty, Level, parse_difficulty, parse_level
from quizzes.engine import Feedback
from quizzes.participants import Participant, Role
from quizzes.themes import Theme
from quizzes.units import Unit

# The difficulty mix a campaign for a level draws when its file sets none.
DEFAULT_MIXES: dict[Level, dict[Difficulty, float]] = {
    Level.PRIMARY: {Difficulty.EASY: 0.7, Difficulty.MEDIUM: 0.3},
    Level.JUNIOR: {Difficulty.EASY: 0.4, Difficulty.MEDIUM: 0.45, Difficulty.HARD: 0.15},
    Level.SENIOR: {Difficulty.EASY: 0.3, Difficulty.MEDIUM: 0.45, Difficulty.HARD: 0.25},
}
# What "level: 全部" (or none) means: every question, as campaigns without a level draw.
ALL_LEVELS_WORDS = frozenset({"全部", "所有", "all", "any"})


class CampaignStatus(StrEnum):
    DRAFT = "draft"  # being prepared; never opens by itself
    SCHEDULED = "scheduled"
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Audience:
    """Units (with everything below them) and roles; empty means everyone."""

    unit_ids: tuple[int, ...] = ()
    roles: tuple[Role, ...] = ()

    def includes(self, participant: Participant, unit: Unit | None) -> bool:
        if self.roles and participant.role not in self.roles:
            return False
        if not self.unit_ids:
            return True
        return unit is not None and any(i in unit.ancestor_ids for i in self.unit_ids)


@dataclass(frozen=True, slots=True)
class Rules:
    questions: int
    per_tag: dict[str, int] = field(default_factory=dict)
    seconds_per_question: int | None = None
    seconds_per_attempt: int | None = None
    attempts_allowed: int = 1
    pass_mark: int = 60
    # A certificate says 优秀 from this percent on (合格 from ``pass_mark``); None: never.
    distinction: int | None = None
    feedback: Feedback = Feedback.EACH
    partial_credit: bool = False
    certificate: bool = True
    # Who the campaign is for: it draws only questions suiting that level (None: all).
    level: Level | None = None
    # The share of 易/中/难 its file asked for; None: the level's default, or no mix at all.
    difficulty_mix: dict[Difficulty, float] | None = None

    @property
    def mix(self) -> dict[Difficulty, float] | None:
        """The difficulty mix the draw takes: the file's, else the level's default."""
        if self.difficulty_mix is not None:
            return dict(self.difficulty_mix)
        return dict(DEFAULT_MIXES[self.level]) if self.level is not None else None

    @property
    def timed(self) -> bool:
        """A time limit per question or per attempt (not just the campaign's window)."""
        return bool(self.seconds_per_question or self.seconds_per_attempt)


@dataclass(frozen=True, slots=True)
class Campaign:
    id: int
    name: str
    status: CampaignStatus
    bank_ids: tuple[int, ...]
    rules: Rules
    opens_at: datetime
    closes_at: datetime
    audience: Audience
    created_by: int | None = None
    theme: Theme = Theme.OTHER  # what it is about: the report counts campaigns per theme

    def state_at(self, now: datetime) -> CampaignStatus:
        """What the window says now; a draft stays a draft."""
        if self.status is CampaignStatus.DRAFT:
            return CampaignStatus.DRAFT
        if now < self.opens_at:
            return CampaignStatus.SCHEDULED
        if now >= self.closes_at:
            return CampaignStatus.CLOSED
        return CampaignStatus.OPEN

    def is_open(self, now: datetime) -> bool:
        return self.state_at(now) is CampaignStatus.OPEN


class Refusal(StrEnum):
    """Why a participant may not start an attempt."""

    NOT_OPEN = "not_open"
    NOT_IN_AUDIENCE = "not_in_audience"
    NO_ATTEMPTS_LEFT = "no_attempts_left"
    NOT_REGISTERED = "not_registered"


def may_start(
    campaign: Campaign,
    participant: Participant,
    unit: Unit | None,
    attempts_used: int,
    now: datetime,
) -> Refusal | None:
    if not participant.registered:
        return Refusal.NOT_REGISTERED
    if not campaign.is_open(now):
        return Refusal.NOT_OPEN
    if not campaign.audience.includes(participant, unit):
        return Refusal.NOT_IN_AUDIENCE
    if attempts_used >= campaign.rules.attempts_allowed:
        return Refusal.NO_ATTEMPTS_LEFT
    return None


# ---------------------------------------------------------------- the spec file


@dataclass(frozen=True, slots=True)
class SpecProblem:
    key: str  # the spec's field, e.g. "audience.roles"
    code: str
    params: dict[str, str | int] = field(default_factory=dict)


class SpecError(Exception):
    def __init__(self, problems: list[SpecProblem]) -> None:
        super().__init__("; ".join(f"{p.key}: {p.code}" for p in problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class CampaignSpec:
    """A campaign as written by staff: banks and units by name, times in local time."""

    name: str
    bank_names: tuple[str, ...]
    rules: Rules
    opens_at: datetime
    closes_at: datetime
    unit_names: tuple[str, ...]
    roles: tuple[Role, ...]
    draft: bool = False


def parse_local_time(value: object, zone: ZoneInfo) -> datetime | None:
    """``2026-12-01 08:00`` (or a YAML date/datetime) in the bureau's time zone."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    if isinstance(value, date):
        return datetime.combine(value, time(0, 0), zone)
    if isinstance(value, str):
        text = value.strip().replace("T", " ")
        for pattern in ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
            try:
                return datetime.strptime(text, pattern).replace(tzinfo=zone)
            except ValueError:
                continue
    return None


def _int(
    raw: Mapping[str, Any], key: str, problems: list[SpecProblem], *, low: int, high: int
) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        problems.append(SpecProblem(key, "out_of_range", {"low": low, "high": high}))
        return None
    return value


def _names(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value.strip(),) if value.strip() else ()
    if isinstance(value, list):
        return tuple(str(item).strip() for item in value if str(item).strip())
    return ()


def parse_spec_level(value: object) -> tuple[Level | None, bool]:
    """A spec's ``level``: the level (None for 全部 or nothing) and whether it was readable."""
    if value is None:
        return None, True
    text = str(value).strip()
    if not text or text.casefold() in ALL_LEVELS_WORDS:
        return None, True
    level = parse_level(text)
    return level, level is not None


def _mix(
    value: object, level: Level | None, problems: list[SpecProblem]
) -> dict[Difficulty, float] | None:
    """``difficulty: {易: 0.5, 中: 0.4, 难: 0.1}`` as shares adding up to one (percentages
    or any weights work too); ``None`` when the file sets none."""
    if value is None:
        return None
    if not isinstance(value, dict) or not value:
        problems.append(SpecProblem("difficulty", "bad_mix"))
        return None
    weights: dict[Difficulty, float] = {}
    for key, weight in value.items():
        difficulty = None if str(key).strip().isdigit() else parse_difficulty(str(key))
        if difficulty is None:
            problems.append(SpecProblem("difficulty", "bad_difficulty", {"value": str(key)}))
            continue
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
            problems.append(SpecProblem("difficulty", "bad_share", {"value": str(key)}))
            continue
        weights[difficulty] = weights.get(difficulty, 0.0) + float(weight)
    total = sum(weights.values())
    if len(problems) or not weights:
        return None
    if total <= 0:
        problems.append(SpecProblem("difficulty", "bad_mix"))
        return None
    if level is Level.PRIMARY and weights.get(Difficulty.HARD, 0) > 0:
        problems.append(SpecProblem("difficulty", "hard_for_primary"))
        return None
    return {d: weights[d] / total for d in Difficulty if weights.get(d, 0) > 0}


def parse_campaign_spec(text: str, zone: ZoneInfo) -> CampaignSpec:
    """Read a campaign YAML file; every problem is reported at once."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        raise SpecError([SpecProblem("file", "bad_yaml", {"line": line})]) from None
    if not isinstance(raw, dict):
        raise SpecError([SpecProblem("file", "not_a_mapping")])
    return campaign_spec_from_mapping(raw, zone)


def campaign_spec_from_mapping(raw: Mapping[str, Any], zone: ZoneInfo) -> CampaignSpec:
    """The rules of a campaign file, from its mapping: what the chat dialogue collects."""
    problems: list[SpecProblem] = []
    name = str(raw.get("name") or "").strip()
    if not name:
        problems.append(SpecProblem("name", "missing"))
    elif len(name) > 100:
        problems.append(SpecProblem("name", "too_long", {"max": 100}))
    banks = _names(raw.get("banks"))
    if not banks:
        problems.append(SpecProblem("banks", "missing"))
    questions = _int(raw, "questions", problems, low=1, high=200)
    if questions is None and "questions" not in raw:
        problems.append(SpecProblem("questions", "missing"))
    per_tag: dict[str, int] = {}
    if isinstance(raw.get("per_tag"), dict):
        for tag, quota in raw["per_tag"].items():
            if isinstance(quota, int) and not isinstance(quota, bool) and quota > 0:
                per_tag[str(tag)] = quota
            else:
                problems.append(SpecProblem("per_tag", "bad_quota", {"tag": str(tag)}))
    per_question = _int(raw, "time_per_question", problems, low=5, high=3600)
    per_attempt = _int(raw, "time_per_attempt", problems, low=30, high=6 * 3600)
    attempts = _int(raw, "attempts", problems, low=1, high=100)
    pass_mark = _int(raw, "pass_mark", problems, low=0, high=100)
    distinction = _int(raw, "distinction", problems, low=1, high=100)
    if distinction is not None and distinction <= (60 if pass_mark is None else pass_mark):
        problems.append(SpecProblem("distinction", "not_above_pass_mark"))
    try:
        feedback = Feedback(str(raw.get("feedback", "each")))
    except ValueError:
        problems.append(SpecProblem("feedback", "bad_choice", {"choices": "each, end"}))
        feedback = Feedback.EACH
    opens = parse_local_time(raw.get("opens"), zone)
    closes = parse_local_time(raw.get("closes"), zone)
    if opens is None:
        problems.append(SpecProblem("opens", "bad_time"))
    if closes is None:
        problems.append(SpecProblem("closes", "bad_time"))
    if opens and closes and closes <= opens:
        problems.append(SpecProblem("closes", "before_opens"))
    audience = raw.get("audience") or {}
    if not isinstance(audience, dict):
        problems.append(SpecProblem("audience", "not_a_mapping"))
        audience = {}
    roles: list[Role] = []
    for role in _names(audience.get("roles")):
        try:
            roles.append(Role(role))
        except ValueError:
            problems.append(SpecProblem("audience.roles", "bad_role", {"role": role}))
    if per_tag and questions is not None and sum(per_tag.values()) > questions:
        problems.append(SpecProblem("per_tag", "quotas_exceed_questions"))
    level, level_ok = parse_spec_level(raw.get("level"))
    if not level_ok:
        problems.append(SpecProblem("level", "bad_level", {"value": str(raw.get("level"))}))
    mix_problems: list[SpecProblem] = []
    difficulty_mix = _mix(raw.get("difficulty"), level, mix_problems)
    problems += mix_problems
    if problems:
        raise SpecError(problems)
    assert questions is not None and opens is not None and closes is not None
    rules = Rules(
        questions=questions,
        per_tag=per_tag,
        seconds_per_question=per_question,
        seconds_per_attempt=per_attempt,
        attempts_allowed=attempts or 1,
        pass_mark=60 if pass_mark is None else pass_mark,
        distinction=distinction,
        feedback=feedback,
        partial_credit=bool(raw.get("partial_credit", False)),
        certificate=bool(raw.get("certificate", True)),
        level=level,
        difficulty_mix=difficulty_mix,
    )
    return CampaignSpec(
        name=name,
        bank_names=banks,
        rules=rules,
        opens_at=opens,
        closes_at=closes,
        unit_names=_names(audience.get("units")),
        roles=tuple(roles),
        draft=bool(raw.get("draft", False)),
    )
