"""Participation figures for a period and a unit of the tree: the report's numbers.

Pure data. The figures are counted in SQL by :mod:`storage.statistics`, where each one
is defined once (with a docstring saying exactly what it counts); the report, the
spreadsheet, the CSV and the chat answers all read these objects and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from quizzes.participants import Role


class Section(StrEnum):
    """Groups of figures; a section is present only when its tables exist."""

    REGISTRATION = "registration"
    QUIZ = "quiz"
    PUBLICITY = "publicity"
    SHORTLIST = "shortlist"
    LECTURES = "lectures"


@dataclass(frozen=True, slots=True)
class Period:
    """Calendar days ``start`` to ``end``, both included, in the bureau's time zone."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"the period ends ({self.end}) before it starts ({self.start})")

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """``[from, to)`` in UTC: midnight of ``start`` to midnight after ``end``."""
        begin = datetime.combine(self.start, time(), zone)
        finish = datetime.combine(self.end + timedelta(days=1), time(), zone)
        return begin.astimezone(UTC), finish.astimezone(UTC)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @classmethod
    def year_to_date(cls, today: date) -> Period:
        return cls(date(today.year, 1, 1), today)

    @classmethod
    def previous_month(cls, today: date) -> Period:
        last = today.replace(day=1) - timedelta(days=1)
        return cls(last.replace(day=1), last)

    @classmethod
    def previous_days(cls, today: date, days: int) -> Period:
        return cls(today - timedelta(days=days), today - timedelta(days=1))


@dataclass(frozen=True, slots=True)
class RoleCounts:
    """People counted by role; parents are counted but are not enrolled anywhere."""

    student: int = 0
    teacher: int = 0
    parent: int = 0

    @property
    def total(self) -> int:
        return self.student + self.teacher + self.parent

    @property
    def enrolled_roles(self) -> int:
        """Students and teachers: the people an enrolment figure counts."""
        return self.student + self.teacher

    def __add__(self, other: RoleCounts) -> RoleCounts:
        return RoleCounts(
            self.student + other.student, self.teacher + other.teacher, self.parent + other.parent
        )

    @classmethod
    def of(cls, counts: dict[str | None, int]) -> RoleCounts:
        return cls(
            counts.get(Role.STUDENT.value, 0),
            counts.get(Role.TEACHER.value, 0),
            counts.get(Role.PARENT.value, 0),
        )


def rate(part: int, whole: int) -> float | None:
    """``part / whole`` as a fraction, or ``None`` when there is no enrolment to compare."""
    return part / whole if whole > 0 else None


@dataclass(frozen=True, slots=True)
class UnitFigures:
    """Every figure for one school (or the scope's total). Counts, never names of people."""

    unit_id: int | None
    name: str
    students_enrolled: int = 0
    teachers_enrolled: int = 0
    registered: RoleCounts = RoleCounts()
    took_part: RoleCounts = RoleCounts()
    completed: int = 0
    passed: int = 0
    articles_published: int = 0
    deliveries: int = 0
    people_reached: int = 0
    reads: int = 0
    clicks: int = 0
    shortlisted: int = 0
    lecture_checkins: int = 0
    lecture_attendees: RoleCounts = RoleCounts()

    @property
    def enrolled(self) -> int:
        return self.students_enrolled + self.teachers_enrolled

    @property
    def participation_rate(self) -> float | None:
        """Students and teachers who took part, over students and teachers enrolled."""
        return rate(self.took_part.enrolled_roles, self.enrolled)

    @property
    def registration_rate(self) -> float | None:
        return rate(self.registered.enrolled_roles, self.enrolled)

    @property
    def pass_rate(self) -> float | None:
        """Passed over took part (everyone who started an attempt in the period)."""
        return rate(self.passed, self.took_part.total)

    def __add__(self, other: UnitFigures) -> UnitFigures:
        return replace(
            self,
            students_enrolled=self.students_enrolled + other.students_enrolled,
            teachers_enrolled=self.teachers_enrolled + other.teachers_enrolled,
            registered=self.registered + other.registered,
            took_part=self.took_part + other.took_part,
            completed=self.completed + other.completed,
            passed=self.passed + other.passed,
            articles_published=self.articles_published + other.articles_published,
            deliveries=self.deliveries + other.deliveries,
            people_reached=self.people_reached + other.people_reached,
            reads=self.reads + other.reads,
            clicks=self.clicks + other.clicks,
            shortlisted=self.shortlisted + other.shortlisted,
            lecture_checkins=self.lecture_checkins + other.lecture_checkins,
            lecture_attendees=self.lecture_attendees + other.lecture_attendees,
        )


@dataclass(frozen=True, slots=True)
class CampaignFigures:
    """One quiz campaign within the scope and period."""

    campaign_id: int
    name: str
    opens_at: datetime
    closes_at: datetime
    took_part: RoleCounts
    completed: int
    passed: int
    enrolled: int  # of the scope: the denominator of the rate

    @property
    def participation_rate(self) -> float | None:
        return rate(self.took_part.enrolled_roles, self.enrolled)


@dataclass(frozen=True, slots=True)
class LectureFigures:
    """One online lecture held for the scope in the period, and its attendance there."""

    lecture_id: int
    title: str
    speaker: str
    starts_at: datetime
    checkins: int  # participants of the scope who checked in


@dataclass(frozen=True, slots=True)
class Statistics:
    """The figures of one scope (a unit of the tree) over one period."""

    period: Period
    scope_id: int
    scope_name: str
    schools: tuple[UnitFigures, ...]
    # Participants of the scope who belong to no school (attached to a regiment, say).
    elsewhere: UnitFigures | None
    total: UnitFigures
    campaigns: tuple[CampaignFigures, ...] = ()
    sections: frozenset[Section] = field(default_factory=frozenset)
    lectures: tuple[LectureFigures, ...] = ()

    @property
    def lectures_held(self) -> int:
        """Online lectures held for the scope in the period (see ``lectures`` in
        :mod:`storage.statistics`)."""
        return len(self.lectures)

    @property
    def schools_covered(self) -> int:
        """Schools where at least one person took part in a quiz."""
        return sum(1 for school in self.schools if school.took_part.total > 0)

    def ranked(self) -> list[UnitFigures]:
        """Schools with an enrolment, highest participation rate first (then by name)."""
        rated = [s for s in self.schools if s.participation_rate is not None]
        return sorted(rated, key=lambda s: (-(s.participation_rate or 0.0), s.name))

    def highest(self, count: int = 3) -> list[UnitFigures]:
        """Up to ``count`` schools with the highest rate, never more than half of them
        (so that no school is both among the highest and the lowest)."""
        ranked = self.ranked()
        return ranked[: min(count, len(ranked) // 2)]

    def lowest(self, count: int = 3) -> list[UnitFigures]:
        """Up to ``count`` schools with the lowest rate, lowest first."""
        ranked = self.ranked()
        shown = min(count, len(ranked) // 2)
        return list(reversed(ranked[len(ranked) - shown :]))


def total_of(
    name: str, parts: Iterable[UnitFigures], *, articles_published: int | None = None
) -> UnitFigures:
    """Sum of per-school figures. Articles do not add up (an article delivered to two
    schools is one article), so their total is given, counted on its own."""
    total = UnitFigures(None, name)
    for part in parts:
        total = total + part
    if articles_published is not None:
        total = replace(total, articles_published=articles_published)
    return total
