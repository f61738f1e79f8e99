"""Staff web accounts and the refused logins that rate-limit them.

An account is a participants row with no Telegram id (its rights are its grants, or a
teacher's class, as for anyone) plus a ``staff_accounts`` row: the login name, the argon2
hash, a pending setup link's hash, the TOTP secret and the last step used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ParticipantRow
from storage.models_staff_accounts import LoginFailureRow, StaffAccountRow


@dataclass(frozen=True, slots=True)
class StaffAccount:
    participant_id: int
    login_name: str
    display_name: str
    password_hash: str | None
    setup_expires_at: datetime | None
    totp_secret: str | None
    totp_pending: str | None
    totp_last_step: int | None
    created_at: datetime
    disabled_at: datetime | None

    @property
    def active(self) -> bool:
        return self.disabled_at is None


def _account(row: StaffAccountRow, display_name: str | None) -> StaffAccount:
    return StaffAccount(
        row.participant_id,
        row.login_name,
        display_name or "",
        row.password_hash,
        row.setup_expires_at,
        row.totp_secret,
        row.totp_pending,
        row.totp_last_step,
        row.created_at,
        row.disabled_at,
    )


_WITH_NAME = select(StaffAccountRow, ParticipantRow.display_name).join(
    ParticipantRow, ParticipantRow.id == StaffAccountRow.participant_id
)


class StaffAccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(
        self,
        *,
        login_name: str,
        display_name: str,
        role: str | None,
        unit_id: int | None,
        locale: str,
        setup_hash: str,
        setup_expires_at: datetime,
        created_by: int | None,
        now: datetime,
    ) -> int | None:
        """The new account's participant id; None when the login name is taken (nothing
        written)."""
        taken = await self.session.scalar(
            select(StaffAccountRow.participant_id).where(StaffAccountRow.login_name == login_name)
        )
        if taken is not None:
            return None
        person = ParticipantRow(
            telegram_id=None,
            display_name=display_name,
            role=role,
            unit_id=unit_id,
            locale=locale,
            subscribed=False,  # nothing is sent to someone with no chat
            first_seen_at=now,
        )
        try:
            async with self.session.begin_nested():
                self.session.add(person)
                await self.session.flush()
                self.session.add(
                    StaffAccountRow(
                        participant_id=person.id,
                        login_name=login_name,
                        setup_hash=setup_hash,
                        setup_expires_at=setup_expires_at,
                        created_at=now,
                        created_by=created_by,
                    )
                )
                await self.session.flush()
        except IntegrityError:  # the same name created at the same moment elsewhere
            return None
        return person.id

    async def by_login_name(self, login_name: str) -> StaffAccount | None:
        found = (
            await self.session.execute(_WITH_NAME.where(StaffAccountRow.login_name == login_name))
        ).one_or_none()
        return None if found is None else _account(*found)

    async def by_participant(self, participant_id: int) -> StaffAccount | None:
        found = (
            await self.session.execute(
                _WITH_NAME.where(StaffAccountRow.participant_id == participant_id)
            )
        ).one_or_none()
        return None if found is None else _account(*found)

    async def by_setup_hash(self, setup_hash: str) -> StaffAccount | None:
        found = (
            await self.session.execute(_WITH_NAME.where(StaffAccountRow.setup_hash == setup_hash))
        ).one_or_none()
        return None if found is None else _account(*found)

    async def all(self) -> list[StaffAccount]:
        rows = await self.session.execute(_WITH_NAME.order_by(StaffAccountRow.login_name))
        return [_account(*row) for row in rows]

    async def is_disabled(self, participant_id: int) -> bool:
        disabled = await self.session.scalar(
            select(StaffAccountRow.disabled_at).where(
                StaffAccountRow.participant_id == participant_id
            )
        )
        return disabled is not None

    async def set_setup(self, participant_id: int, setup_hash: str, expires: datetime) -> None:
        await self.session.execute(
            update(StaffAccountRow)
            .where(StaffAccountRow.participant_id == participant_id)
            .values(setup_hash=setup_hash, setup_expires_at=expires)
        )

    async def use_setup(self, setup_hash: str, password_hash: str) -> bool:
        """Set the password through a pending setup link and end the link; False when the
        link was used meanwhile (one of two tabs wins)."""
        result = await self.session.execute(
            update(StaffAccountRow)
            .where(StaffAccountRow.setup_hash == setup_hash)
            .values(password_hash=password_hash, setup_hash=None, setup_expires_at=None)
        )
        return bool(getattr(result, "rowcount", 0))

    async def set_password_hash(self, participant_id: int, password_hash: str) -> None:
        await self.session.execute(
            update(StaffAccountRow)
            .where(StaffAccountRow.participant_id == participant_id)
            .values(password_hash=password_hash)
        )

    async def set_totp_pending(self, participant_id: int, secret: str | None) -> None:
        await self.session.execute(
            update(StaffAccountRow)
            .where(StaffAccountRow.participant_id == participant_id)
            .values(totp_pending=secret)
        )

    async def turn_off_totp(self, participant_id: int) -> None:
        await self.session.execute(
            update(StaffAccountRow)
            .where(StaffAccountRow.participant_id == participant_id)
            .values(totp_secret=None, totp_pending=None)
        )

    async def confirm_totp(self, participant_id: int, secret: str, step: int) -> None:
        await self.session.execute(
            update(StaffAccountRow)
            .where(StaffAccountRow.participant_id == participant_id)
            .values(totp_secret=secret, totp_pending=None, totp_last_step=step)
        )

    async def use_totp_step(self, participant_id: int, step: int) -> bool:
        """Record ``step`` as used; False when it (or a later one) was used already: the
        condition is in the statement, so two logins with one code cannot both pass."""
        last = StaffAccountRow.totp_last_step
        result = await self.session.execute(
            update(StaffAccountRow)
            .where(
                StaffAccountRow.participant_id == participant_id,
                or_(last.is_(None), last < step),
            )
            .values(totp_last_step=step)
        )
        return bool(getattr(result, "rowcount", 0))

    async def disable(self, participant_id: int, now: datetime) -> None:
        await self.session.execute(
            update(StaffAccountRow)
            .where(
                StaffAccountRow.participant_id == participant_id,
                StaffAccountRow.disabled_at.is_(None),
            )
            .values(disabled_at=now, setup_hash=None, setup_expires_at=None)
        )

    # -- refused logins -----------------------------------------------------------------

    async def record_refusal(
        self, *, login_name: str, address: str, outcome: str, now: datetime
    ) -> None:
        self.session.add(
            LoginFailureRow(
                at=now, login_name=login_name[:64], address=address[:64], outcome=outcome
            )
        )
        await self.session.flush()

    async def failures_since(
        self, since: datetime, *, login_name: str, address: str
    ) -> tuple[Sequence[datetime], Sequence[datetime]]:
        """When the failures (not the tries refused as locked) since ``since`` happened:
        for this login name, and from this address."""
        found: list[list[datetime]] = []
        for column, value in (
            (LoginFailureRow.login_name, login_name[:64]),
            (LoginFailureRow.address, address[:64]),
        ):
            rows = await self.session.scalars(
                select(LoginFailureRow.at)
                .where(
                    column == value,
                    LoginFailureRow.at > since,
                    LoginFailureRow.outcome == "failure",
                )
                .order_by(LoginFailureRow.at)
            )
            found.append(list(rows))
        return found[0], found[1]

    async def count_refusals(self) -> int:
        return int(await self.session.scalar(select(func.count(LoginFailureRow.id))) or 0)

    async def forget_refusals(self, before: datetime) -> int:
        """Delete the refusals from before ``before``; how many went."""
        result = await self.session.execute(
            delete(LoginFailureRow).where(LoginFailureRow.at < before)
        )
        return int(getattr(result, "rowcount", 0) or 0)
