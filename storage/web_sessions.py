"""Dashboard sessions: created from a one-time login link, looked up by the hash of the
cookie's id, touched while used, revoked at logout, when the rights are gone, or when the
way its account signs in changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models_web import WebSessionRow


@dataclass(frozen=True, slots=True)
class WebSession:
    id: int
    participant_id: int
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    revoked_at: datetime | None


def _session(row: WebSessionRow) -> WebSession:
    return WebSession(
        row.id,
        row.participant_id,
        row.csrf_token,
        row.created_at,
        row.last_seen_at,
        row.revoked_at,
    )


class WebSessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(
        self,
        *,
        token_hash: str,
        link_nonce: str,
        csrf_token: str,
        participant_id: int,
        now: datetime,
    ) -> WebSession | None:
        """A new session; None when the link's nonce has opened one already (its row
        stays, revoked or not, so the link can never be used again)."""
        row = WebSessionRow(
            token_hash=token_hash,
            link_nonce=link_nonce,
            csrf_token=csrf_token,
            participant_id=participant_id,
            created_at=now,
            last_seen_at=now,
            revoked_at=None,
        )
        self.session.add(row)
        try:
            await self.session.flush()
        except IntegrityError:  # the same link opened twice at once: the other one won
            await self.session.rollback()
            return None
        return _session(row)

    async def link_used(self, link_nonce: str) -> bool:
        found = await self.session.scalar(
            select(WebSessionRow.id).where(WebSessionRow.link_nonce == link_nonce)
        )
        return found is not None

    async def by_token_hash(self, token_hash: str) -> WebSession | None:
        row = await self.session.scalar(
            select(WebSessionRow).where(WebSessionRow.token_hash == token_hash)
        )
        return None if row is None else _session(row)

    async def touch(self, session_id: int, now: datetime) -> None:
        await self.session.execute(
            update(WebSessionRow).where(WebSessionRow.id == session_id).values(last_seen_at=now)
        )

    async def revoke(self, session_id: int, now: datetime) -> None:
        await self.session.execute(
            update(WebSessionRow)
            .where(WebSessionRow.id == session_id, WebSessionRow.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def revoke_all_of(self, participant_id: int, now: datetime) -> None:
        """End every live session of the person."""
        await self.session.execute(
            update(WebSessionRow)
            .where(
                WebSessionRow.participant_id == participant_id,
                WebSessionRow.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
