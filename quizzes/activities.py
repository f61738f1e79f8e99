"""Activities: what the bureau or a school organised and people took part in.

An activity has a kind (:mod:`quizzes.activity_kinds`), a theme, a day, an organising
unit (a school, or one of its classes), a title, the people reached counted by role
(offline events are counted by head, not by name) and, for lectures, a speaker. Schools
record their own; the bureau confirms or rejects them, and the report counts only what
is confirmed (:func:`counts_in_report`).

An online lecture is an activity of the kind ``online_lecture`` made when it is
scheduled: confirmed at once (only staff schedule one, and the bot counts who took part
by their check-ins: nothing is left for the bureau to confirm) and cancelled with it.
Its participation records are the lecture's check-ins, and the report reads whether it
was held, and who took part, from the lecture (:attr:`ActivityFigures.checked_in`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from quizzes.activity_kinds import ActivityKind, kind_named
from quizzes.participants import Role
from quizzes.permissions import Permissions
from quizzes.themes import Theme
from quizzes.units import Unit


class ActivityStatus(StrEnum):
    """A school's entry waits for the bureau; the bureau's own entries are confirmed."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"  # an online lecture called off


class Source(StrEnum):
    CHAT = "chat"
    IMPORT = "import"
    LECTURE = "lecture"  # scheduled as an online lecture


@dataclass(frozen=True, slots=True)
class Headcount:
    """People reached by an offline event, by role (人次: a person at two events counts
    twice)."""

    students: int = 0
    teachers: int = 0
    parents: int = 0

    @property
    def total(self) -> int:
        return self.students + self.teachers + self.parents

    def __add__(self, other: Headcount) -> Headcount:
        return Headcount(
            self.students + other.students,
            self.teachers + other.teachers,
            self.parents + other.parents,
        )


# A school's headcount beyond this is a typing slip (one more zero), not an event.
MAX_HEADCOUNT = 100_000
MAX_TITLE = 100
MAX_SPEAKER = 40
MAX_PHOTOS = 9  # what one Telegram album holds


@dataclass(frozen=True, slots=True)
class ActivityDraft:
    """What a recorder says about an event; checked by :func:`problems_of`."""

    kind: str
    theme: Theme
    held_on: date
    title: str
    unit_id: int
    headcount: Headcount
    speaker: str = ""
    speaker_organisation: str = ""


@dataclass(frozen=True, slots=True)
class Activity:
    id: int
    kind: str
    theme: Theme
    held_on: date
    title: str
    unit_id: int
    headcount: Headcount
    speaker: str
    speaker_organisation: str
    status: ActivityStatus
    source: Source
    recorded_by: int | None
    recorded_at: datetime
    reviewed_by: int | None = None
    reviewed_at: datetime | None = None
    review_note: str = ""
    photos: int = 0

    @property
    def activity_kind(self) -> ActivityKind:
        return kind_named(self.kind)


def counts_in_report(activity: Activity) -> bool:
    """The report's rule: an activity counts once the bureau has confirmed it."""
    return activity.status is ActivityStatus.CONFIRMED


def status_on_recording(*, recorded_by_bureau: bool) -> ActivityStatus:
    """The bureau's own entries (chat or import) need nobody's confirmation."""
    return ActivityStatus.CONFIRMED if recorded_by_bureau else ActivityStatus.PENDING


def may_record(
    unit: Unit, *, permissions: Permissions, role: Role | None, own_unit_id: int | None
) -> bool:
    """The bureau records anywhere, a coordinator for their schools and classes, a
    teacher for their own class (or school, if that is where they registered)."""
    return permissions.may_manage(unit) or (role is Role.TEACHER and unit.id == own_unit_id)


_COUNT_WORDS = (
    ("students", ("学生", "students", "student", "pupils")),
    ("teachers", ("教职工", "教师", "老师", "teachers", "teacher", "staff")),
    ("parents", ("家长", "parents", "parent")),
)


def parse_headcount(text: str) -> Headcount | None:
    """ "45 2 0", "学生45 教职工2", "学生 45，家长 10": the counts a recorder types; in
    order (students, teachers, parents) when no word names them. ``None`` when the text
    holds no count or a word names none of the three."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    numbers = [int(n) for n in re.findall(r"\d+", folded)]
    if not numbers or len(numbers) > 3:
        return None
    named: dict[str, int] = {}
    for match in re.finditer(r"([^\d\s,，、;；:：]+)\s*[:：]?\s*(\d+)", folded):
        word, count = match.group(1), int(match.group(2))
        key = next((k for k, words in _COUNT_WORDS if word in words), None)
        if key is None:
            return None
        named[key] = count
    if named:
        if len(named) != len(numbers):
            return None
        return Headcount(**named)
    return Headcount(*numbers)


def problems_of(draft: ActivityDraft, *, today: date) -> list[tuple[str, dict[str, str | int]]]:
    """Why the draft cannot be recorded, as ``(code, params)``; empty when it can."""
    problems: list[tuple[str, dict[str, str | int]]] = []
    kind = kind_named(draft.kind)
    if kind.checked_in:  # an online lecture is scheduled, not recorded
        problems.append(("unknown_kind", {"value": kind.zh}))
    if not draft.title.strip():
        problems.append(("missing_title", {}))
    elif len(draft.title) > MAX_TITLE:
        problems.append(("title_too_long", {"max": MAX_TITLE}))
    if draft.held_on > today:
        problems.append(("date_in_future", {"date": draft.held_on.isoformat()}))
    counts = (draft.headcount.students, draft.headcount.teachers, draft.headcount.parents)
    if any(count < 0 for count in counts):
        problems.append(("negative_count", {}))
    elif any(count > MAX_HEADCOUNT for count in counts):
        problems.append(("count_too_large", {"max": MAX_HEADCOUNT}))
    elif draft.headcount.total == 0:
        problems.append(("nobody_counted", {}))
    if kind.needs_speaker and not draft.speaker.strip():
        problems.append(("missing_speaker", {}))
    if len(draft.speaker) > MAX_SPEAKER or len(draft.speaker_organisation) > MAX_SPEAKER:
        problems.append(("speaker_too_long", {"max": MAX_SPEAKER}))
    return problems


@dataclass(frozen=True, slots=True)
class ActivityTally:
    """Confirmed events of one kind and theme at one school in a period; ``school_id``
    None: the whole scope (online lectures, held for an audience rather than a school)."""

    school_id: int | None
    kind: str
    theme: Theme
    events: int
    headcount: Headcount


@dataclass(frozen=True, slots=True)
class KindFigures:
    kind: ActivityKind
    events: int
    headcount: Headcount


@dataclass(frozen=True, slots=True)
class ThemeFigures:
    theme: Theme
    events: int
    headcount: Headcount


@dataclass(frozen=True, slots=True)
class ActivityFigures:
    """The activities of a report: the offline ones the bureau confirmed, by school, kind
    and theme; how many entries still wait; which schools have a 法治副校长; and the
    online lectures held for the scope, by theme (``checked_in``).

    Every figure is derived from the tallies, so a new kind needs no new field. The
    offline figures (:attr:`events`, :attr:`headcount`, :meth:`of_school`) leave the
    online lectures out: those are the report's lecture figures (lectures held,
    check-ins), counted once there and shown again only as their kind in
    :meth:`by_kind` and :meth:`by_theme`, whose sums are :attr:`every_event` and
    :attr:`every_attendance` (offline 人次 plus check-ins, each counted once).
    """

    tallies: tuple[ActivityTally, ...] = ()
    pending: int = 0
    # Schools of the scope with a 法治副校长 serving on the period's last day.
    with_vice_principal: frozenset[int] = frozenset()
    # Online lectures held for the scope, per theme: events are lectures held (as the
    # report's lectures held counts them), headcount their check-ins by role (人次).
    checked_in: tuple[ActivityTally, ...] = ()

    @property
    def recorded(self) -> bool:
        """Any offline activity to report: the section is left out of a report without
        it (online lectures have a section of their own)."""
        return bool(self.tallies or self.pending or self.with_vice_principal)

    @property
    def events(self) -> int:
        """Offline events."""
        return sum(t.events for t in self.tallies)

    @property
    def headcount(self) -> Headcount:
        """Offline attendances (人次)."""
        return sum((t.headcount for t in self.tallies), Headcount())

    @property
    def every_event(self) -> int:
        """Events of every kind: offline ones and online lectures held."""
        return self.events + sum(t.events for t in self.checked_in)

    @property
    def every_attendance(self) -> Headcount:
        """Attendances (人次) of every kind: offline headcounts and lecture check-ins."""
        return sum((t.headcount for t in self.checked_in), self.headcount)

    def by_kind(self) -> tuple[KindFigures, ...]:
        """Kinds with at least one event, online lectures among them, in the registry's
        order."""
        from quizzes.activity_kinds import KINDS

        every = (*self.tallies, *self.checked_in)
        found = []
        for kind in KINDS:
            mine = [t for t in every if kind_named(t.kind) == kind]
            if mine:
                total = sum((t.headcount for t in mine), Headcount())
                found.append(KindFigures(kind, sum(t.events for t in mine), total))
        return tuple(found)

    def by_theme(self) -> tuple[ThemeFigures, ...]:
        """Themes with at least one event of any kind, online lectures among them."""
        every = (*self.tallies, *self.checked_in)
        found = []
        for theme in Theme:
            mine = [t for t in every if t.theme is theme]
            if mine:
                total = sum((t.headcount for t in mine), Headcount())
                found.append(ThemeFigures(theme, sum(t.events for t in mine), total))
        return tuple(found)

    def of_school(self, school_id: int | None) -> tuple[int, Headcount]:
        mine = [t for t in self.tallies if t.school_id == school_id]
        return sum(t.events for t in mine), sum((t.headcount for t in mine), Headcount())

    def vice_principal_lectures(self, school_id: int | None = None) -> int:
        """Lectures given by 法治副校长 (all schools, or one)."""
        return sum(
            t.events
            for t in self.tallies
            if kind_named(t.kind).by_vice_principal
            and (school_id is None or t.school_id == school_id)
        )


@dataclass(frozen=True, slots=True)
class ReportPhoto:
    """A photo for the report's appendix, with what its caption says."""

    school_id: int
    held_on: date
    title: str
    content: bytes


# ---------------------------------------------------------------------- online lectures

STORED_TITLE = 200  # activities.title
STORED_SPEAKER = 80  # activities.speaker


def lecture_organiser(audience_paths: Sequence[str], root_ids: Sequence[int]) -> int | None:
    """The unit an online lecture's activity is organised by: the lowest unit whose
    subtree holds every unit of its audience (``audience_paths``, materialised paths
    like ``/1/4/17/``); the first root, the bureau's own, for an audience of everyone or
    one across roots; ``None`` when there is no unit at all."""
    chains = [
        [int(part) for part in path.strip("/").split("/") if part] for path in audience_paths
    ]
    chains = [chain for chain in chains if chain]
    if chains:
        common = chains[0]
        for chain in chains[1:]:
            length = 0
            while length < min(len(common), len(chain)) and common[length] == chain[length]:
                length += 1
            common = common[:length]
        if common:
            return common[-1]
    return min(root_ids) if root_ids else None


def lecture_activity_titles(title: str, starts_local: datetime, lecture_id: int) -> list[str]:
    """The titles to try, in turn, for a lecture's activity (one organiser has one
    activity of a kind, day and title): the lecture's own; then with its start time, for
    a lecture rescheduled the same day under the same title; then with its number."""

    def fitted(suffix: str) -> str:
        return title[: STORED_TITLE - len(suffix)] + suffix

    return [fitted(""), fitted(f"（{starts_local:%H:%M}）"), fitted(f"（#{lecture_id}）")]
