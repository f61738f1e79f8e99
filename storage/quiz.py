"""Campaigns and attempts in the database; returns domain objects only."""

from __future__ import annotations

import contextlib
import functools
import json
import typing
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import (
    BigInteger,
    BindParameter,
    Integer,
    Select,
    String,
    Table,
    and_,
    bindparam,
    case,
    cast,
    delete,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from quizzes.attempts import Attempt, AttemptQuestion, AttemptStatus, Owner, Snapshot
from quizzes.bank import Difficulty, Level, StoredQuestion, parse_difficulty
from quizzes.campaigns import Audience, Campaign, CampaignStatus, Rules
from quizzes.certificates import (
    Band,
    IssuedCertificate,
    VerifiedCertificate,
    new_verification_code,
)
from quizzes.engine import Candidate, Feedback, Standing, best_per_participant
from quizzes.participants import Role
from quizzes.privacy import PendingConsent, new_consent_code
from quizzes.themes import Theme
from quizzes.units import UnitKind
from storage.banks import stored_question
from storage.database import end_outside_transaction, read_outside_transaction
from storage.models import ParticipantRow, UnitRow
from storage.models_certificates import CertificateRow
from storage.models_privacy import GuardianConsentCodeRow
from storage.models_quiz import (
    AttemptQuestionRow,
    AttemptRow,
    CampaignRow,
    CertificateNameRow,
    ShortlistEntryRow,
    ShortlistRow,
)
from storage.models_quiz_bank import QuestionRow
from storage.presses import DirectPresses


@dataclass(frozen=True, slots=True)
class Ranked:
    """A finished attempt with who made it and where they belong (for shortlists)."""

    standing: Standing
    attempt_id: int
    display_name: str
    unit_path: str
    flagged: int = 0  # answers faster than a person can read the question


@dataclass(frozen=True, slots=True)
class SchoolRank:
    """A participant's place among those of their role in their school."""

    role: Role
    place: int | None  # None: no finished attempt of theirs yet
    of: int


@dataclass(frozen=True, slots=True)
class QuestionStat:
    question: StoredQuestion
    answers: int
    right: int
    timed_out: int
    most_chosen_wrong: tuple[int, ...]  # original option indices
    most_chosen_wrong_count: int

    @property
    def rate(self) -> float:
        return self.right / self.answers if self.answers else 0.0


def _mix_from_row(raw: dict[str, float] | None) -> dict[Difficulty, float] | None:
    """A stored ``{"易": 0.5, ...}`` as the campaign's mix."""
    if raw is None:
        return None
    mix: dict[Difficulty, float] = {}
    for label, share in raw.items():
        difficulty = parse_difficulty(label)
        if difficulty is not None:
            mix[difficulty] = float(share)
    return mix


def _mix_to_row(mix: dict[Difficulty, float] | None) -> dict[str, float] | None:
    return None if mix is None else {d.label: share for d, share in mix.items()}


def _campaign(row: Any) -> Campaign:
    """From a :class:`CampaignRow` or a namespace of its columns."""
    return Campaign(
        id=row.id,
        name=row.name,
        status=CampaignStatus(row.status),
        bank_ids=tuple(row.bank_ids),
        rules=Rules(
            questions=row.questions,
            per_tag=dict(row.per_tag or {}),
            seconds_per_question=row.seconds_per_question,
            seconds_per_attempt=row.seconds_per_attempt,
            attempts_allowed=row.attempts_allowed,
            pass_mark=row.pass_mark,
            distinction=row.distinction,
            feedback=Feedback(row.feedback),
            partial_credit=row.partial_credit,
            certificate=row.certificate,
            level=Level(row.level) if row.level is not None else None,
            difficulty_mix=_mix_from_row(row.difficulty_mix),
        ),
        opens_at=row.opens_at,
        closes_at=row.closes_at,
        audience=Audience(
            tuple(row.audience_units or ()), tuple(Role(r) for r in row.audience_roles or ())
        ),
        created_by=row.created_by,
        theme=Theme(row.theme),
    )


def _audience_query(campaign: Campaign) -> Select[int, str]:
    """(chat id, locale) of registered, subscribed, unblocked participants it is for who
    can be reached in chat (web participants have no Telegram id and are left out)."""
    query = select(ParticipantRow.telegram_id, ParticipantRow.locale).where(
        ParticipantRow.telegram_id.is_not(None),
        ParticipantRow.joined_at.is_not(None),
        ParticipantRow.subscribed.is_(True),
        ParticipantRow.blocked_at.is_(None),
    )
    if campaign.audience.roles:
        query = query.where(ParticipantRow.role.in_([r.value for r in campaign.audience.roles]))
    if campaign.audience.unit_ids:
        member = UnitRow.__table__.alias("member")
        scope = UnitRow.__table__.alias("scope")
        query = (
            query.join(member, member.c.id == ParticipantRow.unit_id)
            .join(scope, member.c.path.startswith(scope.c.path))
            .where(scope.c.id.in_(campaign.audience.unit_ids))
            .distinct()
        )
    return typing.cast("Select[int, str]", query)  # telegram_id IS NOT NULL above


def _attempt(row: Any) -> Attempt:
    """From an :class:`AttemptRow` or a row of its columns (``RETURNING``)."""
    return Attempt(
        id=row.id,
        campaign_id=row.campaign_id,
        participant_id=row.participant_id,
        number=row.number,
        status=AttemptStatus(row.status),
        started_at=row.started_at,
        deadline=row.deadline,
        finished_at=row.finished_at,
        current_seq=row.current_seq,
        question_count=row.question_count,
        points=row.points,
        passed=row.passed,
        total_ms=row.total_ms,
        flagged=row.flagged,
        chat_id=row.chat_id,
        message_id=row.message_id,
    )


def _attempt_question(row: Any, question: Any) -> AttemptQuestion:
    """From an :class:`AttemptQuestionRow` and its :class:`QuestionRow`, or namespaces."""
    return AttemptQuestion(
        attempt_id=row.attempt_id,
        seq=row.seq,
        question=stored_question(question),
        order=tuple(row.option_order),
        shown_at=row.shown_at,
        deadline=row.deadline,
        answered_at=row.answered_at,
        chosen=frozenset(row.chosen) if row.chosen is not None else None,
        draft=frozenset(row.draft or ()),
        points=row.points,
        timed_out=row.timed_out,
        too_fast=row.too_fast,
    )


@dataclass(frozen=True, slots=True)
class _AnswerStatements:
    """The statements of a press, built once: building them costs more than running them."""

    snapshot: Any
    current: Any  # a snapshot at the attempt's current question (``following``)
    # (start, end, column keys) of each table's columns in a snapshot row.
    snapshot_parts: tuple[tuple[int, int, tuple[str, ...]], ...]
    record: Any
    advance: Any
    show: Any
    # PostgreSQL: the three writes as one statement (data-modifying CTEs), one round trip.
    record_advance_show: Any
    draft: Any  # a multiple-choice question's ticks

    def split(self, row: Sequence[Any]) -> list[SimpleNamespace]:
        return [
            SimpleNamespace(**dict(zip(keys, row[start:end], strict=True)))
            for start, end, keys in self.snapshot_parts
        ]

    def snapshot_of(self, row: Sequence[Any]) -> Snapshot:
        attempt, campaign, owner, this, question, next_row, next_question = self.split(row)
        return Snapshot(
            attempt=_attempt(attempt),
            campaign=_campaign(campaign),
            owner=Owner(owner.telegram_id, owner.locale),
            question=_attempt_question(this, question) if question.id is not None else None,
            following=(
                _attempt_question(next_row, next_question)
                if next_question.id is not None
                else None
            ),
        )

    def attempt_of(self, row: Sequence[Any]) -> Attempt:
        """From the attempt's columns in table order (``RETURNING`` of the write)."""
        keys = self.snapshot_parts[0][2]
        return _attempt(SimpleNamespace(**dict(zip(keys, row, strict=True))))


@functools.cache
def _answer_statements() -> _AnswerStatements:
    attempt: BindParameter[int] = bindparam("p_attempt", type_=BigInteger())
    seq: BindParameter[int] = bindparam("p_seq", type_=Integer())
    following_seq: BindParameter[int] = bindparam("p_next", type_=Integer())
    # Columns, not entities, executed on the session's connection: the ORM's loading
    # and identity bookkeeping cost more per press than the query itself.
    questions: Table = AttemptQuestionRow.__table__  # type: ignore[assignment]
    attempts: Table = AttemptRow.__table__  # type: ignore[assignment]
    campaigns: Table = CampaignRow.__table__  # type: ignore[assignment]
    bank_questions: Table = QuestionRow.__table__  # type: ignore[assignment]
    participants: Table = ParticipantRow.__table__  # type: ignore[assignment]
    this, this_question = questions.alias("this"), bank_questions.alias("this_question")
    following, following_question = questions.alias("next"), bank_questions.alias("next_question")
    owner = (participants.c.telegram_id, participants.c.locale)
    tables: tuple[Iterable[Any], ...] = (
        attempts.c,
        campaigns.c,
        owner,
        this.c,
        this_question.c,
        following.c,
        following_question.c,
    )
    columns: list[Any] = []
    parts: list[tuple[int, int, tuple[str, ...]]] = []
    for number, table_columns in enumerate(tables):
        start = len(columns)
        columns += [column.label(f"t{number}_{column.key}") for column in table_columns]
        parts.append((start, len(columns), tuple(column.key for column in table_columns)))

    def snapshot_at(this_seq: Any, following_seq_: Any) -> Any:
        return (
            select(*columns)
            .select_from(attempts)
            .join(campaigns, campaigns.c.id == attempts.c.campaign_id)
            .join(participants, participants.c.id == attempts.c.participant_id)
            .outerjoin(this, and_(this.c.attempt_id == attempts.c.id, this.c.seq == this_seq))
            .outerjoin(this_question, this_question.c.id == this.c.question_id)
            .outerjoin(
                following,
                and_(following.c.attempt_id == attempts.c.id, following.c.seq == following_seq_),
            )
            .outerjoin(following_question, following_question.c.id == following.c.question_id)
            .where(attempts.c.id == attempt)
        )

    snapshot = snapshot_at(seq, following_seq)
    # The same at the attempt's own place: the question before and the current one.
    current = snapshot_at(attempts.c.current_seq - 1, attempts.c.current_seq)
    q = questions.c
    record = (
        update(questions)
        .where(q.attempt_id == attempt, q.seq == seq, q.answered_at.is_(None))
        .values(
            chosen=bindparam("p_chosen", type_=q.chosen.type),
            answered_at=bindparam("p_answered_at", type_=q.answered_at.type),
            points=bindparam("p_points", type_=q.points.type),
            timed_out=False,
            too_fast=bindparam("p_too_fast", type_=q.too_fast.type),
        )
    )
    a = attempts.c
    advance = (
        update(attempts)
        .where(a.id == attempt)
        .values(
            points=a.points + bindparam("p_points", type_=a.points.type),
            flagged=a.flagged + bindparam("p_flagged", type_=a.flagged.type),
            current_seq=case((a.current_seq == seq, following_seq), else_=a.current_seq),
        )
        .returning(*a)
    )
    show = (
        update(questions)
        .where(q.attempt_id == attempt, q.seq == following_seq)
        .values(
            shown_at=bindparam("p_shown_at", type_=q.shown_at.type),
            deadline=bindparam("p_deadline", type_=q.deadline.type),
        )
    )
    recorded = record.returning(q.attempt_id).cte("recorded")
    advanced = advance.where(exists(select(recorded.c.attempt_id))).cte("advanced")
    shown = show.where(
        exists(select(advanced.c.id).where(advanced.c.current_seq == following_seq))
    ).cte("shown")
    record_advance_show = select(advanced).add_cte(shown)
    draft = (
        update(questions)
        .where(q.attempt_id == attempt, q.seq == seq, q.answered_at.is_(None))
        .values(draft=bindparam("p_draft", type_=q.draft.type))
    )
    return _AnswerStatements(
        snapshot, current, tuple(parts), record, advance, show, record_advance_show, draft
    )


class CampaignRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(
        self,
        *,
        name: str,
        bank_ids: Sequence[int],
        rules: Rules,
        opens_at: datetime,
        closes_at: datetime,
        audience: Audience,
        created_by: int | None,
        draft: bool = False,
        theme: Theme = Theme.OTHER,
    ) -> Campaign:
        row = CampaignRow(
            name=name,
            status=(CampaignStatus.DRAFT if draft else CampaignStatus.SCHEDULED).value,
            bank_ids=list(bank_ids),
            questions=rules.questions,
            per_tag=dict(rules.per_tag),
            seconds_per_question=rules.seconds_per_question,
            seconds_per_attempt=rules.seconds_per_attempt,
            attempts_allowed=rules.attempts_allowed,
            pass_mark=rules.pass_mark,
            distinction=rules.distinction,
            feedback=rules.feedback.value,
            partial_credit=rules.partial_credit,
            certificate=rules.certificate,
            level=int(rules.level) if rules.level is not None else None,
            difficulty_mix=_mix_to_row(rules.difficulty_mix),
            opens_at=opens_at,
            closes_at=closes_at,
            audience_units=list(audience.unit_ids),
            audience_roles=[r.value for r in audience.roles],
            created_by=created_by,
            theme=theme.value,
        )
        self.session.add(row)
        await self.session.flush()
        return _campaign(row)

    async def get(self, campaign_id: int) -> Campaign | None:
        row = await self.session.get(CampaignRow, campaign_id)
        return _campaign(row) if row else None

    async def by_name(self, name: str) -> Campaign | None:
        row = await self.session.scalar(select(CampaignRow).where(CampaignRow.name == name))
        return _campaign(row) if row else None

    async def all(self) -> list[Campaign]:
        rows = await self.session.scalars(select(CampaignRow).order_by(CampaignRow.opens_at))
        return [_campaign(row) for row in rows]

    async def open_at(self, now: datetime) -> list[Campaign]:
        """Campaigns whose window includes ``now`` (drafts never)."""
        rows = await self.session.scalars(
            select(CampaignRow)
            .where(
                CampaignRow.status != CampaignStatus.DRAFT.value,
                CampaignRow.opens_at <= now,
                CampaignRow.closes_at > now,
            )
            .order_by(CampaignRow.closes_at)
        )
        return [_campaign(row) for row in rows]

    async def audience_chats(self, campaign: Campaign) -> list[tuple[int, str]]:
        """(chat id, locale) of registered, subscribed, unblocked participants it is for."""
        query = _audience_query(campaign)
        return [(chat_id, locale) for chat_id, locale in await self.session.execute(query)]

    async def audience_passed(self, campaign: Campaign) -> set[int]:
        """Chat ids in :meth:`audience_chats` with a passed attempt in the campaign."""
        passed = (
            select(AttemptRow.id)
            .where(
                AttemptRow.campaign_id == campaign.id,
                AttemptRow.participant_id == ParticipantRow.id,
                AttemptRow.passed.is_(True),
            )
            .exists()
        )
        query = _audience_query(campaign).where(passed)
        return {chat_id for chat_id, _locale in await self.session.execute(query)}

    async def audience_without_finished_attempt(self, campaign: Campaign) -> list[tuple[int, str]]:
        """:meth:`audience_chats` less those with a finished attempt in the campaign.

        An attempt still running (or left unfinished) does not count as taking part yet.
        """
        finished = (
            select(AttemptRow.id)
            .where(
                AttemptRow.campaign_id == campaign.id,
                AttemptRow.participant_id == ParticipantRow.id,
                AttemptRow.status == AttemptStatus.FINISHED.value,
            )
            .exists()
        )
        query = _audience_query(campaign).where(~finished)
        return [(chat_id, locale) for chat_id, locale in await self.session.execute(query)]

    async def set_window_end(self, campaign_id: int, closes_at: datetime) -> None:
        """Bring the close forward (or push it back); the planner reschedules the job."""
        row = await self.session.get(CampaignRow, campaign_id)
        assert row is not None
        row.closes_at = max(closes_at, row.opens_at + timedelta(seconds=1))
        await self.session.flush()

    async def set_status(self, campaign_id: int, status: CampaignStatus) -> bool:
        """Move to ``status``; False when it was already there (the job ran before)."""
        result = await self.session.execute(
            update(CampaignRow)
            .where(CampaignRow.id == campaign_id, CampaignRow.status != status.value)
            .values(status=status.value)
        )
        return bool(getattr(result, "rowcount", 0))


class AttemptRepository:
    """Implements :class:`quizzes.attempts.AttemptStore`.

    With ``presses`` (PostgreSQL), a press's statements outside a transaction run on the
    driver (:mod:`storage.presses`); everything else goes through the session.
    """

    def __init__(self, session: AsyncSession, presses: DirectPresses | None = None) -> None:
        self.session = session
        self.presses = presses
        self._together = False

    def _direct(self) -> DirectPresses | None:
        """The driver path, unless the unit of work has a transaction these must join
        (or is about to: inside :meth:`together`)."""
        if self.presses is None or self._together or self.session.in_transaction():
            return None
        return self.presses

    async def attempts_used(self, campaign_id: int, participant_id: int) -> int:
        count = await self.session.scalar(
            select(func.count())
            .select_from(AttemptRow)
            .where(
                AttemptRow.campaign_id == campaign_id, AttemptRow.participant_id == participant_id
            )
        )
        return int(count or 0)

    async def active_attempt(self, campaign_id: int, participant_id: int) -> Attempt | None:
        row = await self.session.scalar(
            select(AttemptRow).where(
                AttemptRow.campaign_id == campaign_id,
                AttemptRow.participant_id == participant_id,
                AttemptRow.status == AttemptStatus.ACTIVE.value,
            )
        )
        return _attempt(row) if row else None

    async def passed_for(self, participant_id: int) -> list[tuple[Attempt, Campaign]]:
        """The participant's passed attempts, best per campaign, newest campaign first."""
        rows = await self.session.execute(
            select(AttemptRow, CampaignRow)
            .join(CampaignRow, CampaignRow.id == AttemptRow.campaign_id)
            .where(AttemptRow.participant_id == participant_id, AttemptRow.passed.is_(True))
            .order_by(CampaignRow.opens_at.desc(), AttemptRow.points.desc())
        )
        best: dict[int, tuple[Attempt, Campaign]] = {}
        for attempt, campaign in rows:
            best.setdefault(campaign.id, (_attempt(attempt), _campaign(campaign)))
        return list(best.values())

    async def latest(self, campaign_id: int, participant_id: int) -> Attempt | None:
        row = await self.session.scalar(
            select(AttemptRow)
            .where(
                AttemptRow.campaign_id == campaign_id, AttemptRow.participant_id == participant_id
            )
            .order_by(AttemptRow.number.desc())
            .limit(1)
        )
        return _attempt(row) if row else None

    async def finished_of(self, participant_id: int, campaign_ids: Sequence[int]) -> list[Attempt]:
        """The participant's finished attempts at these campaigns."""
        if not campaign_ids:
            return []
        rows = await self.session.scalars(
            select(AttemptRow).where(
                AttemptRow.participant_id == participant_id,
                AttemptRow.campaign_id.in_(campaign_ids),
                AttemptRow.status == AttemptStatus.FINISHED.value,
            )
        )
        return [_attempt(row) for row in rows]

    async def active_in(self, campaign_id: int) -> list[Attempt]:
        rows = await self.session.scalars(
            select(AttemptRow).where(
                AttemptRow.campaign_id == campaign_id,
                AttemptRow.status == AttemptStatus.ACTIVE.value,
            )
        )
        return [_attempt(row) for row in rows]

    async def active_for(self, participant_id: int) -> list[Attempt]:
        rows = await self.session.scalars(
            select(AttemptRow).where(
                AttemptRow.participant_id == participant_id,
                AttemptRow.status == AttemptStatus.ACTIVE.value,
            )
        )
        return [_attempt(row) for row in rows]

    async def candidates(self, bank_ids: Sequence[int]) -> list[Candidate]:
        rows = await self.session.execute(
            select(
                QuestionRow.id, QuestionRow.tags, QuestionRow.level, QuestionRow.difficulty
            ).where(QuestionRow.bank_id.in_(bank_ids), QuestionRow.retired_at.is_(None))
        )
        return [
            Candidate(qid, tuple(tags or ()), Level(level), Difficulty(difficulty))
            for qid, tags, level, difficulty in rows
        ]

    async def questions(self, question_ids: Sequence[int]) -> dict[int, StoredQuestion]:
        rows = await self.session.scalars(
            select(QuestionRow).where(QuestionRow.id.in_(question_ids))
        )
        return {row.id: stored_question(row) for row in rows}

    async def create_attempt(
        self,
        campaign: Campaign,
        participant_id: int,
        number: int,
        plan: Sequence[tuple[int, Sequence[int]]],
        started_at: datetime,
        deadline: datetime | None,
        first_deadline: datetime | None,
        chat_id: int | None,
    ) -> Attempt | None:
        """Create the attempt with its questions; None if this number exists already."""
        row = AttemptRow(
            campaign_id=campaign.id,
            participant_id=participant_id,
            number=number,
            status=AttemptStatus.ACTIVE.value,
            started_at=started_at,
            deadline=deadline,
            current_seq=1,
            question_count=len(plan),
            points=0.0,
            flagged=0,
            chat_id=chat_id,
        )
        try:
            async with self.session.begin_nested():
                self.session.add(row)
                await self.session.flush()
        except IntegrityError:
            return None
        self.session.add_all(
            AttemptQuestionRow(
                attempt_id=row.id,
                seq=seq,
                question_id=question_id,
                option_order=list(order),
                shown_at=started_at if seq == 1 else None,
                deadline=first_deadline if seq == 1 else None,
                draft=[],
                timed_out=False,
                too_fast=False,
            )
            for seq, (question_id, order) in enumerate(plan, start=1)
        )
        await self.session.flush()
        return _attempt(row)

    async def get(self, attempt_id: int) -> Attempt | None:
        row = await self.session.get(AttemptRow, attempt_id, populate_existing=True)
        return _attempt(row) if row else None

    async def question(self, attempt_id: int, seq: int) -> AttemptQuestion | None:
        result = await self.session.execute(
            select(AttemptQuestionRow, QuestionRow)
            .join(QuestionRow, QuestionRow.id == AttemptQuestionRow.question_id)
            .where(AttemptQuestionRow.attempt_id == attempt_id, AttemptQuestionRow.seq == seq)
            .execution_options(populate_existing=True)
        )
        found = result.first()
        if found is None:
            return None
        row, question = found
        return _attempt_question(row, question)

    async def snapshot(self, attempt_id: int, seq: int) -> Snapshot | None:
        """The attempt, its campaign, its owner and its questions ``seq`` and ``seq + 1``.

        Read outside a transaction unless one is open, and the statements after it run so
        too until :meth:`together`: each of a press's writes but those is a single
        conditional statement, whole on its own, so BEGIN and COMMIT (a round trip each
        on PostgreSQL) would add nothing.
        """
        values = {"p_attempt": attempt_id, "p_seq": seq, "p_next": seq + 1}
        return await self._snapshot(_answer_statements().snapshot, values)

    async def current(self, attempt_id: int) -> Snapshot | None:
        """:meth:`snapshot` at the attempt's own place, in the same one statement: its
        current question as ``following``, the one before (if any) as ``question``."""
        return await self._snapshot(_answer_statements().current, {"p_attempt": attempt_id})

    async def _snapshot(self, statement: Any, values: dict[str, Any]) -> Snapshot | None:
        direct = self._direct()
        if direct is not None:
            found = await direct.fetch_row(statement, values)
        else:
            await read_outside_transaction(self.session)
            connection = await self.session.connection()
            found = (await connection.execute(statement, values)).first()
        return _answer_statements().snapshot_of(found) if found is not None else None

    @contextlib.asynccontextmanager
    async def together(self) -> AsyncIterator[None]:
        """The writes made inside share one transaction (committed by the unit of work)."""
        await end_outside_transaction(self.session)
        self._together = True
        try:
            yield
        finally:
            self._together = False

    async def record_and_advance(
        self,
        attempt_id: int,
        seq: int,
        *,
        chosen: frozenset[int],
        answered_at: datetime,
        points: float,
        too_fast: bool,
        next_deadline: datetime | None,
    ) -> Attempt | None:
        """:meth:`record` then :meth:`advance` in three statements, with no read-back.

        The answer is recorded only if the question is still unanswered (as in
        :meth:`record`); only the press that recorded it moves the attempt on, and only
        from ``seq`` (as in :meth:`advance`). On PostgreSQL the three are one statement.
        """
        statements = _answer_statements()
        values = {
            "p_attempt": attempt_id,
            "p_seq": seq,
            "p_next": seq + 1,
            "p_chosen": sorted(chosen),
            "p_answered_at": answered_at,
            "p_points": points,
            "p_too_fast": too_fast,
            "p_flagged": 1 if too_fast else 0,
            "p_shown_at": answered_at,
            "p_deadline": next_deadline,
        }
        direct = self._direct()
        if direct is not None:
            moved = await direct.fetch_row(statements.record_advance_show, values)
            return statements.attempt_of(moved) if moved is not None else None
        connection = await self.session.connection()
        if connection.dialect.name == "postgresql":
            row = (await connection.execute(statements.record_advance_show, values)).first()
            return _attempt(row) if row is not None else None
        # SQLite: the three, one after another (each takes the values it names).
        result = await connection.execute(statements.record, values)
        if not getattr(result, "rowcount", 0):
            return None
        moved = (await connection.execute(statements.advance, values)).one()
        if moved.current_seq == seq + 1:
            await connection.execute(statements.show, values)
        return _attempt(moved)

    async def record(
        self,
        attempt_id: int,
        seq: int,
        *,
        chosen: frozenset[int],
        answered_at: datetime,
        points: float,
        timed_out: bool,
        too_fast: bool,
    ) -> bool:
        """Record the answer unless one is there already; add its points to the attempt."""
        result = await self.session.execute(
            update(AttemptQuestionRow)
            .where(
                AttemptQuestionRow.attempt_id == attempt_id,
                AttemptQuestionRow.seq == seq,
                AttemptQuestionRow.answered_at.is_(None),
            )
            .values(
                chosen=sorted(chosen),
                answered_at=answered_at,
                points=points,
                timed_out=timed_out,
                too_fast=too_fast,
            )
        )
        if not getattr(result, "rowcount", 0):
            return False
        await self.session.execute(
            update(AttemptRow)
            .where(AttemptRow.id == attempt_id)
            .values(
                points=AttemptRow.points + points,
                flagged=AttemptRow.flagged + (1 if too_fast else 0),
            )
        )
        return True

    async def set_draft(self, attempt_id: int, seq: int, draft: frozenset[int]) -> bool:
        statement = _answer_statements().draft
        values = {"p_attempt": attempt_id, "p_seq": seq, "p_draft": sorted(draft)}
        direct = self._direct()
        if direct is not None:
            return bool(await direct.execute(statement, values))
        result = await (await self.session.connection()).execute(statement, values)
        return bool(getattr(result, "rowcount", 0))

    async def advance(
        self, attempt_id: int, from_seq: int, shown_at: datetime, deadline: datetime | None
    ) -> bool:
        result = await self.session.execute(
            update(AttemptRow)
            .where(AttemptRow.id == attempt_id, AttemptRow.current_seq == from_seq)
            .values(current_seq=from_seq + 1)
        )
        if not getattr(result, "rowcount", 0):
            return False
        await self.session.execute(
            update(AttemptQuestionRow)
            .where(
                AttemptQuestionRow.attempt_id == attempt_id,
                AttemptQuestionRow.seq == from_seq + 1,
            )
            .values(shown_at=shown_at, deadline=deadline)
        )
        return True

    async def finish(self, attempt_id: int, finished_at: datetime, passed: bool) -> Attempt:
        row = await self.session.get(AttemptRow, attempt_id, populate_existing=True)
        assert row is not None
        if row.status != AttemptStatus.FINISHED.value:
            row.status = AttemptStatus.FINISHED.value
            row.finished_at = finished_at
            row.passed = passed
            row.total_ms = int((finished_at - row.started_at).total_seconds() * 1000)
            await self.session.flush()
        return _attempt(row)

    async def set_message(self, attempt_id: int, message_id: int) -> None:
        await self.session.execute(
            update(AttemptRow).where(AttemptRow.id == attempt_id).values(message_id=message_id)
        )

    async def overdue(self, now: datetime, limit: int = 100) -> list[tuple[int, int, int]]:
        """(campaign id, attempt id, seq) of shown questions whose time ran out unanswered."""
        rows = await self.session.execute(
            select(AttemptRow.campaign_id, AttemptQuestionRow.attempt_id, AttemptQuestionRow.seq)
            .join(AttemptRow, AttemptRow.id == AttemptQuestionRow.attempt_id)
            .where(
                and_(
                    AttemptQuestionRow.answered_at.is_(None),
                    AttemptQuestionRow.deadline.is_not(None),
                    AttemptQuestionRow.deadline <= now,
                )
            )
            .order_by(AttemptQuestionRow.deadline)
            .limit(limit)
        )
        return [(c, a, s) for c, a, s in rows]

    async def all_questions(self, attempt_id: int) -> list[AttemptQuestion]:
        seqs = await self.session.scalars(
            select(AttemptQuestionRow.seq)
            .where(AttemptQuestionRow.attempt_id == attempt_id)
            .order_by(AttemptQuestionRow.seq)
        )
        found = [await self.question(attempt_id, seq) for seq in seqs]
        return [question for question in found if question is not None]

    async def standings(
        self, campaign_id: int, scope_path: str | None = None, role: Role | None = None
    ) -> list[Ranked]:
        """Every finished attempt in the campaign (within a unit subtree, by participants
        of one role), with who and where."""
        member = UnitRow.__table__.alias("member")
        query = (
            select(
                AttemptRow.id,
                AttemptRow.participant_id,
                AttemptRow.points,
                AttemptRow.total_ms,
                AttemptRow.finished_at,
                ParticipantRow.display_name,
                member.c.path,
                AttemptRow.flagged,
            )
            .join(ParticipantRow, ParticipantRow.id == AttemptRow.participant_id)
            .join(member, member.c.id == ParticipantRow.unit_id)
            .where(
                AttemptRow.campaign_id == campaign_id,
                AttemptRow.status == AttemptStatus.FINISHED.value,
            )
        )
        if scope_path is not None:
            query = query.where(member.c.path.startswith(scope_path, autoescape=True))
        if role is not None:
            query = query.where(ParticipantRow.role == role.value)
        rows = await self.session.execute(query)
        return [
            Ranked(
                Standing(pid, points, total_ms or 0, finished_at),
                attempt_id=aid,
                display_name=name or "",
                unit_path=path,
                flagged=flagged,
            )
            for aid, pid, points, total_ms, finished_at, name, path, flagged in rows
        ]

    async def rank_in_school(self, attempt: Attempt) -> SchoolRank | None:
        """The attempt's participant's place among the best attempts of their school's
        participants of the same role (students among students, teachers among teachers);
        None outside a school or without a role."""
        found = await self._school_and_role(attempt.participant_id)
        if found is None:
            return None
        school, role = found
        ranked = best_per_participant(
            [r.standing for r in await self.standings(attempt.campaign_id, school, role)]
        )
        for place, standing in enumerate(ranked, start=1):
            if standing.participant_id == attempt.participant_id:
                return SchoolRank(role, place, len(ranked))
        return SchoolRank(role, None, len(ranked))

    async def _school_and_role(self, participant_id: int) -> tuple[str, Role] | None:
        member = UnitRow.__table__.alias("member")
        school = UnitRow.__table__.alias("school")
        found = (
            await self.session.execute(
                select(school.c.path, ParticipantRow.role)
                .select_from(ParticipantRow)
                .join(member, member.c.id == ParticipantRow.unit_id)
                .join(school, member.c.path.startswith(school.c.path))
                .where(ParticipantRow.id == participant_id, school.c.kind == UnitKind.SCHOOL.value)
            )
        ).first()
        if found is None or found.role is None:
            return None
        return found.path, Role(found.role)

    async def question_stats(
        self, campaign_id: int, within: Sequence[str] | None = None
    ) -> list[QuestionStat]:
        """Per question: answers, correct rate and the most chosen wrong option (in SQL);
        of the whole campaign, or (``within``: unit paths) of the answers of participants
        who belong to those units' subtrees."""

        counted = [
            AttemptRow.campaign_id == campaign_id,
            AttemptQuestionRow.answered_at.is_not(None),
        ]
        if within is not None:
            member = UnitRow.__table__.alias("member")
            counted.append(
                AttemptRow.participant_id.in_(
                    select(ParticipantRow.id)
                    .join(member, member.c.id == ParticipantRow.unit_id)
                    .where(or_(*(member.c.path.startswith(p, autoescape=True) for p in within)))
                )
            )
        answered = (
            select(
                AttemptQuestionRow.question_id,
                func.count().label("answers"),
                func.sum(case((AttemptQuestionRow.points >= 1.0, 1), else_=0)).label("right"),
                func.sum(case((AttemptQuestionRow.timed_out, 1), else_=0)).label("timed_out"),
            )
            .join(AttemptRow, AttemptRow.id == AttemptQuestionRow.attempt_id)
            .where(*counted)
            .group_by(AttemptQuestionRow.question_id)
        )
        stats = {
            qid: (answers, right or 0, timed or 0)
            for qid, answers, right, timed in await self.session.execute(answered)
        }
        if not stats:
            return []
        # JSON has no equality operator on PostgreSQL: group by its text, read it back.
        chosen_text = cast(AttemptQuestionRow.chosen, String)
        wrong = (
            select(AttemptQuestionRow.question_id, chosen_text, func.count())
            .join(AttemptRow, AttemptRow.id == AttemptQuestionRow.attempt_id)
            .where(
                *counted,
                AttemptQuestionRow.points < 1.0,
                AttemptQuestionRow.timed_out.is_(False),
            )
            .group_by(AttemptQuestionRow.question_id, chosen_text)
        )
        worst: dict[int, tuple[tuple[int, ...], int]] = {}
        for qid, chosen, count in await self.session.execute(wrong):
            key = tuple(json.loads(chosen) if chosen else ())
            if qid not in worst or count > worst[qid][1]:
                worst[qid] = (key, count)
        questions = await self.questions(list(stats))
        return sorted(
            (
                QuestionStat(
                    question=questions[qid],
                    answers=answers,
                    right=right,
                    timed_out=timed,
                    most_chosen_wrong=worst.get(qid, ((), 0))[0],
                    most_chosen_wrong_count=worst.get(qid, ((), 0))[1],
                )
                for qid, (answers, right, timed) in stats.items()
            ),
            key=lambda s: (s.rate, s.question.id),
        )


@dataclass(frozen=True, slots=True)
class KeptShortlist:
    """A list as it was drawn: a selection once ``confirmed_at`` is set."""

    id: int
    campaign_id: int
    scope_unit_id: int | None
    top_n: int
    roles: tuple[Role, ...]  # empty: drawn before the roles were kept
    participant_ids: tuple[int, ...]  # in rank order
    confirmed_at: datetime | None
    # Who drew it and when, who confirmed it (Telegram ids; None: the command line).
    created_at: datetime | None = None
    created_by: int | None = None
    confirmed_by: int | None = None


@dataclass(frozen=True, slots=True)
class ShortlistName:
    """One place on a kept list, with the display name the person had then or has now."""

    rank: int
    participant_id: int
    display_name: str
    unit_id: int | None
    points: float
    total_ms: int


def _kept(row: ShortlistRow, participant_ids: tuple[int, ...]) -> KeptShortlist:
    return KeptShortlist(
        row.id,
        row.campaign_id,
        row.scope_unit_id,
        row.top_n,
        tuple(Role(r) for r in (row.roles or "").split(",") if r),
        participant_ids,
        row.confirmed_at,
        row.created_at,
        row.created_by,
        row.confirmed_by,
    )


class ShortlistRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def roles_of(self, participant_ids: Iterable[int]) -> dict[int, Role | None]:
        """The role of each participant (None: registration not finished)."""
        wanted = sorted(set(participant_ids))
        if not wanted:
            return {}
        rows = await self.session.execute(
            select(ParticipantRow.id, ParticipantRow.role).where(ParticipantRow.id.in_(wanted))
        )
        return {pid: Role(role) if role else None for pid, role in rows}

    async def get(self, shortlist_id: int) -> KeptShortlist | None:
        row = await self.session.get(ShortlistRow, shortlist_id)
        if row is None:
            return None
        entries = await self.session.scalars(
            select(ShortlistEntryRow.participant_id)
            .where(ShortlistEntryRow.shortlist_id == shortlist_id)
            .order_by(ShortlistEntryRow.rank)
        )
        return _kept(row, tuple(entries))

    async def of_campaign(
        self, campaign_id: int, limit: int = 20
    ) -> list[tuple[KeptShortlist, list[ShortlistName]]]:
        """The lists kept for a campaign, newest first, each with its places and names:
        the shortlist's audit trail."""
        rows = list(
            await self.session.scalars(
                select(ShortlistRow)
                .where(ShortlistRow.campaign_id == campaign_id)
                .order_by(ShortlistRow.created_at.desc(), ShortlistRow.id.desc())
                .limit(limit)
            )
        )
        places: dict[int, list[ShortlistName]] = {row.id: [] for row in rows}
        if places:
            entries = await self.session.execute(
                select(
                    ShortlistEntryRow.shortlist_id,
                    ShortlistEntryRow.rank,
                    ShortlistEntryRow.participant_id,
                    ParticipantRow.display_name,
                    ParticipantRow.unit_id,
                    ShortlistEntryRow.points,
                    ShortlistEntryRow.total_ms,
                )
                .join(ParticipantRow, ParticipantRow.id == ShortlistEntryRow.participant_id)
                .where(ShortlistEntryRow.shortlist_id.in_(list(places)))
                .order_by(ShortlistEntryRow.shortlist_id, ShortlistEntryRow.rank)
            )
            for list_id, rank, pid, name, unit_id, points, total_ms in entries:
                places[list_id].append(
                    ShortlistName(rank, pid, name or "", unit_id, points, total_ms)
                )
        return [
            (_kept(row, tuple(p.participant_id for p in places[row.id])), places[row.id])
            for row in rows
        ]

    async def confirm(self, shortlist_id: int, confirmed_by: int | None, at: datetime) -> bool:
        """Make the list a selection; False when it already was one (a second press)."""
        done = await self.session.execute(
            update(ShortlistRow)
            .where(ShortlistRow.id == shortlist_id, ShortlistRow.confirmed_at.is_(None))
            .values(confirmed_at=at, confirmed_by=confirmed_by)
        )
        return bool(getattr(done, "rowcount", 0))

    async def record(
        self,
        campaign_id: int,
        scope_unit_id: int | None,
        top_n: int,
        entries: Sequence[Ranked],
        created_by: int | None,
        *,
        roles: Sequence[Role] = (Role.STUDENT,),
        confirmed_at: datetime | None = None,
    ) -> int:
        """Keep the list as it was drawn, so that the selection can be audited later: as
        what ``/top`` showed, or (``confirmed_at``) as a selection."""
        row = ShortlistRow(
            campaign_id=campaign_id,
            scope_unit_id=scope_unit_id,
            top_n=top_n,
            created_by=created_by,
            roles=",".join(role.value for role in roles),
            confirmed_at=confirmed_at,
            confirmed_by=created_by if confirmed_at is not None else None,
        )
        self.session.add(row)
        await self.session.flush()
        self.session.add_all(
            ShortlistEntryRow(
                shortlist_id=row.id,
                rank=rank,
                participant_id=entry.standing.participant_id,
                attempt_id=entry.attempt_id,
                points=entry.standing.points,
                total_ms=entry.standing.total_ms,
                finished_at=entry.standing.finished_at,
            )
            for rank, entry in enumerate(entries, start=1)
        )
        await self.session.flush()
        return row.id


class CertificateNames:
    """Real names for certificates, and the guardian-consent codes of students under 14."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def delete(self, participant_id: int) -> bool:
        row = await self.session.get(CertificateNameRow, participant_id)
        if row is None:
            return False
        await self.session.delete(row)
        await self.session.flush()
        return True

    async def get(self, participant_id: int) -> str | None:
        row = await self.session.get(CertificateNameRow, participant_id)
        return row.real_name if row else None

    async def set(
        self,
        participant_id: int,
        real_name: str,
        when: datetime,
        confirmed_by: int | None = None,
    ) -> None:
        """``confirmed_by``: the teacher who confirmed a guardian's consent, if one did."""
        row = await self.session.get(CertificateNameRow, participant_id)
        if row is None:
            row = CertificateNameRow(participant_id=participant_id)
            self.session.add(row)
        row.real_name, row.consented_at, row.confirmed_by = real_name, when, confirmed_by
        await self.session.flush()

    async def consent_code(self, participant_id: int, attempt_id: int, now: datetime) -> str:
        """The student's live consent code (a new one if there is none, or it is too old);
        the certificate of ``attempt_id`` is the one to send once it is confirmed."""
        row = await self.session.scalar(
            select(GuardianConsentCodeRow).where(
                GuardianConsentCodeRow.participant_id == participant_id
            )
        )
        if row is not None and _pending(row).live(now):
            row.attempt_id = attempt_id
            await self.session.flush()
            return row.code
        if row is not None:
            await self.session.delete(row)
            await self.session.flush()
        while True:
            code = new_consent_code()
            if await self.session.get(GuardianConsentCodeRow, code) is None:
                break
        self.session.add(
            GuardianConsentCodeRow(
                code=code, participant_id=participant_id, attempt_id=attempt_id, created_at=now
            )
        )
        await self.session.flush()
        return code

    async def pending(self, code: str, now: datetime) -> PendingConsent | None:
        row = await self.session.get(GuardianConsentCodeRow, code)
        found = _pending(row) if row else None
        return found if found and found.live(now) else None

    async def confirm(
        self, consent: PendingConsent, real_name: str, confirmed_by: int, now: datetime
    ) -> bool:
        """Use the code once: store the name with who confirmed it. ``False`` when the code
        was used (or replaced) in the meantime."""
        result = await self.session.execute(
            delete(GuardianConsentCodeRow).where(GuardianConsentCodeRow.code == consent.code)
        )
        if not getattr(result, "rowcount", 0):
            return False
        await self.set(consent.participant_id, real_name, now, confirmed_by=confirmed_by)
        return True

    async def issue(
        self, attempt_id: int, band: Band, year: int, now: datetime
    ) -> IssuedCertificate:
        """The attempt's certificate: its first issue, or the one issued before (same serial
        and code, however often and however concurrently it is asked for)."""
        found = await self._issued(attempt_id)
        if found is not None:
            return found
        while True:
            code = new_verification_code()
            taken = await self.session.scalar(
                select(CertificateRow.id).where(CertificateRow.code == code)
            )
            if taken is None:
                break
        try:
            async with self.session.begin_nested():
                self.session.add(
                    CertificateRow(
                        attempt_id=attempt_id, year=year, code=code, band=band.value, issued_at=now
                    )
                )
        except IntegrityError:  # issued at the same moment by another press
            pass
        found = await self._issued(attempt_id)
        assert found is not None
        return found

    async def _issued(self, attempt_id: int) -> IssuedCertificate | None:
        row = await self.session.scalar(
            select(CertificateRow).where(CertificateRow.attempt_id == attempt_id)
        )
        return _issued(row) if row else None

    async def verify(self, code: str) -> VerifiedCertificate | None:
        row = await self.session.execute(
            select(
                CertificateRow,
                CampaignRow.name,
                ParticipantRow,
                CertificateNameRow.real_name,
                AttemptRow.finished_at,
            )
            .join(AttemptRow, AttemptRow.id == CertificateRow.attempt_id)
            .join(CampaignRow, CampaignRow.id == AttemptRow.campaign_id)
            .join(ParticipantRow, ParticipantRow.id == AttemptRow.participant_id)
            .outerjoin(CertificateNameRow, CertificateNameRow.participant_id == ParticipantRow.id)
            .where(CertificateRow.code == code)
        )
        found = row.first()
        if found is None:
            return None
        certificate, campaign, participant, real_name, finished_at = found
        assert finished_at is not None  # only a finished, passed attempt has a certificate
        return VerifiedCertificate(
            certificate=_issued(certificate),
            campaign=campaign,
            display_name=participant.display_name,
            real_name=real_name,
            participant_id=participant.id,
            passed_at=finished_at,
        )


def _issued(row: CertificateRow) -> IssuedCertificate:
    return IssuedCertificate(
        id=row.id,
        attempt_id=row.attempt_id,
        year=row.year,
        code=row.code,
        band=Band(row.band),
        issued_at=row.issued_at,
    )


def _pending(row: GuardianConsentCodeRow) -> PendingConsent:
    return PendingConsent(row.code, row.participant_id, row.attempt_id, row.created_at)
