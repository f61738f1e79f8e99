"""Erasing a participant: who they were goes, what the report counted stays.

The participant's row is kept, because attempts, deliveries, reads, clicks, check-ins,
live answers and shortlist places are counted by its unit, role and joining time: the
report for a past period is the same after an erasure. Everything that says who the person
was is removed: the display name, the language, the real name for certificates, a pending
consent code, their grants, and every Telegram id of theirs, which becomes ``-participant
id`` (no Telegram user has a negative id, and no message is ever sent to it: the row is
unsubscribed and marked blocked). The same Telegram account starts afresh as a new
participant.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from quizzes.participants import Participant
from quizzes.privacy import Erasure
from storage.models import GrantRow, ParticipantRow
from storage.models_livequiz import LiveQuizRow
from storage.models_privacy import GuardianConsentCodeRow
from storage.models_publicity import ArticleRow, BroadcastRow, DeliveryRow, LectureRow
from storage.models_quiz import AttemptRow, CampaignRow, CertificateNameRow, ShortlistRow
from storage.models_quiz_bank import QuestionBankRow
from storage.models_reports import ReportVersionRow
from storage.models_staff_accounts import StaffAccountRow
from storage.models_web_identity import WebDeviceRow, WebIdentityRow

# Columns that keep the Telegram id of whoever did something (staff, mostly).
ACTOR_COLUMNS: tuple[Any, ...] = (
    GrantRow.granted_by,
    BroadcastRow.created_by,
    BroadcastRow.progress_chat_id,
    ArticleRow.author_id,
    LectureRow.created_by,
    LiveQuizRow.started_by,
    ReportVersionRow.compiled_by,
    QuestionBankRow.imported_by,
    CampaignRow.created_by,
    ShortlistRow.created_by,
    ShortlistRow.confirmed_by,
)
# Columns that keep the private chat (= Telegram id) of the participant's own rows.
OWN_CHAT_COLUMNS: tuple[Any, ...] = (DeliveryRow.chat_id, AttemptRow.chat_id)


def placeholder_id(participant_id: int) -> int:
    """What an erased person's Telegram id becomes: nobody's, and unique."""
    return -participant_id


class ParticipantErasure:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_telegram_id(self, telegram_id: int) -> int | None:
        return await self.session.scalar(
            select(ParticipantRow.id).where(
                ParticipantRow.telegram_id == telegram_id, ParticipantRow.erased_at.is_(None)
            )
        )

    async def person(self, participant_id: int) -> Participant | None:
        """The participant of this id, unless there is none or they were erased already."""
        from storage.repositories import participant_of  # it imports this module

        row = await self.session.get(ParticipantRow, participant_id)
        return participant_of(row) if row is not None and row.erased_at is None else None

    async def web_people(self, unit_ids: Sequence[int]) -> list[Participant]:
        """Those of these units who joined on the web pages (no Telegram id) and are not
        erased, in the order they joined: whom staff may be asked to erase."""
        from storage.repositories import participant_of  # it imports this module

        rows = await self.session.scalars(
            select(ParticipantRow)
            .where(
                ParticipantRow.unit_id.in_(unit_ids),
                ParticipantRow.telegram_id.is_(None),
                ParticipantRow.erased_at.is_(None),
            )
            .order_by(ParticipantRow.joined_at, ParticipantRow.id)
        )
        return [participant_of(row) for row in rows]

    async def erase(self, participant_id: int, when: datetime) -> Erasure | None:
        """Erase one participant (see the module); None if there is none to erase."""
        row = await self.session.get(ParticipantRow, participant_id)
        if row is None or row.erased_at is not None:
            return None
        telegram_id, anonymous = row.telegram_id, placeholder_id(participant_id)
        named = await self.session.execute(
            delete(CertificateNameRow).where(CertificateNameRow.participant_id == participant_id)
        )
        await self.session.execute(
            delete(GuardianConsentCodeRow).where(
                GuardianConsentCodeRow.participant_id == participant_id
            )
        )
        grants = await self.session.execute(
            delete(GrantRow).where(GrantRow.participant_id == participant_id)
        )
        # A web participant's recovery code and devices, a staff web account (its login
        # name and password hash): nothing opens the row any more.
        for table in (WebIdentityRow, WebDeviceRow, StaffAccountRow):
            await self.session.execute(delete(table).where(table.participant_id == participant_id))
        # Not sent yet, so never counted: as if they had left before the broadcast.
        await self.session.execute(
            delete(DeliveryRow).where(
                DeliveryRow.participant_id == participant_id, DeliveryRow.status == "pending"
            )
        )
        for column in ACTOR_COLUMNS if telegram_id is not None else ():
            await self.session.execute(
                update(column.class_).where(column == telegram_id).values({column: anonymous})
            )
        for column in OWN_CHAT_COLUMNS if telegram_id is not None else ():
            owner = column.class_.participant_id
            await self.session.execute(
                update(column.class_)
                .where(owner == participant_id, column == telegram_id)
                .values({column: anonymous})
            )
        await self.session.execute(
            update(ParticipantRow)
            .where(ParticipantRow.id == participant_id)
            .values(
                telegram_id=anonymous if telegram_id is not None else None,
                display_name=None,
                locale="zh-CN",
                subscribed=False,
                blocked_at=when,
                erased_at=when,
            )
            .execution_options(synchronize_session=False)
        )
        self.session.expire_all()
        return Erasure(
            participant_id=participant_id,
            telegram_id=telegram_id,
            certificate_name=bool(getattr(named, "rowcount", 0)),
            grants=int(getattr(grants, "rowcount", 0)),
        )
