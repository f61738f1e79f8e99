"""The report's figures, counted in SQL: one ``GROUP BY`` per figure group, no rows loaded.

Each figure is defined once, below, by a function whose docstring says exactly what it
counts. All of them share two rules:

- **Where a person counts.** A participant counts in the unit they belong to *now*
  (``participants.unit_id``); a school's figures include its classes (the unit's
  materialised path starts with the school's). The scope is any unit of the tree: a
  division or regiment is broken down by its schools, a school or class is one row.
  Participants of the scope who belong to no school (attached to a regiment, say) are
  counted in ``Statistics.elsewhere`` and in the total.
- **When.** A period is whole days in the bureau's time zone, both ends included:
  ``[start 00:00, end + 1 day 00:00)``.

People are counted as distinct participants, so a person with three attempts is one
participant, and because a person belongs to exactly one unit the per-school figures
add up to the total. Figures that count events rather than people say so and are
labelled 人次 in the report (a delivery, a read, a check-in).

An online lecture's announcement, reminder and cancellation notice are articles tied to
the lecture (``articles.lecture_id`` set) so that they go through the broadcaster; they
are the lecture's notices, not publicity articles, and count in none of the article
figures (published, delivered, people reached, read, clicked). The lecture counts under
:func:`lectures_held` and :func:`lecture_attendance`.

An online lecture is also an activity (kind ``online_lecture``, ``lectures.activity_id``)
whose participation records are its check-ins. Its figures as a kind (events and 人次,
per theme) are read from the same two queries, :func:`lectures_held` and
:func:`lecture_attendance`, never from the activity row's own day or status, so the
lecture figures and the kind's agree by construction; :func:`storage.activities.activity_tallies`
leaves that kind out, so no lecture is counted twice in any total.
A class's quiz reminder, sent from the dashboard by its teacher, is an article too
(``class_reminder_articles``) and is left out of the article figures the same way, as is
a reminder to read an article (``articles.reminder_of``): its reads and clicks count for
the article it names.

The large tables (attempts, deliveries, reads, clicks) are first folded per person or
counted per unit (the participant's ``unit_id``), then the few unit rows are mapped to
the report's rows: the map is joined to a few hundred grouped rows instead of to every
fact row.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    TextClause,
    and_,
    case,
    false,
    func,
    literal,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from quizzes.activities import ActivityFigures, ActivityTally, Headcount
from quizzes.activity_kinds import ONLINE_LECTURE, kind_named
from quizzes.participants import Role
from quizzes.publicity import Audience
from quizzes.statistics import (
    CampaignFigures,
    LectureFigures,
    Period,
    RoleCounts,
    Section,
    Statistics,
    UnitFigures,
    total_of,
)
from quizzes.themes import Theme
from quizzes.units import Unit
from storage.activities import (
    activities_pending,
    activity_tallies,
    counted_checkins,
    schools_with_vice_principal,
    tally_rows,
)
from storage.models import ParticipantRow, UnitRow
from storage.models_activities import ActivityRow
from storage.models_publicity import (
    ArticleReadRow,
    ArticleRow,
    BroadcastRow,
    DeliveryRow,
    LectureCheckinRow,
    LectureRow,
    LinkClickRow,
)
from storage.models_quiz import AttemptRow, CampaignRow, ShortlistEntryRow, ShortlistRow
from storage.publicity import is_publicity
from storage.scope import Query, Scope
from storage.theme_figures import articles_of_themes, campaigns_by_theme, theme_breakdown

__all__ = ["SECTIONS", "Scope", "StatisticsRepository"]

SECTIONS = frozenset(Section)
# The queries each section needs; the units' names and enrolment are always read.
_SECTION_QUERIES: dict[Section, tuple[str, ...]] = {
    Section.REGISTRATION: ("registration", "web"),
    Section.QUIZ: ("quiz", "quiz_campaigns", "daily", "campaigns", "web"),
    # Articles and campaigns per theme: read with the articles, not by the live figures.
    Section.PUBLICITY: (
        "reach",
        "publicity",
        "engagement",
        "broadcasts",
        "theme_articles",
        "theme_campaigns",
    ),
    Section.SHORTLIST: ("shortlist",),
    Section.LECTURES: ("attendance", "lectures"),
    Section.ACTIVITIES: ("activities", "activities_pending", "vice_principals"),
}

# The sections whose figures are all counted per row, so that a scope's figures can be
# cut into its schools' own (:meth:`StatisticsRepository.compile_by_school`).
BY_SCHOOL_SECTIONS = frozenset({Section.REGISTRATION, Section.QUIZ})

Progress = Callable[[str], None]
_SNAPSHOT = re.compile(r"^[0-9A-Fa-f-]+$")
# Sorts and hash tables of a report fit in memory instead of spilling to disk; LOCAL: for
# the report's own transactions only.
_WORK_MEM = text("SET LOCAL work_mem = '64MB'")
# A background computation's statements each run on one core (see ``in_background``).
_ONE_CORE = text("SET LOCAL max_parallel_workers_per_gather = 0")


def _in(column: Any, bounds: tuple[datetime, datetime]) -> Any:
    return and_(column >= bounds[0], column < bounds[1])


# -- the figures ------------------------------------------------------------------------


def enrolment(scope: Scope) -> Query:
    """Enrolled students and teachers of each row unit, as imported from the roster.

    A school's own enrolment figures (the roster's school row, or the sum of its class
    rows when the roster gave only classes); classes are not added on top. Not dated:
    the roster as it is now.
    """
    parent = UnitRow.__table__.alias("parent")
    return (
        select(
            UnitRow.id,
            UnitRow.name,
            UnitRow.students_enrolled,
            UnitRow.teachers_enrolled,
            parent.c.name.label("parent_name"),
        )
        .join(scope.rows, scope.rows.c.id == UnitRow.id)
        .outerjoin(parent, parent.c.id == UnitRow.parent_id)
    )


def registered(scope: Scope, bounds: tuple[datetime, datetime]) -> Query:
    """Registered participants by row and role, as of the end of the period.

    A participant is registered from the moment registration is complete
    (``joined_at``: unit, role and display name given) and counts if that moment is
    before the end of the period, whatever happened before its start. Participants who
    blocked the bot later still count: they registered.
    """
    per_unit = (
        select(ParticipantRow.unit_id, ParticipantRow.role, func.count().label("n"))
        .where(
            ParticipantRow.joined_at.is_not(None),
            ParticipantRow.joined_at < bounds[1],
            scope.in_scope(ParticipantRow.unit_id),
        )
        .group_by(ParticipantRow.unit_id, ParticipantRow.role)
        .subquery("per_unit")
    )
    return scope.per_row(per_unit, per_unit.c.role, per_unit.c.n)


def on_the_web(scope: Scope, bounds: tuple[datetime, datetime]) -> Query:
    """Per row, the part of :func:`registered` and of :func:`quiz_participation`'s took
    part that came through the participant pages: people without a Telegram id, counted
    by the same rules (registered by the end of the period; an attempt started in it).
    ``(row_id, registered, took part)``."""
    took_part = (
        select(AttemptRow.id)
        .where(AttemptRow.participant_id == ParticipantRow.id, _in(AttemptRow.started_at, bounds))
        .exists()
    )
    joined = and_(ParticipantRow.joined_at.is_not(None), ParticipantRow.joined_at < bounds[1])
    per_unit = (
        select(
            ParticipantRow.unit_id,
            func.sum(case((joined, 1), else_=0)).label("r"),
            func.sum(case((took_part, 1), else_=0)).label("t"),
        )
        .where(ParticipantRow.telegram_id.is_(None), scope.in_scope(ParticipantRow.unit_id))
        .group_by(ParticipantRow.unit_id)
        .subquery("per_unit")
    )
    return (
        select(scope.map.c.row_id, func.sum(per_unit.c.r), func.sum(per_unit.c.t))
        .join(scope.map, scope.map.c.unit_id == per_unit.c.unit_id)
        .group_by(scope.map.c.row_id)
    )


def _attempt_flags() -> tuple[Any, Any]:
    finished = func.max(case((AttemptRow.status == "finished", 1), else_=0))
    passed = func.max(case((AttemptRow.passed.is_(true()), 1), else_=0))
    return finished.label("f"), passed.label("p")


def quiz_participation(scope: Scope, bounds: tuple[datetime, datetime]) -> Query:
    """Took part, completed and passed, per row and role.

    The attempts counted are those *started* in the period:

    - took part: distinct participants with at least one such attempt;
    - completed: distinct participants with at least one such attempt finished
      (answered to the end or closed by its time limit);
    - passed: distinct participants with at least one such attempt that passed
      (score at or above the campaign's pass mark).

    So passed <= completed <= took part. Per row a person counts once however many
    attempts and campaigns; per campaign (:func:`quiz_by_campaign`) once in each
    campaign they took part in.

    The attempts are folded per person first, then counted per unit and role:
    ``(row_id, role, took part, completed, passed)``.
    """
    per_person = (
        select(AttemptRow.participant_id.label("pid"), *_attempt_flags())
        .where(_in(AttemptRow.started_at, bounds))
        .group_by(AttemptRow.participant_id)
        .subquery("per_person")
    )
    per_unit = (
        select(
            ParticipantRow.unit_id,
            ParticipantRow.role,
            func.count().label("n"),
            func.sum(per_person.c.f).label("f"),
            func.sum(per_person.c.p).label("p"),
        )
        .select_from(per_person)
        .join(ParticipantRow, ParticipantRow.id == per_person.c.pid)
        .where(scope.in_scope(ParticipantRow.unit_id))
        .group_by(ParticipantRow.unit_id, ParticipantRow.role)
        .subquery("per_unit")
    )
    return (
        select(
            scope.map.c.row_id,
            per_unit.c.role,
            func.sum(per_unit.c.n),
            func.sum(per_unit.c.f),
            func.sum(per_unit.c.p),
        )
        .join(scope.map, scope.map.c.unit_id == per_unit.c.unit_id)
        .group_by(scope.map.c.row_id, per_unit.c.role)
    )


def quiz_by_campaign(
    scope: Scope, bounds: tuple[datetime, datetime], *, per_row: bool = False
) -> Query:
    """The figures of :func:`quiz_participation` per campaign instead of per row: a
    person counts once in each campaign they took part in (people of the scope only).

    ``(campaign_id, role, took part, completed, passed)``; with ``per_row``, the same per
    row of the scope as well: ``(row_id, campaign_id, role, ...)`` (a person is in one
    row, so a row's counts are what the row's own unit would count).
    """
    per_campaign = (
        select(
            AttemptRow.participant_id.label("pid"),
            AttemptRow.campaign_id.label("cid"),
            *_attempt_flags(),
        )
        .where(_in(AttemptRow.started_at, bounds))
        .group_by(AttemptRow.participant_id, AttemptRow.campaign_id)
        .subquery("per_campaign")
    )
    keys: list[Any] = [per_campaign.c.cid, ParticipantRow.role]
    query = (
        select()
        .select_from(per_campaign)
        .join(ParticipantRow, ParticipantRow.id == per_campaign.c.pid)
    )
    query, keys = _people_of_scope(query, keys, scope, per_row)
    counts = (func.count(), func.sum(per_campaign.c.f), func.sum(per_campaign.c.p))
    return query.add_columns(*keys, *counts).group_by(*keys)


def _people_of_scope(
    query: Query, keys: list[Any], scope: Scope, per_row: bool
) -> tuple[Query, list[Any]]:
    """``query`` (which joins ``participants``) narrowed to the scope's people: per row
    of the scope (the row first among ``keys``), or all of them together."""
    if per_row:
        joined = query.join(scope.map, scope.map.c.unit_id == ParticipantRow.unit_id)
        return joined, [scope.map.c.row_id, *keys]
    return query.where(ParticipantRow.unit_id.in_(select(scope.map.c.unit_id))), keys


def campaigns() -> Query:
    """Name and window of every campaign (labels for the campaign breakdown, not a figure;
    a short table, read whole)."""
    return select(CampaignRow.id, CampaignRow.name, CampaignRow.opens_at, CampaignRow.closes_at)


def took_part_by_row(scope: Scope, bounds: tuple[datetime, datetime]) -> Query:
    """The headline alone (took part per row): what the benchmark compares against."""
    return (
        select(scope.map.c.row_id, func.count(func.distinct(AttemptRow.participant_id)))
        .select_from(AttemptRow)
        .join(ParticipantRow, ParticipantRow.id == AttemptRow.participant_id)
        .join(scope.map, scope.map.c.unit_id == ParticipantRow.unit_id)
        .where(_in(AttemptRow.started_at, bounds))
        .group_by(scope.map.c.row_id)
    )


def took_part_by_day(
    scope: Scope,
    bounds: tuple[datetime, datetime],
    zone: ZoneInfo,
    dialect: str,
    *,
    per_row: bool = False,
) -> Query:
    """Took part per calendar day in the bureau's time zone: distinct participants of the
    scope who started an attempt that day (a person who took the quiz on two days counts
    on both, so the days do not add up to the period's figure). ``(day, count)``, days
    with nobody left out; on SQLite ``day`` is ``YYYY-MM-DD`` text.

    SQLite keeps no zone: the day is shifted by the zone's offset at the period's start,
    exact for zones without daylight saving time such as Asia/Shanghai.

    With ``per_row``, per row of the scope as well: ``(row_id, day, count)``.
    """
    if dialect == "postgresql":
        day = func.date(func.timezone(zone.key, AttemptRow.started_at))
    else:
        offset = bounds[0].astimezone(zone).utcoffset() or timedelta()
        day = func.date(AttemptRow.started_at, f"{int(offset.total_seconds()) // 60:+d} minutes")
    query = (
        select()
        .select_from(AttemptRow)
        .join(ParticipantRow, ParticipantRow.id == AttemptRow.participant_id)
        .where(_in(AttemptRow.started_at, bounds))
    )
    query, keys = _people_of_scope(query, [day], scope, per_row)
    columns = [*keys[:-1], day.label("day")]  # grouped by the expression, named "day"
    return query.add_columns(
        *columns, func.count(func.distinct(AttemptRow.participant_id))
    ).group_by(*keys)


def _article_broadcasts() -> Query:
    """Broadcasts of publicity articles: not test sends, not a lecture's notices."""
    return (
        select(BroadcastRow.id)
        .join(ArticleRow, ArticleRow.id == BroadcastRow.article_id)
        .where(BroadcastRow.test_send.is_(false()), is_publicity())
    )


def _published(bounds: tuple[datetime, datetime]) -> Any:
    return and_(ArticleRow.status == "published", _in(ArticleRow.publish_at, bounds))


def broadcast_articles(bounds: tuple[datetime, datetime]) -> Query:
    """Labels for :func:`publicity_reach`, not a figure: every broadcast of a publicity
    article (no test sends, no lecture notices) with its article and whether that
    article was published in the period. A short table, read whole.

    Returns ``(broadcast_id, article_id, published in the period)``.
    """
    return (
        select(BroadcastRow.id, ArticleRow.id, case((_published(bounds), 1), else_=0))
        .join(ArticleRow, ArticleRow.id == BroadcastRow.article_id)
        .where(BroadcastRow.test_send.is_(false()), is_publicity())
    )


def publicity_reach(scope: Scope, bounds: tuple[datetime, datetime]) -> Query:
    """Articles delivered (人次) and articles published, by row and broadcast.

    - **articles delivered** (送达人次): article messages Telegram accepted (status
      ``sent``) during the period, one per broadcast and recipient, so a person who got
      three articles counts three times. Test sends to the author, messages that failed,
      chats that blocked the bot and a lecture's notices are not counted.
    - **articles published** (篇): articles whose status is ``published`` and whose
      publication time (``publish_at``) falls in the period, with at least one such
      (non-test, sent) delivery, at any time, to a participant of the row. An article
      delivered to two schools counts once for each school and once in the total.

    Counted per unit and broadcast; the caller maps broadcasts to articles with
    :func:`broadcast_articles` (a few rows) instead of joining articles to every
    delivery. Returns ``(row_id, broadcast_id, 1 if sent in the period else 0, count)``.
    """
    in_period = _in(DeliveryRow.sent_at, bounds)
    published_broadcasts = (
        select(BroadcastRow.id)
        .join(ArticleRow, ArticleRow.id == BroadcastRow.article_id)
        .where(_published(bounds))
    )
    sent_in_period = case((in_period, 1), else_=0)
    per_unit = (
        select(
            ParticipantRow.unit_id,
            DeliveryRow.broadcast_id,
            sent_in_period.label("in_period"),
            func.count().label("n"),
        )
        .join(ParticipantRow, ParticipantRow.id == DeliveryRow.participant_id)
        .where(
            DeliveryRow.status == "sent",
            DeliveryRow.broadcast_id.in_(_article_broadcasts()),
            or_(in_period, DeliveryRow.broadcast_id.in_(published_broadcasts)),
            scope.in_scope(ParticipantRow.unit_id),
        )
        .group_by(ParticipantRow.unit_id, DeliveryRow.broadcast_id, sent_in_period)
        .subquery("per_unit")
    )
    return scope.per_row(per_unit, per_unit.c.broadcast_id, per_unit.c.in_period, per_unit.c.n)


def people_reached(scope: Scope, bounds: tuple[datetime, datetime]) -> Query:
    """People reached (覆盖人数), by row: distinct participants with at least one
    article delivered to them in the period (as counted by :func:`publicity_reach`:
    sent, no test sends, no lecture notices). A person who got three articles counts
    once, so people reached <= articles delivered. ``/stats article`` counts the same
    thing for one article over all time (its "delivered")."""
    reached = (
        select(DeliveryRow.id)
        .where(
            DeliveryRow.participant_id == ParticipantRow.id,
            DeliveryRow.status == "sent",
            _in(DeliveryRow.sent_at, bounds),
            DeliveryRow.broadcast_id.in_(_article_broadcasts()),
        )
        .exists()
    )
    per_unit = (
        select(ParticipantRow.unit_id, func.count().label("n"))
        .where(reached, scope.in_scope(ParticipantRow.unit_id))
        .group_by(ParticipantRow.unit_id)
        .subquery("per_unit")
    )
    return scope.per_row(per_unit, per_unit.c.n)


def engagement(scope: Scope, bounds: tuple[datetime, datetime]) -> Query:
    """Reads and link clicks (人次), by row: ``(row_id, "reads" | "clicks", count)``.

    - reads: publicity articles opened in the bot, one per article and participant,
      counted when the first read (``article_reads.read_at``) falls in the period;
    - clicks: publicity article links clicked, one per article and participant however
      often they clicked, counted when the first click (``link_clicks.clicked_at``)
      falls in the period.

    A lecture's notices are not publicity articles: their reads and clicks are not
    counted. Per article a person counts once, so ``/stats article`` (read, clicked:
    distinct people for one article) counts the same thing for one article.
    """
    publicity_articles = select(ArticleRow.id).where(is_publicity())
    # Folded per person first: the participants are joined to one row per person and
    # kind, not to every read.
    facts = union_all(
        select(
            ArticleReadRow.participant_id.label("pid"),
            literal("reads").label("kind"),
            func.count().label("n"),
        )
        .where(
            _in(ArticleReadRow.read_at, bounds),
            ArticleReadRow.article_id.in_(publicity_articles),
        )
        .group_by(ArticleReadRow.participant_id),
        select(
            LinkClickRow.participant_id.label("pid"),
            literal("clicks").label("kind"),
            func.count().label("n"),
        )
        .where(
            _in(LinkClickRow.clicked_at, bounds),
            LinkClickRow.article_id.in_(publicity_articles),
        )
        .group_by(LinkClickRow.participant_id),
    ).subquery("engagement")
    per_unit = (
        select(ParticipantRow.unit_id, facts.c.kind, func.sum(facts.c.n).label("n"))
        .select_from(facts)
        .join(ParticipantRow, ParticipantRow.id == facts.c.pid)
        .where(scope.in_scope(ParticipantRow.unit_id))
        .group_by(ParticipantRow.unit_id, facts.c.kind)
        .subquery("per_unit")
    )
    return scope.per_row(per_unit, per_unit.c.kind, per_unit.c.n)


def _held(bounds: tuple[datetime, datetime], now: datetime) -> Any:
    return and_(
        LectureRow.status != "cancelled",
        _in(LectureRow.starts_at, bounds),
        LectureRow.starts_at <= now,
    )


def lectures_held(bounds: tuple[datetime, datetime], now: datetime) -> Query:
    """Online lectures held (场) in the period: not cancelled, and the start time
    (``lectures.starts_at``) falls in the period and has passed (a lecture later today
    is not held yet). A short table, read whole; the caller keeps those held for the
    scope: the lecture's audience reaches the scope (everyone, or a unit of the
    audience is in the scope or contains it), or someone of the scope checked in.

    Returns ``(lecture_id, title, speaker, starts_at, audience, theme)``: the theme is
    that of the lecture's activity (its kind's usual one, 宪法, for a lecture without one).
    """
    default_theme = kind_named(ONLINE_LECTURE).default_theme.value
    return (
        select(
            LectureRow.id,
            LectureRow.title,
            LectureRow.speaker,
            LectureRow.starts_at,
            LectureRow.audience,
            func.coalesce(ActivityRow.theme, default_theme),
        )
        .outerjoin(ActivityRow, ActivityRow.id == LectureRow.activity_id)
        .where(_held(bounds, now))
        .order_by(LectureRow.starts_at, LectureRow.id)
    )


def lecture_attendance(scope: Scope, bounds: tuple[datetime, datetime], now: datetime) -> Query:
    """Attendance of the lectures held in the period (see :func:`lectures_held`):

    - check-ins (人次): one per lecture and participant who pressed "check in" (the
      button works from shortly before the start to shortly after the end), whenever
      that was; a person at two lectures counts twice;
    - attendees (人): distinct participants who checked in to at least one of them.

    ``("row", row_id, role, check-ins, attendees)`` per row and role, and
    ``("lecture", lecture_id, role, check-ins, check-ins)`` per lecture and role (people
    of the scope only): the online-lecture kind's 人次 by role. Only the check-ins that
    count (:func:`storage.activities.counted_checkins`: by someone with a role), so every
    role adds up to the check-ins, and an activity list's headcount of a lecture is its
    figure for the organising unit's scope.
    """
    checkins = (
        counted_checkins(
            LectureCheckinRow.participant_id.label("pid"),
            LectureCheckinRow.lecture_id.label("lid"),
            scope.map.c.row_id.label("row_id"),
            ParticipantRow.role.label("role"),
        )
        .join(scope.map, scope.map.c.unit_id == ParticipantRow.unit_id)
        .where(_held(bounds, now))
        .cte("checkins")
    )
    by_row = select(
        literal("row").label("level"),
        checkins.c.row_id.label("key"),
        checkins.c.role,
        func.count(),
        func.count(func.distinct(checkins.c.pid)),
    ).group_by(checkins.c.row_id, checkins.c.role)
    by_lecture = select(
        literal("lecture").label("level"),
        checkins.c.lid.label("key"),
        checkins.c.role,
        func.count(),
        func.count(),
    ).group_by(checkins.c.lid, checkins.c.role)
    return union_all(by_row, by_lecture)  # type: ignore[return-value]


def shortlisted(scope: Scope, bounds: tuple[datetime, datetime]) -> Query:
    """Students selected from quizzes (入选学生), by row: distinct students on a selection.

    A selection is a shortlist that staff confirmed (``shortlists.confirmed_at``, in the
    period); a list only looked at with ``/top`` is not one. Students only: a teacher on
    a list drawn with other roles is not counted. A student on two selections counts once.
    """
    return (
        select(scope.map.c.row_id, func.count(func.distinct(ShortlistEntryRow.participant_id)))
        .select_from(ShortlistEntryRow)
        .join(ShortlistRow, ShortlistRow.id == ShortlistEntryRow.shortlist_id)
        .join(ParticipantRow, ParticipantRow.id == ShortlistEntryRow.participant_id)
        .join(scope.map, scope.map.c.unit_id == ParticipantRow.unit_id)
        .where(
            ShortlistRow.confirmed_at.is_not(None),
            _in(ShortlistRow.confirmed_at, bounds),
            ParticipantRow.role == Role.STUDENT.value,
        )
        .group_by(scope.map.c.row_id)
    )


# -- putting them together --------------------------------------------------------------


def told_apart(names: dict[int, str], parents: dict[int, str | None]) -> dict[int, str]:
    """Row names as people tell them apart: two schools of one name (two 中心小学 in two
    regiments) are each shown after their regiment, as :func:`quizzes.units.display_label`
    shows them in chat."""
    counts = Counter(names.values())
    return {
        unit_id: (
            f"{parents[unit_id]} · {name}" if counts[name] > 1 and parents.get(unit_id) else name
        )
        for unit_id, name in names.items()
    }


class StatisticsRepository:
    def __init__(
        self,
        session: AsyncSession,
        *,
        concurrent: bool = True,
        lanes: int = 4,
        parallel_workers: bool = True,
    ) -> None:
        self.session = session
        self.concurrent = concurrent
        self.lanes = max(1, lanes)
        self.parallel_workers = parallel_workers

    def in_background(self) -> StatisticsRepository:
        """The same figures, computed as a background job beside live traffic: the
        statements one after another on one helper connection (same snapshot as ever),
        each without PostgreSQL's parallel workers, so that the computation holds at most
        one core. The dashboard's refresh every few seconds, which with four lanes and
        parallel scans took every core of the database for a moment and stalled the
        answers arriving meanwhile (docs/PERFORMANCE.md). A report someone waits for
        keeps the fast way."""
        return StatisticsRepository(self.session, lanes=1, parallel_workers=False)

    async def unit(self, unit_id: int) -> Unit | None:
        from storage.repositories import UnitRepository

        return await UnitRepository(self.session).get(unit_id)

    async def root(self) -> Unit | None:
        from storage.repositories import UnitRepository

        roots = await UnitRepository(self.session).roots()
        return roots[0] if len(roots) == 1 else None

    async def units_matching(self, name_or_id: str) -> list[Unit]:
        """Units whose id (all digits) or name is ``name_or_id``."""
        from storage.repositories import UnitRepository

        query = select(UnitRow.id)
        if name_or_id.isdigit():
            query = query.where(UnitRow.id == int(name_or_id))
        else:
            query = query.where(UnitRow.name == name_or_id)
        units = UnitRepository(self.session)
        found = [await units.get(unit_id) for unit_id in await self.session.scalars(query)]
        return [unit for unit in found if unit is not None]

    async def headline(self, scope_unit: Unit, period: Period, zone: ZoneInfo) -> int:
        """Took part in the scope: the one bare ``GROUP BY`` the headline needs."""
        if self.session.get_bind().dialect.name == "postgresql":
            await self.session.execute(_WORK_MEM)  # as the report has it: a fair comparison
        rows = await self.session.execute(took_part_by_row(Scope(scope_unit), period.bounds(zone)))
        return sum(int(count) for _row, count in rows)

    async def compile(
        self,
        scope_unit: Unit,
        period: Period,
        zone: ZoneInfo,
        *,
        total_name: str = "",
        progress: Progress | None = None,
        now: datetime | None = None,
        sections: frozenset[Section] = SECTIONS,
    ) -> Statistics:
        """Every figure of ``scope_unit`` over ``period``: one ``GROUP BY`` per figure
        group, three short label tables, then the unit paths of lecture audiences.

        ``now`` (default: the current time) decides which lectures have been held yet.
        On PostgreSQL the queries run at once on several connections that share one
        snapshot (``REPEATABLE READ`` with an exported snapshot), so the figures agree
        with each other exactly as one transaction would; on SQLite one after another in
        one read transaction.

        ``sections`` leaves the other groups' queries out (their figures are zero and the
        result's ``sections`` says which groups it holds): the dashboard's live figures
        need registration and quizzes only.
        """
        whole, _schools = await self._compile(
            scope_unit,
            period,
            zone,
            total_name=total_name,
            progress=progress,
            now=now,
            sections=sections,
            by_school=False,
        )
        return whole

    async def compile_by_school(
        self,
        scope_unit: Unit,
        period: Period,
        zone: ZoneInfo,
        *,
        total_name: str = "",
        now: datetime | None = None,
        sections: frozenset[Section] = BY_SCHOOL_SECTIONS,
    ) -> tuple[Statistics, dict[int, Statistics]]:
        """The figures of ``scope_unit`` (:meth:`compile`) and, cut from the same counts
        on the same snapshot, each of its school rows' own: for every school, what
        ``compile(school, ...)`` gives, each total named ``total_name`` or the school.

        The rows' figures are counted per row already (a person is in one row); the
        campaigns' lines and the days are counted per row as well, two more ``GROUP BY``
        s. Only the sections whose figures are all per row can be cut this way
        (:data:`BY_SCHOOL_SECTIONS`: registration and quizzes, what the dashboard shows).
        """
        if not sections <= BY_SCHOOL_SECTIONS:
            raise ValueError(f"not counted per school: {sorted(sections - BY_SCHOOL_SECTIONS)}")
        return await self._compile(
            scope_unit,
            period,
            zone,
            total_name=total_name,
            progress=None,
            now=now,
            sections=sections,
            by_school=True,
        )

    async def _compile(
        self,
        scope_unit: Unit,
        period: Period,
        zone: ZoneInfo,
        *,
        total_name: str,
        progress: Progress | None,
        now: datetime | None,
        sections: frozenset[Section],
        by_school: bool,
    ) -> tuple[Statistics, dict[int, Statistics]]:
        note = progress or (lambda _step: None)
        scope = Scope(scope_unit)
        dialect = self.session.get_bind().dialect.name
        bounds = period.bounds(zone)
        moment = now or datetime.now(UTC)
        queries: dict[str, Query] = {
            "quiz": quiz_participation(scope, bounds),
            "quiz_campaigns": quiz_by_campaign(scope, bounds),
            "daily": took_part_by_day(scope, bounds, zone, dialect),
            "reach": people_reached(scope, bounds),
            "publicity": publicity_reach(scope, bounds),
            "engagement": engagement(scope, bounds),
            "theme_articles": articles_of_themes(scope, bounds),
            "theme_campaigns": campaigns_by_theme(scope, bounds),
            "registration": registered(scope, bounds),
            "web": on_the_web(scope, bounds),
            "attendance": lecture_attendance(scope, bounds, moment),
            "shortlist": shortlisted(scope, bounds),
            "enrolment": enrolment(scope),
            "campaigns": campaigns(),
            "broadcasts": broadcast_articles(bounds),
            "lectures": lectures_held(bounds, moment),
            "activities": activity_tallies(scope, period),
            "activities_pending": activities_pending(scope, period),
            "vice_principals": schools_with_vice_principal(scope, period.end),
        }
        wanted = {"enrolment"}.union(*(_SECTION_QUERIES[section] for section in sections))
        if by_school:
            queries["campaign_rows"] = quiz_by_campaign(scope, bounds, per_row=True)
            queries["daily_rows"] = took_part_by_day(scope, bounds, zone, dialect, per_row=True)
            wanted |= {"campaign_rows", "daily_rows"}
        results = await self._fetch({k: q for k, q in queries.items() if k in wanted}, note)
        results.update({key: [] for key in queries if key not in wanted})

        figures: dict[int | None, dict[str, Any]] = {}

        def add(row_id: int | None, name: str, value: int) -> None:
            values = figures.setdefault(row_id, {})
            values[name] = values.get(name, 0) + int(value)

        def roles(row_id: int | None, name: str, role: str | None, count: int) -> None:
            counts = figures.setdefault(row_id, {}).setdefault(name, {})
            counts[role] = counts.get(role, 0) + int(count)

        names: dict[int, str] = {}
        parents: dict[int, str | None] = {}
        for unit_id, name, students, teachers, parent_name in results["enrolment"]:
            names[unit_id], parents[unit_id] = name, parent_name
            add(unit_id, "students_enrolled", students)
            add(unit_id, "teachers_enrolled", teachers)
        plain_names = dict(names)
        names = told_apart(names, parents)
        for row_id, role, count in results["registration"]:
            roles(row_id, "registered", role, count)
        for row_id, on_web, took in results["web"]:
            add(row_id, "registered_on_web", on_web or 0)
            add(row_id, "took_part_on_web", took or 0)
        for row_id, role, took, completed, passed in results["quiz"]:
            roles(row_id, "took_part", role, took)
            add(row_id, "completed", completed)
            add(row_id, "passed", passed)
        by_campaign: dict[int, dict[str, Any]] = {}
        for campaign_id, *counts in results["quiz_campaigns"]:
            _tally_campaign(by_campaign, campaign_id, *counts)
        article_of = {bid: aid for bid, aid, _published in results["broadcasts"]}
        published = {aid for _bid, aid, flag in results["broadcasts"] if flag}
        per_row_articles: dict[int | None, set[int]] = {}
        for row_id, broadcast_id, in_period, count in results["publicity"]:
            if in_period:
                add(row_id, "deliveries", count)
            article = article_of.get(broadcast_id)
            if article is not None and article in published:
                per_row_articles.setdefault(row_id, set()).add(article)
        articles: set[int] = set()
        for row_id, row_articles in per_row_articles.items():
            add(row_id, "articles_published", len(row_articles))
            articles |= row_articles
        for row_id, count in results["reach"]:
            add(row_id, "people_reached", count)
        for row_id, kind, count in results["engagement"]:
            add(row_id, kind, count)
        for row_id, count in results["shortlist"]:
            add(row_id, "shortlisted", count)
        checkins: dict[int, dict[str | None, int]] = {}
        for level, key, role, count, people in results["attendance"]:
            if level == "row":
                add(key, "lecture_checkins", count)
                roles(key, "lecture_attendees", role, people)
            else:
                checkins.setdefault(key, {})[role] = int(count)
        lectures = await self._lectures_for(scope_unit, results["lectures"], checkins)
        themes = {row[0]: row[5] for row in results["lectures"]}

        def unit_figures(row_id: int | None, name: str) -> UnitFigures:
            values = dict(figures.get(row_id, {}))
            for name_ in ("registered", "took_part", "lecture_attendees"):
                values[name_] = RoleCounts.of(values.get(name_, {}))
            return UnitFigures(row_id, name, **values)

        schools = tuple(
            sorted(
                (unit_figures(unit_id, name) for unit_id, name in names.items()),
                key=lambda s: s.unit_id or 0,  # roster order
            )
        )
        elsewhere = unit_figures(None, "") if None in figures else None
        parts = [*schools, *([elsewhere] if elsewhere else [])]
        total = total_of(total_name or scope_unit.name, parts, articles_published=len(articles))
        shown = _campaigns(results["campaigns"], by_campaign, total.enrolled)
        whole = Statistics(
            period=period,
            scope_id=scope_unit.id,
            scope_name=scope_unit.name,
            schools=schools,
            elsewhere=elsewhere,
            total=total,
            campaigns=shown,
            sections=sections,
            lectures=lectures,
            daily=_daily(results["daily"], shown, period, zone),
            activities=ActivityFigures(
                tally_rows(results["activities"]),
                sum(int(count or 0) for (count,) in results["activities_pending"]),
                frozenset(row_id for (row_id,) in results["vice_principals"]),
                _lectures_as_activities(lectures, themes, checkins),
            ),
            themes=theme_breakdown(results["theme_articles"], results["theme_campaigns"]),
        )
        if not by_school:
            return whole, {}
        return whole, _cut_by_school(
            whole,
            plain_names,
            results["campaigns"],
            results["campaign_rows"],
            results["daily_rows"],
            total_name,
            zone,
        )

    async def _lectures_for(
        self,
        scope_unit: Unit,
        held: list[tuple[Any, ...]],
        by_role: dict[int, dict[str | None, int]],
    ) -> tuple[LectureFigures, ...]:
        """The held lectures that were for the scope (see :func:`lectures_held`)."""
        audiences = {row[0]: Audience.from_json(row[4]) for row in held}
        wanted = sorted({u for audience in audiences.values() for u in audience.unit_ids})
        paths: dict[int, str] = {}
        if wanted:
            rows = await self.session.execute(
                select(UnitRow.id, UnitRow.path).where(UnitRow.id.in_(wanted))
            )
            paths = {unit_id: path for unit_id, path in rows}

        def reaches(audience: Audience) -> bool:
            if not audience.unit_ids:
                return True
            return any(
                path.startswith(scope_unit.path) or scope_unit.path.startswith(path)
                for path in (paths.get(u) for u in audience.unit_ids)
                if path is not None
            )

        checkins = {lecture_id: sum(roles.values()) for lecture_id, roles in by_role.items()}
        return tuple(
            LectureFigures(lecture_id, title, speaker, starts_at, checkins.get(lecture_id, 0))
            for lecture_id, title, speaker, starts_at, _audience, _theme in held
            if checkins.get(lecture_id, 0) > 0 or reaches(audiences[lecture_id])
        )

    def _settings(self) -> tuple[TextClause, ...]:
        """What the transaction that runs the queries is set to first (PostgreSQL)."""
        return (_WORK_MEM,) if self.parallel_workers else (_WORK_MEM, _ONE_CORE)

    async def _fetch(
        self, queries: dict[str, Query], note: Progress
    ) -> dict[str, list[tuple[Any, ...]]]:
        """Run the queries: concurrently on one snapshot (PostgreSQL), else in turn."""
        results: dict[str, list[tuple[Any, ...]]] = {}
        postgres = self.session.get_bind().dialect.name == "postgresql"
        if not postgres or not self.concurrent:
            for setting in self._settings() if postgres else ():
                await self.session.execute(setting)
            for key, query in queries.items():
                results[key] = [tuple(row) for row in await self.session.execute(query)]
                note(key)
            return results
        # This session's transaction exports its snapshot (valid until it ends, whatever
        # its isolation level); each helper connection imports it as the first statement
        # of a REPEATABLE READ transaction of its own.
        snapshot = str(await self.session.scalar(text("SELECT pg_export_snapshot()")))
        if not _SNAPSHOT.match(snapshot):
            raise RuntimeError(f"unexpected snapshot id {snapshot!r}")
        async_engine = self.session.bind
        assert isinstance(async_engine, AsyncEngine)
        # The queries are listed heaviest first; each lane takes the next one when it is
        # free, so the large scans start at once and the small ones fill in around them.
        waiting = list(queries)

        async def lane() -> None:
            async with async_engine.connect() as connection:
                connection = await connection.execution_options(isolation_level="REPEATABLE READ")
                async with connection.begin():
                    await connection.execute(text(f"SET TRANSACTION SNAPSHOT '{snapshot}'"))
                    for setting in self._settings():
                        await connection.execute(setting)
                    while waiting:
                        key = waiting.pop(0)
                        rows = await connection.execute(queries[key])
                        results[key] = [tuple(row) for row in rows]
                        note(key)

        await asyncio.gather(*(lane() for _ in range(min(self.lanes, len(queries)))))
        return {key: results[key] for key in queries}


def _tally_campaign(
    into: dict[int, dict[str, Any]],
    campaign_id: int,
    role: str | None,
    took: Any,
    completed: Any,
    passed: Any,
) -> None:
    """Add one row of :func:`quiz_by_campaign` to its campaign's counts."""
    entry = into.setdefault(campaign_id, {"roles": {}, "c": 0, "p": 0})
    entry["roles"][role] = int(took)
    entry["c"] += int(completed)
    entry["p"] += int(passed)


def _cut_by_school(
    whole: Statistics,
    names: dict[int, str],
    labels: list[tuple[Any, ...]],
    campaign_rows: list[tuple[Any, ...]],
    daily_rows: list[tuple[Any, ...]],
    total_name: str,
    zone: ZoneInfo,
) -> dict[int, Statistics]:
    """Each school row of ``whole`` as its own scope (see
    :meth:`StatisticsRepository.compile_by_school`): its row under its own name (no
    regiment in front: it stands alone), its total, its campaigns' lines and its days."""
    by_campaign: dict[int, dict[int, dict[str, Any]]] = {}
    for row_id, campaign_id, *counts in campaign_rows:
        if row_id is not None:
            _tally_campaign(by_campaign.setdefault(int(row_id), {}), campaign_id, *counts)
    days: dict[int, list[tuple[Any, ...]]] = {}
    for row_id, day, count in daily_rows:
        if row_id is not None:
            days.setdefault(int(row_id), []).append((day, count))
    cut: dict[int, Statistics] = {}
    for school in whole.schools:
        if school.unit_id is None:
            continue
        name = names[school.unit_id]
        row = replace(school, name=name)
        total = total_of(total_name or name, [row], articles_published=0)
        shown = _campaigns(labels, by_campaign.get(school.unit_id, {}), total.enrolled)
        cut[school.unit_id] = Statistics(
            period=whole.period,
            scope_id=school.unit_id,
            scope_name=name,
            schools=(row,),
            elsewhere=None,
            total=total,
            campaigns=shown,
            sections=whole.sections,
            lectures=(),
            daily=_daily(days.get(school.unit_id, []), shown, whole.period, zone),
            activities=ActivityFigures(tally_rows([]), 0, frozenset()),
        )
    return cut


def _lectures_as_activities(
    lectures: tuple[LectureFigures, ...],
    themes: dict[int, str],
    by_role: dict[int, dict[str | None, int]],
) -> tuple[ActivityTally, ...]:
    """The lectures held for the scope as the online-lecture kind, per theme: events are
    the lectures the report's lectures held counts, 人次 their check-ins by role there."""
    per_theme: dict[str, tuple[int, Headcount]] = {}
    for lecture in lectures:
        roles = by_role.get(lecture.lecture_id, {})
        counted = Headcount(
            roles.get(Role.STUDENT.value, 0),
            roles.get(Role.TEACHER.value, 0),
            roles.get(Role.PARENT.value, 0),
        )
        theme = themes[lecture.lecture_id]
        events, headcount = per_theme.get(theme, (0, Headcount()))
        per_theme[theme] = (events + 1, headcount + counted)
    return tuple(
        ActivityTally(None, ONLINE_LECTURE, Theme(theme), events, headcount)
        for theme, (events, headcount) in sorted(per_theme.items())
    )


def _campaigns(
    labels: list[tuple[Any, ...]], counts: dict[int, dict[str, Any]], enrolled: int
) -> tuple[CampaignFigures, ...]:
    result = [
        CampaignFigures(
            campaign_id,
            name,
            opens_at,
            closes_at,
            RoleCounts.of(counts[campaign_id]["roles"]),
            counts[campaign_id]["c"],
            counts[campaign_id]["p"],
            enrolled,
        )
        for campaign_id, name, opens_at, closes_at in labels
        if campaign_id in counts
    ]
    return tuple(sorted(result, key=lambda c: (c.opens_at, c.campaign_id)))


def _daily(
    rows: list[tuple[Any, ...]],
    shown: tuple[CampaignFigures, ...],
    period: Period,
    zone: ZoneInfo,
) -> tuple[tuple[date, int], ...]:
    """Every day of the campaigns' window (first opening to last closing, within the
    period), with the people who took part that day; none without a campaign."""
    if not shown:
        return ()
    counts = {
        day if isinstance(day, date) else date.fromisoformat(str(day)): int(count)
        for day, count in rows
    }
    first = max(period.start, min(c.opens_at.astimezone(zone).date() for c in shown))
    last = min(period.end, max(c.closes_at.astimezone(zone).date() for c in shown))
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return tuple((day, counts.get(day, 0)) for day in days)
