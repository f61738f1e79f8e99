"""Web participants: created without a Telegram id, found again by the hash of their
device's cookie token or of their recovery code."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from quizzes.participants import Participant
from storage.models import ParticipantRow
from storage.models_web_identity import WebDeviceRow, WebIdentityRow
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


class WebIdentityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

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
        every page a web participant opens starts with it."""
        connection = await self.session.connection()
        found = await connection.execute(_PARTICIPANT_BY_DEVICE, {"token_hash": token_hash})
        row = found.first()
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
