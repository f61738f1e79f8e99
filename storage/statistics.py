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
add up to the total.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    CTE,
    Select,
    Subquery,
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

from quizzes.statistics import (
    CampaignFigures,
    Period,
    RoleCounts,
    Section,
    Statistics,
    UnitFigures,
    total_of,
)
from quizzes.units import Unit, UnitKind
from storage.models import ParticipantRow, UnitRow
from storage.models_publicity import (
    ArticleReadRow,
    ArticleRow,
    BroadcastRow,
    DeliveryRow,
    LinkClickRow,
)
from storage.models_quiz import AttemptRow, CampaignRow, ShortlistEntryRow, ShortlistRow

__all__ = ["SECTIONS", "Scope", "StatisticsRepository"]

# Lectures are not counted: there are no lecture tables yet.
SECTIONS = frozenset({Section.REGISTRATION, Section.QUIZ, Section.PUBLICITY, Section.SHORTLIST})

Progress = Callable[[str], None]
_SNAPSHOT = re.compile(r"^[0-9A-Fa-f-]+$")
# Sorts and hash tables of a report fit in memory instead of spilling to disk; LOCAL: for
# the report's own transactions only.
_WORK_MEM = text("SET LOCAL work_mem = '64MB'")
Query = Select[*tuple[Any, ...]]


class Scope:
    """The rows of a breakdown and the map from every unit in the scope to its row."""

    def __init__(self, unit: Unit) -> None:
        self.unit = unit
        rows = select(UnitRow.id, UnitRow.path)
        if unit.kind in (UnitKind.DIVISION, UnitKind.REGIMENT):
            rows = rows.where(
                UnitRow.kind == UnitKind.SCHOOL.value,
                UnitRow.path.startswith(unit.path, autoescape=False),
            )
        else:
            rows = rows.where(UnitRow.id == unit.id)
        self.rows: Subquery = rows.subquery("row_unit")
        member = UnitRow.__table__.alias("member")
        # unit_id -> row_id (NULL: in the scope but under no row unit). A few hundred rows.
        self.map: CTE = (
            select(member.c.id.label("unit_id"), self.rows.c.id.label("row_id"))
            .select_from(member)
            .outerjoin(self.rows, member.c.path.startswith(self.rows.c.path, autoescape=False))
            .where(member.c.path.startswith(unit.path, autoescape=False))
            .cte("unit_map")
            # Computed once per statement; inlined, SQLite would match every fact row
            # against every school's path.
            .prefix_with("MATERIALIZED")
        )


def _in(column: Any, bounds: tuple[datetime, datetime]) -> Any:
    return and_(column >= bounds[0], column < bounds[1])


# -- the figures ------------------------------------------------------------------------


def enrolment(scope: Scope) -> Query:
    """Enrolled students and teachers of each row unit, as imported from the roster.

    A school's own enrolment figures (the roster's school row, or the sum of its class
    rows when the roster gave only classes); classes are not added on top. Not dated:
    the roster as it is now.
    """
    return select(
        UnitRow.id, UnitRow.name, UnitRow.students_enrolled, UnitRow.teachers_enrolled
    ).join(scope.rows, scope.rows.c.id == UnitRow.id)


def registered(scope: Scope, bounds: tuple[datetime, datetime]) -> Query:
    """Registered participants by row and role, as of the end of the period.

    A participant is registered from the moment registration is complete
    (``joined_at``: unit, role and display name given) and counts if that moment is
    before the end of the period, whatever happened before its start. Participants who
    blocked the bot later still count: they registered.
    """
    return (
        select(scope.map.c.row_id, ParticipantRow.role, func.count(ParticipantRow.id))
        .join(scope.map, scope.map.c.unit_id == ParticipantRow.unit_id)
        .where(ParticipantRow.joined_at.is_not(None), ParticipantRow.joined_at < bounds[1])
        .group_by(scope.map.c.row_id, ParticipantRow.role)
    )


def quiz_participation(scope: Scope, bounds: tuple[datetime, datetime]) -> Query:
    """Took part, completed and passed, per row and per campaign, by role.

    The attempts counted are those *started* in the period:

    - took part: distinct participants with at least one such attempt;
    - completed: distinct participants with at least one such attempt finished
      (answered to the end or closed by its time limit);
    - passed: distinct participants with at least one such attempt that passed
      (score at or above the campaign's pass mark).

    So passed <= completed <= took part. Per row a person counts once however many
    attempts and campaigns; per campaign once in each campaign they took part in.

    One scan of the attempts, folded per person and campaign, then counted both ways:
    ``("row" | "campaign", row or campaign id, role, took part, completed, passed)``.
    """
    finished = case((AttemptRow.status == "finished", 1), else_=0)
    passed = case((AttemptRow.passed.is_(true()), 1), else_=0)
    per_campaign = (
        select(
            AttemptRow.participant_id.label("pid"),
            AttemptRow.campaign_id.label("cid"),
            scope.map.c.row_id.label("row_id"),
            ParticipantRow.role.label("role"),
            func.max(finished).label("f"),
            func.max(passed).label("p"),
        )
        .join(ParticipantRow, ParticipantRow.id == AttemptRow.participant_id)
        .join(scope.map, scope.map.c.unit_id == ParticipantRow.unit_id)
        .where(_in(AttemptRow.started_at, bounds))
        .group_by(
            AttemptRow.participant_id,
            AttemptRow.campaign_id,
            scope.map.c.row_id,
            ParticipantRow.role,
        )
        .cte("per_campaign")
    )
    per_person = (
        select(
            per_campaign.c.row_id,
            per_campaign.c.role,
            func.max(per_campaign.c.f).label("f"),
            func.max(per_campaign.c.p).label("p"),
        )
        .group_by(per_campaign.c.pid, per_campaign.c.row_id, per_campaign.c.role)
        .subquery("per_person")
    )
    by_row = select(
        literal("row").label("level"),
        per_person.c.row_id.label("key"),
        per_person.c.role,
        func.count(),
        func.sum(per_person.c.f),
        func.sum(per_person.c.p),
    ).group_by(per_person.c.row_id, per_person.c.role)
    by_campaign = select(
        literal("campaign").label("level"),
        per_campaign.c.cid.label("key"),
        per_campaign.c.role,
        func.count(),
        func.sum(per_campaign.c.f),
        func.sum(per_campaign.c.p),
    ).group_by(per_campaign.c.cid, per_campaign.c.role)
    return union_all(by_row, by_campaign)  # type: ignore[return-value]


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


def publicity_reach(scope: Scope, bounds: tuple[datetime, datetime]) -> Query:
    """Deliveries and articles published, by row and article (summed up by the caller).

    - deliveries: article messages Telegram accepted (status ``sent``) during the
      period, one per broadcast and recipient. Test sends to the author, messages that
      failed and chats that blocked the bot are not counted.
    - articles published: articles whose status is ``published`` and whose publication
      time (``publish_at``) falls in the period, with at least one such (non-test, sent)
      delivery, at any time, to a participant of the row. An article delivered to two
      schools counts once for each school and once in the total.

    Returns ``(row_id, article_id, deliveries in the period, published in the period)``.
    """
    published = case(
        (and_(ArticleRow.status == "published", _in(ArticleRow.publish_at, bounds)), 1),
        else_=0,
    )
    in_period = case((_in(DeliveryRow.sent_at, bounds), 1), else_=0)
    return (
        select(
            scope.map.c.row_id,
            ArticleRow.id,
            func.sum(in_period),
            published,
        )
        .select_from(DeliveryRow)
        .join(BroadcastRow, BroadcastRow.id == DeliveryRow.broadcast_id)
        .join(ArticleRow, ArticleRow.id == BroadcastRow.article_id)
        .join(ParticipantRow, ParticipantRow.id == DeliveryRow.participant_id)
        .join(scope.map, scope.map.c.unit_id == ParticipantRow.unit_id)
        .where(
            DeliveryRow.status == "sent",
            BroadcastRow.test_send.is_(false()),
            or_(_in(DeliveryRow.sent_at, bounds), published == 1),
        )
        .group_by(scope.map.c.row_id, ArticleRow.id, published)
    )


def engagement(scope: Scope, bounds: tuple[datetime, datetime]) -> Query:
    """Reads and link clicks, by row: ``(row_id, "reads" | "clicks", count)``.

    - reads: articles opened in the bot, one per article and participant, counted when
      the first read (``article_reads.read_at``) falls in the period;
    - clicks: article links clicked, one per article and participant however often they
      clicked, counted when the first click (``link_clicks.clicked_at``) falls in the
      period.
    """
    facts = union_all(
        select(ArticleReadRow.participant_id.label("pid"), literal("reads").label("kind")).where(
            _in(ArticleReadRow.read_at, bounds)
        ),
        select(LinkClickRow.participant_id.label("pid"), literal("clicks").label("kind")).where(
            _in(LinkClickRow.clicked_at, bounds)
        ),
    ).subquery("engagement")
    return (
        select(scope.map.c.row_id, facts.c.kind, func.count())
        .select_from(facts)
        .join(ParticipantRow, ParticipantRow.id == facts.c.pid)
        .join(scope.map, scope.map.c.unit_id == ParticipantRow.unit_id)
        .group_by(scope.map.c.row_id, facts.c.kind)
    )


def shortlisted(scope: Scope, bounds: tuple[datetime, datetime]) -> Query:
    """Students shortlisted from quizzes, by row: distinct participants on a shortlist.

    A shortlist counts when it was drawn (``shortlists.created_at``) in the period; a
    student on two shortlists counts once.
    """
    return (
        select(scope.map.c.row_id, func.count(func.distinct(ShortlistEntryRow.participant_id)))
        .select_from(ShortlistEntryRow)
        .join(ShortlistRow, ShortlistRow.id == ShortlistEntryRow.shortlist_id)
        .join(ParticipantRow, ParticipantRow.id == ShortlistEntryRow.participant_id)
        .join(scope.map, scope.map.c.unit_id == ParticipantRow.unit_id)
        .where(_in(ShortlistRow.created_at, bounds))
        .group_by(scope.map.c.row_id)
    )


# -- putting them together --------------------------------------------------------------


class StatisticsRepository:
    def __init__(self, session: AsyncSession, *, concurrent: bool = True, lanes: int = 4) -> None:
        self.session = session
        self.concurrent = concurrent
        self.lanes = max(1, lanes)

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
    ) -> Statistics:
        """Every figure of ``scope_unit`` over ``period``: seven ``GROUP BY`` queries.

        On PostgreSQL they run at once on several connections that share one snapshot
        (``REPEATABLE READ`` with an exported snapshot), so the figures agree with each
        other exactly as one transaction would; on SQLite one after another in one read
        transaction.
        """
        note = progress or (lambda _step: None)
        scope = Scope(scope_unit)
        bounds = period.bounds(zone)
        queries: dict[str, Query] = {
            "enrolment": enrolment(scope),
            "registration": registered(scope, bounds),
            "quiz": quiz_participation(scope, bounds),
            "campaigns": campaigns(),
            "publicity": publicity_reach(scope, bounds),
            "engagement": engagement(scope, bounds),
            "shortlist": shortlisted(scope, bounds),
        }
        results = await self._fetch(queries, note)

        figures: dict[int | None, dict[str, Any]] = {}

        def add(row_id: int | None, name: str, value: int) -> None:
            values = figures.setdefault(row_id, {})
            values[name] = values.get(name, 0) + int(value)

        def roles(row_id: int | None, name: str, role: str | None, count: int) -> None:
            counts = figures.setdefault(row_id, {}).setdefault(name, {})
            counts[role] = counts.get(role, 0) + int(count)

        names: dict[int, str] = {}
        for unit_id, name, students, teachers in results["enrolment"]:
            names[unit_id] = name
            add(unit_id, "students_enrolled", students)
            add(unit_id, "teachers_enrolled", teachers)
        for row_id, role, count in results["registration"]:
            roles(row_id, "registered", role, count)
        by_campaign: dict[int, dict[str, Any]] = {}
        for level, key, role, took, completed, passed in results["quiz"]:
            if level == "row":
                roles(key, "took_part", role, took)
                add(key, "completed", completed)
                add(key, "passed", passed)
            else:
                entry = by_campaign.setdefault(key, {"roles": {}, "c": 0, "p": 0})
                entry["roles"][role] = int(took)
                entry["c"] += int(completed)
                entry["p"] += int(passed)
        articles: set[int] = set()
        for row_id, article_id, delivered, published in results["publicity"]:
            add(row_id, "deliveries", delivered or 0)
            if published:
                add(row_id, "articles_published", 1)
                articles.add(article_id)
        for row_id, kind, count in results["engagement"]:
            add(row_id, kind, count)
        for row_id, count in results["shortlist"]:
            add(row_id, "shortlisted", count)

        def unit_figures(row_id: int | None, name: str) -> UnitFigures:
            values = dict(figures.get(row_id, {}))
            for name_ in ("registered", "took_part"):
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
        return Statistics(
            period=period,
            scope_id=scope_unit.id,
            scope_name=scope_unit.name,
            schools=schools,
            elsewhere=elsewhere,
            total=total,
            campaigns=_campaigns(results["campaigns"], by_campaign, total.enrolled),
            sections=SECTIONS,
        )

    async def _fetch(
        self, queries: dict[str, Query], note: Progress
    ) -> dict[str, list[tuple[Any, ...]]]:
        """Run the queries: concurrently on one snapshot (PostgreSQL), else in turn."""
        results: dict[str, list[tuple[Any, ...]]] = {}
        postgres = self.session.get_bind().dialect.name == "postgresql"
        if postgres:
            await self.session.execute(_WORK_MEM)
        if not postgres or not self.concurrent:
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
        keys = list(queries)
        lanes = [keys[i :: self.lanes] for i in range(self.lanes)]

        async def lane(lane_keys: list[str]) -> None:
            async with async_engine.connect() as connection:
                connection = await connection.execution_options(isolation_level="REPEATABLE READ")
                async with connection.begin():
                    await connection.execute(text(f"SET TRANSACTION SNAPSHOT '{snapshot}'"))
                    await connection.execute(_WORK_MEM)
                    for key in lane_keys:
                        rows = await connection.execute(queries[key])
                        results[key] = [tuple(row) for row in rows]
                        note(key)

        await asyncio.gather(*(lane(lane_keys) for lane_keys in lanes if lane_keys))
        return results


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
