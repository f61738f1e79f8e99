"""Participation figures for a period and a unit of the tree: the report's numbers.

Pure data. The figures are counted in SQL by :mod:`storage.statistics`, where each one
is defined once (with a docstring saying exactly what it counts); the report, the
spreadsheet, the CSV and the chat answers all read these objects and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from itertools import groupby
from zoneinfo import ZoneInfo

from quizzes.activities import ActivityFigures
from quizzes.participants import Role
from quizzes.theme_figures import ThemeBreakdown


class Section(StrEnum):
    """Groups of figures; a section is present only when its tables exist."""

    REGISTRATION = "registration"
    QUIZ = "quiz"
    PUBLICITY = "publicity"
    SHORTLIST = "shortlist"
    LECTURES = "lectures"
    ACTIVITIES = "activities"


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


class PeriodProblem(StrEnum):
    """Why a period typed by a person cannot be used (each has its message in the catalog,
    ``report.period.<value>``)."""

    USAGE = "usage"  # neither nothing, a year, nor two dates
    BAD_DATE = "bad_date"  # not a date of the calendar, as YYYY-MM-DD
    REVERSED = "reversed"  # ends before it starts
    NOT_STARTED = "not_started"  # starts after today


class PeriodError(ValueError):
    def __init__(
        self,
        problem: PeriodProblem,
        *,
        text: str = "",
        start: date | None = None,
        end: date | None = None,
    ) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.text = text
        self.start = start
        self.end = end


def _day_of(text: str) -> date:
    try:
        if not (len(text) == 10 and text.isascii()):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise PeriodError(PeriodProblem.BAD_DATE, text=text) from None


def parse_period(args: str | None, today: date) -> Period:
    """Nothing (1 January to today), a year (``2022``) or two dates (``2022-01-01
    2022-12-31``). A period cannot end after today: the figures stop there, and so does
    what the report says ("截至" today, not 31 December)."""
    parts = (args or "").split()
    if not parts:
        return Period.year_to_date(today)
    if len(parts) == 1 and parts[0].isascii() and parts[0].isdigit() and len(parts[0]) == 4:
        period = Period(date(int(parts[0]), 1, 1), date(int(parts[0]), 12, 31))
    elif len(parts) == 2:
        period = period_between(parts[0], parts[1])
    else:
        raise PeriodError(PeriodProblem.USAGE, text=" ".join(parts))
    if period.start > today:
        raise PeriodError(PeriodProblem.NOT_STARTED, start=period.start, end=period.end)
    return Period(period.start, min(period.end, today))


def period_between(first: str, last: str) -> Period:
    """Two dates typed as ``YYYY-MM-DD``, first to last, both included."""
    start, end = _day_of(first), _day_of(last)
    if end < start:
        raise PeriodError(PeriodProblem.REVERSED, start=start, end=end)
    return Period(start, end)


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


def rounded_percent(fraction: float, digits: int = 1) -> Decimal:
    """``fraction`` (0.8125) as a percentage (81.3) rounded half up (四舍五入), the one
    rounding of every output: documents, tables, spreadsheets, chat and the command line.

    The fraction goes through its shortest decimal form, so 0.8125 is rounded as written
    rather than as the binary float nearest to it."""
    return (Decimal(str(fraction)) * 100).quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP)


def score_percent(percent: float) -> str:
    """A person's score (0-100) as shown to them: whole when it is whole (``60``), else
    one decimal (``59.5``), so that a score just under the pass mark never reads as the
    pass mark next to 未合格, as rounding it to a whole number would."""
    shown = rounded_percent(percent / 100, 1)
    return str(shown.quantize(Decimal(1))) if shown == shown.to_integral_value() else str(shown)


def percent_text(fraction: float | None, digits: int = 1) -> str:
    """``81.3%`` (see :func:`rounded_percent`), or ``—`` when there is nothing to compare."""
    return "—" if fraction is None else f"{rounded_percent(fraction, digits)}%"


def stored_percent(fraction: float | None, digits: int = 1) -> float | None:
    """The fraction rounded as :func:`rounded_percent` rounds it (0.813 for 0.8125), for a
    spreadsheet cell formatted as a percentage: Excel then shows the text's digits."""
    if fraction is None:
        return None
    return float(rounded_percent(fraction, digits) / 100)


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
    # The part of registered and took_part that came through the web pages (no Telegram).
    registered_on_web: int = 0
    took_part_on_web: int = 0

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
        """Passed over completed: the sentence reads "完成答题N人，成绩合格M人，合格率M÷N"."""
        return rate(self.passed, self.completed)

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
            registered_on_web=self.registered_on_web + other.registered_on_web,
            took_part_on_web=self.took_part_on_web + other.took_part_on_web,
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
    # Took part per day of the campaigns' window (see ``took_part_by_day`` in storage).
    daily: tuple[tuple[date, int], ...] = ()
    # Offline activities the bureau confirmed, and the schools' 法治副校长.
    activities: ActivityFigures = field(default_factory=ActivityFigures)
    # Articles and quiz campaigns per theme (see :mod:`storage.theme_figures`).
    themes: ThemeBreakdown = field(default_factory=ThemeBreakdown)

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
        """Schools that stand out upwards: among the top ``count``, never more than half of
        the schools (so that none is both among the highest and the lowest) nor part of a
        tie, those whose rate is above zero and above every school of the bottom ``count``."""
        ranked = self.ranked()
        shown = min(count, len(ranked) // 2)
        floor = max((_rate_of(s) for s in ranked[len(ranked) - shown :]), default=0.0)
        return [s for s in _whole_ties(ranked, shown) if _rate_of(s) > 0 and floor < _rate_of(s)]

    def lowest(self, count: int = 3) -> list[UnitFigures]:
        """Schools that stand out downwards, lowest first: among the schools where someone
        took part (the others are :meth:`not_started`), up to ``count`` below every school
        named among the highest, whole ties only (none when no school stands out upwards:
        then all are alike)."""
        named = self.highest(count)
        if not named:
            return []
        ceiling = min(_rate_of(s) for s in named)
        below = [s for s in reversed(self.ranked()) if 0 < _rate_of(s) < ceiling]
        return sorted(_whole_ties(below, count), key=lambda s: (_rate_of(s), s.name))

    def not_started(self) -> list[UnitFigures]:
        """Schools where no student or teacher took part, in roster order: all of them, never
        a few picked from a tie at 0.0% (none for a scope of one school)."""
        rated = [s for s in self.schools if s.participation_rate is not None]
        if len(rated) < 2:
            return []
        return [s for s in rated if s.took_part.enrolled_roles == 0]


def _whole_ties(ordered: list[UnitFigures], count: int) -> list[UnitFigures]:
    """The first ``count`` of ``ordered`` by whole ties (schools showing the same rate, to
    one decimal): a tie the cut would split is left out, unless it is the first, which is
    then named whole rather than a few of it picked at random."""
    taken: list[UnitFigures] = []
    for _rate, tie in groupby(ordered, key=_shown):
        group = list(tie)
        if taken and len(taken) + len(group) > count:
            break
        taken.extend(group)
        if len(taken) >= count:
            break
    return taken if count > 0 else []


def _shown(school: UnitFigures) -> Decimal:
    return rounded_percent(_rate_of(school))


def _rate_of(school: UnitFigures) -> float:
    return school.participation_rate or 0.0


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
