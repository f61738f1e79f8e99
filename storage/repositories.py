"""Repositories: the only place that speaks SQL. They return domain dataclasses."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from sqlalchemy import Select, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from quizzes.participants import (
    Grant,
    GrantKind,
    InviteCode,
    Participant,
    Role,
    new_invite_code,
)
from quizzes.units import Unit, UnitKind, UnitLabel, display_label
from storage.banks import BankRepository
from storage.erasure import ParticipantErasure
from storage.models import GrantRow, InviteCodeRow, ParticipantRow, UnitRow, utcnow
from storage.presses import DirectPresses
from storage.quiz import (
    AttemptRepository,
    CampaignRepository,
    CertificateNames,
    ShortlistRepository,
)


def insert_ignoring_conflicts(session: AsyncSession, model: type[Any]) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` in the session's dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model).on_conflict_do_nothing()
    return sqlite.insert(model).on_conflict_do_nothing()


async def claim_once(session: AsyncSession, model: type[Any], **values: Any) -> int | None:
    """Insert the row unless one with the same unique key exists: the new row's id, or
    None when another got there first (the unique key decides, across processes)."""
    statement = insert_ignoring_conflicts(session, model).values(**values).returning(model.id)
    found: int | None = await session.scalar(statement)
    return found


def _unit(row: UnitRow) -> Unit:
    return Unit(
        id=row.id,
        kind=UnitKind(row.kind),
        name=row.name,
        parent_id=row.parent_id,
        path=row.path,
        students_enrolled=row.students_enrolled,
        teachers_enrolled=row.teachers_enrolled,
        retired=row.retired_at is not None,
    )


def participant_of(row: Any) -> Participant:
    """From a :class:`ParticipantRow` or a row of its columns."""
    return Participant(
        id=row.id,
        telegram_id=row.telegram_id,
        display_name=row.display_name,
        role=Role(row.role) if row.role else None,
        unit_id=row.unit_id,
        locale=row.locale,
        subscribed=row.subscribed,
        blocked_at=row.blocked_at,
        joined_at=row.joined_at,
    )


# What participant_of reads, as columns.
PARTICIPANT_COLUMNS = (
    ParticipantRow.id,
    ParticipantRow.telegram_id,
    ParticipantRow.display_name,
    ParticipantRow.role,
    ParticipantRow.unit_id,
    ParticipantRow.locale,
    ParticipantRow.subscribed,
    ParticipantRow.blocked_at,
    ParticipantRow.joined_at,
)
# Read on every update (the participant middleware): built once, columns not entities, so
# the hot path skips statement construction and the ORM's identity bookkeeping.
_PARTICIPANT_BY_TELEGRAM_ID = select(*PARTICIPANT_COLUMNS).where(
    ParticipantRow.telegram_id == bindparam("telegram_id")
)


def _invite(row: InviteCodeRow) -> InviteCode:
    return InviteCode(
        code=row.code, unit_id=row.unit_id, role=Role(row.role), revoked_at=row.revoked_at
    )


class UnitRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, unit_id: int) -> Unit | None:
        row = await self.session.get(UnitRow, unit_id)
        return _unit(row) if row else None

    async def by_ids(self, unit_ids: Iterable[int]) -> dict[int, Unit]:
        """The units of these ids that exist, by id."""
        wanted = set(unit_ids)
        if not wanted:
            return {}
        rows = await self.session.scalars(select(UnitRow).where(UnitRow.id.in_(wanted)))
        return {row.id: _unit(row) for row in rows}

    async def roots(self) -> list[Unit]:
        return await self._list(select(UnitRow).where(UnitRow.parent_id.is_(None)))

    async def children(self, parent_id: int, *, retired: bool = False) -> list[Unit]:
        """The units under ``parent_id``; retired ones only when asked for."""
        query = select(UnitRow).where(UnitRow.parent_id == parent_id)
        if not retired:
            query = query.where(UnitRow.retired_at.is_(None))
        return await self._list(query)

    async def of_kind(self, kind: UnitKind) -> list[Unit]:
        """The units of a kind that are not retired (what may be chosen or printed)."""
        return await self._list(
            select(UnitRow).where(UnitRow.kind == kind.value, UnitRow.retired_at.is_(None))
        )

    async def within(self, unit: Unit) -> list[Unit]:
        """The unit's whole subtree below it, retired units included, in creation order."""
        return await self._list(
            select(UnitRow).where(
                UnitRow.path.startswith(unit.path, autoescape=False), UnitRow.id != unit.id
            )
        )

    async def display_label(self, unit: Unit) -> str:
        """:func:`quizzes.units.display_label`: the regiment only where a name is shared."""
        return (await self.display_labels([unit]))[unit.id]

    async def display_labels(self, units: Iterable[Unit]) -> dict[int, str]:
        """:func:`quizzes.units.display_label` of each unit, by id, in three queries
        whatever their number (a picker shows every school of the tree)."""
        units = list(units)
        tree = await self.by_ids({a for unit in units for a in unit.ancestor_ids})
        tree.update({unit.id: unit for unit in units})
        school_names = {u.name for u in tree.values() if u.kind is UnitKind.SCHOOL}
        if school_names:
            namesakes = select(UnitRow).where(
                UnitRow.kind == UnitKind.SCHOOL.value, UnitRow.name.in_(school_names)
            )
            tree.update({u.id: u for u in await self._list(namesakes)})
            missing = {u.parent_id for u in tree.values() if u.parent_id} - tree.keys()
            tree.update(await self.by_ids(missing))
        return {unit.id: display_label(unit, tree) for unit in units}

    async def retire(self, units: Iterable[Unit], when: datetime) -> None:
        """Retire units left out of the roster: offered to nobody, enrolment 0 (so no rate
        counts it), participants kept where they are."""
        ids = [unit.id for unit in units]
        if ids:
            await self.session.execute(
                update(UnitRow)
                .where(UnitRow.id.in_(ids), UnitRow.retired_at.is_(None))
                .values(retired_at=when, students_enrolled=0, teachers_enrolled=0)
                .execution_options(synchronize_session="fetch")
            )

    async def find_school(self, name_or_id: str) -> list[Unit]:
        """Schools by id, by name, or by regiment and name (``131团 中心小学``,
        ``131团·中心小学``, ``131团中心小学``) where two regiments have a school of that name."""
        query = select(UnitRow).where(UnitRow.kind == UnitKind.SCHOOL.value)
        if name_or_id.isdigit():
            return await self._list(query.where(UnitRow.id == int(name_or_id)))
        found = await self._list(query.where(UnitRow.name == name_or_id))
        if found:
            return found
        wanted = _squeezed(name_or_id)
        parent = UnitRow.__table__.alias("parent")
        rows = await self.session.execute(
            query.add_columns(parent.c.name).join(parent, parent.c.id == UnitRow.parent_id)
        )
        return [_unit(row) for row, regiment in rows if _squeezed(regiment + row.name) == wanted]

    async def label(self, unit: Unit) -> UnitLabel:
        """The unit's names below the root: ``129团 · 胡杨河市第一中学 · 七年级1班``."""
        ids = unit.ancestor_ids
        rows = await self.session.execute(
            select(UnitRow.id, UnitRow.name, UnitRow.parent_id).where(UnitRow.id.in_(ids))
        )
        names = {row.id: (row.name, row.parent_id) for row in rows}
        shown = tuple(names[i][0] for i in ids if names[i][1] is not None) or (unit.name,)
        return UnitLabel(unit, shown)

    async def school_of(self, unit: Unit) -> Unit | None:
        for ancestor_id in unit.ancestor_ids:
            ancestor = await self.get(ancestor_id)
            if ancestor and ancestor.kind is UnitKind.SCHOOL:
                return ancestor
        return None

    async def ensure(
        self,
        parent: Unit | None,
        kind: UnitKind,
        name: str,
        *,
        students: int | None = None,
        teachers: int | None = None,
    ) -> tuple[Unit, bool]:
        """Find ``name`` under ``parent`` or create it; update enrolment when given."""
        query = select(UnitRow).where(UnitRow.name == name)
        query = query.where(
            UnitRow.parent_id == parent.id if parent else UnitRow.parent_id.is_(None)
        )
        row = (await self.session.execute(query)).scalar_one_or_none()
        created = row is None
        if row is None:
            row = UnitRow(parent_id=parent.id if parent else None, kind=kind.value, name=name)
            self.session.add(row)
            await self.session.flush()
            row.path = f"{parent.path if parent else '/'}{row.id}/"
        if students is not None:
            row.students_enrolled = students
        if teachers is not None:
            row.teachers_enrolled = teachers
        row.retired_at = None  # listed again: back in use
        await self.session.flush()
        return _unit(row), created

    async def _list(self, query: Select[UnitRow]) -> list[Unit]:
        rows = await self.session.scalars(query.order_by(UnitRow.id))
        return [_unit(row) for row in rows]


def _squeezed(text: str) -> str:
    """A unit path as people type it, without the separators they put between names."""
    return re.sub(r"[\s·・•/|>＞\-—]+", "", text)


class ParticipantRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_or_create(self, telegram_id: int, locale: str) -> Participant:
        """Idempotent under concurrent and re-delivered updates: one row per Telegram id."""
        found = await self.by_telegram_id(telegram_id)
        if found is not None:  # the common case reads and writes nothing
            return found
        await self.session.execute(
            insert_ignoring_conflicts(self.session, ParticipantRow).values(
                telegram_id=telegram_id, locale=locale, subscribed=True, first_seen_at=utcnow()
            )
        )
        found = await self.by_telegram_id(telegram_id)
        assert found is not None
        return found

    async def by_telegram_id(self, telegram_id: int) -> Participant | None:
        connection = await self.session.connection()
        result = await connection.execute(
            _PARTICIPANT_BY_TELEGRAM_ID, {"telegram_id": telegram_id}
        )
        row = result.one_or_none()
        return participant_of(row) if row else None

    async def update(self, participant: Participant, **values: object) -> Participant:
        row = await self.session.get(ParticipantRow, participant.id)
        assert row is not None
        for name, value in values.items():
            setattr(row, name, value.value if isinstance(value, Role) else value)
        await self.session.flush()
        return participant_of(row)

    async def by_id(self, participant_id: int) -> Participant | None:
        row = await self.session.get(ParticipantRow, participant_id)
        return participant_of(row) if row else None

    async def mark_joined(self, participant: Participant, when: datetime) -> Participant:
        if participant.joined_at is not None:
            return participant
        return await self.update(participant, joined_at=when)

    async def set_blocked(self, telegram_id: int, when: datetime | None) -> None:
        await self.session.execute(
            update(ParticipantRow)
            .where(ParticipantRow.telegram_id == telegram_id)
            .values(blocked_at=when)
        )

    async def count_within(self, unit: Unit) -> int:
        """Participants who belong to the unit or a unit below it."""
        member = UnitRow.__table__.alias("member")
        query = (
            select(func.count(ParticipantRow.id))
            .select_from(ParticipantRow)
            .join(member, member.c.id == ParticipantRow.unit_id)
            .where(member.c.path.startswith(unit.path, autoescape=False))
        )
        return int(await self.session.scalar(query) or 0)

    async def count_registered_by_school(self) -> dict[int, int]:
        """Registered participants (``joined_at`` set) per school, classes counted in."""
        school = (
            select(UnitRow.id, UnitRow.path)
            .where(UnitRow.kind == UnitKind.SCHOOL.value)
            .subquery()
        )
        member = UnitRow.__table__.alias("member")
        query = (
            select(school.c.id, func.count(ParticipantRow.id))
            .select_from(ParticipantRow)
            .join(member, member.c.id == ParticipantRow.unit_id)
            .join(school, member.c.path.startswith(school.c.path, autoescape=False))
            .where(ParticipantRow.joined_at.is_not(None))
            .group_by(school.c.id)
        )
        return {school_id: count for school_id, count in await self.session.execute(query)}


class InviteRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def active_for(self, unit_id: int, role: Role) -> InviteCode:
        """The unit's live code for ``role``, created on first use (re-exports are stable)."""
        query = select(InviteCodeRow).where(
            InviteCodeRow.unit_id == unit_id,
            InviteCodeRow.role == role.value,
            InviteCodeRow.revoked_at.is_(None),
        )
        row = (await self.session.scalars(query.order_by(InviteCodeRow.created_at))).first()
        if row is None:
            row = InviteCodeRow(code=new_invite_code(), unit_id=unit_id, role=role.value)
            self.session.add(row)
            await self.session.flush()
        return _invite(row)

    async def resolve(self, code: str) -> InviteCode | None:
        row = await self.session.get(InviteCodeRow, code)
        return _invite(row) if row else None

    async def count_use(self, code: str) -> None:
        await self.session.execute(
            update(InviteCodeRow)
            .where(InviteCodeRow.code == code)
            .values(uses=InviteCodeRow.uses + 1)
        )

    async def revoke_for(self, units: Iterable[Unit], when: datetime) -> None:
        """Switch off the live codes of these units (retired from the roster)."""
        ids = [unit.id for unit in units]
        if ids:
            await self.session.execute(
                update(InviteCodeRow)
                .where(InviteCodeRow.unit_id.in_(ids), InviteCodeRow.revoked_at.is_(None))
                .values(revoked_at=when)
            )

    async def revoke(self, code: str) -> InviteCode | None:
        row = await self.session.get(InviteCodeRow, code)
        if row is None:
            return None
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            await self.session.flush()
        return _invite(row)


class GrantRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of(self, participant_id: int) -> list[Grant]:
        rows = await self.session.scalars(
            select(GrantRow).where(GrantRow.participant_id == participant_id)
        )
        return [Grant(row.participant_id, GrantKind(row.kind), row.unit_id) for row in rows]

    async def grant(
        self, participant_id: int, kind: GrantKind, unit_id: int | None, granted_by: int | None
    ) -> bool:
        """Record a grant; ``False`` when the participant already had it. ``granted_by``: the
        granting admin's Telegram id; None when an account was made on the web or the
        command line."""
        result = await self.session.execute(
            insert_ignoring_conflicts(self.session, GrantRow).values(
                participant_id=participant_id,
                kind=kind.value,
                unit_id=unit_id,
                granted_by=granted_by,
                granted_at=utcnow(),
            )
        )
        return bool(getattr(result, "rowcount", 0))

    async def revoke(
        self, participant_id: int, kind: GrantKind, unit_id: int | None = None
    ) -> int:
        """Remove the participant's grants of ``kind`` (only the one for ``unit_id`` when
        given); how many there were."""
        query = select(GrantRow).where(
            GrantRow.participant_id == participant_id, GrantRow.kind == kind.value
        )
        if unit_id is not None:
            query = query.where(GrantRow.unit_id == unit_id)
        rows = await self.session.scalars(query)
        found = list(rows)
        for row in found:
            await self.session.delete(row)
        await self.session.flush()
        return len(found)


@dataclass
class Repositories:
    """All repositories over one session: one unit of work per update."""

    session: AsyncSession
    units: UnitRepository
    participants: ParticipantRepository
    invites: InviteRepository
    grants: GrantRepository
    banks: BankRepository
    campaigns: CampaignRepository
    attempts: AttemptRepository
    shortlists: ShortlistRepository
    certificate_names: CertificateNames
    erasure: ParticipantErasure

    @classmethod
    def over(cls, session: AsyncSession, presses: DirectPresses | None = None) -> Self:
        """``presses``: the driver path for a quiz press's statements (PostgreSQL)."""
        return cls(
            session,
            UnitRepository(session),
            ParticipantRepository(session),
            InviteRepository(session),
            GrantRepository(session),
            BankRepository(session),
            CampaignRepository(session),
            AttemptRepository(session, presses),
            ShortlistRepository(session),
            CertificateNames(session),
            ParticipantErasure(session),
        )

    async def commit(self) -> None:
        await self.session.commit()
