"""Web participants: created without a Telegram id, found again by the hash of their
device's cookie token or of their recovery code; merged into their chat participant when
they link the two doors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from quizzes.participants import Participant
from storage.models import ParticipantRow
from storage.models_privacy import GuardianConsentCodeRow
from storage.models_publicity import ArticleReadRow, LectureCheckinRow, LinkClickRow
from storage.models_quiz import AttemptRow, CertificateNameRow, ShortlistEntryRow
from storage.models_web_identity import WebDeviceRow, WebIdentityRow
from storage.presses import DirectPresses
from storage.repositories import PARTICIPANT_COLUMNS, participant_of

# Built once: columns, not entities (see storage.repositories' participant read).
_PARTICIPANT_BY_DEVICE = (
    select(
        WebDeviceRow.id.label("device_id"),
        WebDeviceRow.last_seen_at.label("device_seen_at"),
        *PARTICIPANT_COLUMNS,
    )
    .join(ParticipantRow, ParticipantRow.id == WebDeviceRow.participant_id)
    .where(WebDeviceRow.token_hash == bindparam("token_hash"))
)
_DEVICE_KEYS = tuple(str(column.key) for column in _PARTICIPANT_BY_DEVICE.selected_columns)


@dataclass(frozen=True, slots=True)
class MovedHistory:
    """What a merge moved to the participant who stays."""

    attempts: int
    reads: int
    check_ins: int


# Rows of one participant per thing (an article read, a lecture attended): the one who
# stays keeps theirs, the other's is dropped with them.
_ONE_EACH: tuple[tuple[Any, Any], ...] = (
    (ArticleReadRow, ArticleReadRow.article_id),
    (LinkClickRow, LinkClickRow.article_id),
    (LectureCheckinRow, LectureCheckinRow.lecture_id),
)


class WebIdentityRepository:
    def __init__(self, session: AsyncSession, presses: DirectPresses | None = None) -> None:
        self.session = session
        self.presses = presses  # PostgreSQL: every page's first read on the driver

    async def create_participant(self, locale: str, now: datetime) -> int:
        """A participants row with no Telegram id; registration fills in the rest."""
        created = await self.session.scalar(
            insert(ParticipantRow)
            .values(telegram_id=None, locale=locale, subscribed=True, first_seen_at=now)
            .returning(ParticipantRow.id)
        )
        assert created is not None
        return int(created)

    async def add_identity(self, participant_id: int, recovery_hash: str, now: datetime) -> bool:
        """False when another participant has that recovery code's hash already."""
        try:
            async with self.session.begin_nested():
                self.session.add(
                    WebIdentityRow(
                        participant_id=participant_id,
                        recovery_hash=recovery_hash,
                        created_at=now,
                        last_seen_at=now,
                    )
                )
        except IntegrityError:
            return False
        return True

    async def add_device(self, participant_id: int, token_hash: str, now: datetime) -> None:
        self.session.add(
            WebDeviceRow(
                participant_id=participant_id,
                token_hash=token_hash,
                created_at=now,
                last_seen_at=now,
            )
        )
        await self.session.flush()

    async def by_device(self, token_hash: str) -> tuple[int, datetime, Participant] | None:
        """(device id, last seen, participant) of a device's token hash, in one statement:
        every page a web participant opens starts with it, on the driver outside a
        transaction (as a quiz press's reads), so a page that reads nothing else through
        the session costs no BEGIN and COMMIT."""
        values = {"token_hash": token_hash}
        row: Any
        if self.presses is not None and not self.session.in_transaction():
            found = await self.presses.fetch_row(_PARTICIPANT_BY_DEVICE, values)
            if found is None:
                return None
            row = SimpleNamespace(**dict(zip(_DEVICE_KEYS, found, strict=True)))
        else:
            connection = await self.session.connection()
            row = (await connection.execute(_PARTICIPANT_BY_DEVICE, values)).first()
            if row is None:
                return None
        return row.device_id, row.device_seen_at, participant_of(row)

    async def touch_device(self, device_id: int, now: datetime) -> None:
        await self.session.execute(
            update(WebDeviceRow).where(WebDeviceRow.id == device_id).values(last_seen_at=now)
        )

    async def by_recovery(self, recovery_hash: str) -> int | None:
        """The participant whose recovery code has this hash."""
        return await self.session.scalar(
            select(WebIdentityRow.participant_id).where(
                WebIdentityRow.recovery_hash == recovery_hash
            )
        )

    async def touch_identity(self, participant_id: int, now: datetime) -> None:
        await self.session.execute(
            update(WebIdentityRow)
            .where(WebIdentityRow.participant_id == participant_id)
            .values(last_seen_at=now)
        )

    async def has_identity(self, participant_id: int) -> bool:
        """Whether this participant has a recovery code: joined on the web, or linked."""
        found = await self.session.scalar(
            select(WebIdentityRow.participant_id).where(
                WebIdentityRow.participant_id == participant_id
            )
        )
        return found is not None

    async def merge(self, web_id: int, into_id: int) -> MovedHistory:
        """Move a web participant's history to ``into_id`` and delete them, in this
        transaction: attempts (numbered after the other's in each campaign, so both
        histories stay), reads, clicks and check-ins (one per article or lecture: the
        other's stays), shortlist places, a real name and a consent code the other lacks,
        the recovery code and the devices; the earlier joining and first contact count."""
        highest = await self.session.execute(
            select(AttemptRow.campaign_id, func.max(AttemptRow.number))
            .where(AttemptRow.participant_id == into_id)
            .group_by(AttemptRow.campaign_id)
        )
        offsets = {campaign_id: int(number) for campaign_id, number in highest}
        campaigns = await self.session.scalars(
            select(AttemptRow.campaign_id).where(AttemptRow.participant_id == web_id).distinct()
        )
        attempts = 0
        for campaign_id in list(campaigns):
            moved = await self.session.execute(
                update(AttemptRow)
                .where(AttemptRow.participant_id == web_id, AttemptRow.campaign_id == campaign_id)
                .values(
                    participant_id=into_id, number=AttemptRow.number + offsets.get(campaign_id, 0)
                )
                .execution_options(synchronize_session=False)
            )
            attempts += moved.rowcount  # type: ignore[attr-defined]
        counts = []
        for row, thing in _ONE_EACH:
            theirs = select(thing).where(row.participant_id == into_id)
            moved = await self.session.execute(
                update(row)
                .where(row.participant_id == web_id, thing.not_in(theirs.scalar_subquery()))
                .values(participant_id=into_id)
                .execution_options(synchronize_session=False)
            )
            counts.append(moved.rowcount)  # type: ignore[attr-defined]
        await self.session.execute(
            update(ShortlistEntryRow)
            .where(ShortlistEntryRow.participant_id == web_id)
            .values(participant_id=into_id)
        )
        for own in (CertificateNameRow, GuardianConsentCodeRow):
            has = select(own.participant_id).where(own.participant_id == into_id).exists()
            await self.session.execute(
                update(own)
                .where(own.participant_id == web_id, ~has)
                .values(participant_id=into_id)
                .execution_options(synchronize_session=False)
            )
        for owned in (WebIdentityRow, WebDeviceRow):
            await self.session.execute(
                update(owned)
                .where(owned.participant_id == web_id)
                .values(participant_id=into_id)
                .execution_options(synchronize_session=False)
            )
        for leftover in (
            *(row for row, _thing in _ONE_EACH),
            CertificateNameRow,
            GuardianConsentCodeRow,
        ):
            await self.session.execute(delete(leftover).where(leftover.participant_id == web_id))
        times = (
            await self.session.execute(
                select(ParticipantRow.joined_at, ParticipantRow.first_seen_at).where(
                    ParticipantRow.id.in_([web_id, into_id])
                )
            )
        ).all()
        joined = [row.joined_at for row in times if row.joined_at is not None]
        seen = [row.first_seen_at for row in times if row.first_seen_at is not None]
        await self.session.execute(
            update(ParticipantRow)
            .where(ParticipantRow.id == into_id)
            .values(joined_at=min(joined, default=None), first_seen_at=min(seen))
        )
        await self.session.execute(delete(ParticipantRow).where(ParticipantRow.id == web_id))
        return MovedHistory(attempts, counts[0], counts[2])
