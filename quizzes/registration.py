"""Registration rules: joining a unit by invite code or by walking the tree.

Pure domain: storage is reached through the Protocols below, so the rules are tested
without a database and the handlers only translate between chat and these calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from quizzes.participants import (
    InviteCode,
    MissingField,
    Participant,
    Role,
    invite_code_candidates,
    missing_fields,
)
from quizzes.units import Unit, UnitKind


class UnitStore(Protocol):
    async def get(self, unit_id: int) -> Unit | None: ...


class ParticipantStore(Protocol):
    async def update(self, participant: Participant, **values: object) -> Participant: ...

    async def mark_joined(self, participant: Participant, when: datetime) -> Participant: ...


class InviteStore(Protocol):
    async def resolve(self, code: str) -> InviteCode | None: ...

    async def count_use(self, code: str) -> None: ...


class JoinStatus(StrEnum):
    JOINED = "joined"  # first time in a unit
    MOVED = "moved"  # was in another unit before
    ALREADY = "already"  # same unit as before: a second tap on the link
    UNKNOWN_CODE = "unknown_code"
    REVOKED_CODE = "revoked_code"


@dataclass(frozen=True, slots=True)
class JoinOutcome:
    status: JoinStatus
    participant: Participant
    unit: Unit | None = None

    @property
    def missing(self) -> list[MissingField]:
        return missing_fields(self.participant)


# A participant belongs to a school or to one of its classes, never to a regiment.
JOINABLE_KINDS = frozenset({UnitKind.SCHOOL, UnitKind.CLASS})


class Registration:
    def __init__(
        self,
        units: UnitStore,
        participants: ParticipantStore,
        invites: InviteStore,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.units = units
        self.participants = participants
        self.invites = invites
        self.clock = clock

    async def join_with_code(self, participant: Participant, code: str) -> JoinOutcome:
        invite = None
        for candidate in invite_code_candidates(code):
            invite = await self.invites.resolve(candidate)
            if invite is not None:
                break
        if invite is None:
            return JoinOutcome(JoinStatus.UNKNOWN_CODE, participant)
        if not invite.active:
            return JoinOutcome(JoinStatus.REVOKED_CODE, participant)
        unit = await self.units.get(invite.unit_id)
        if unit is None:
            return JoinOutcome(JoinStatus.UNKNOWN_CODE, participant)
        if participant.unit_id == unit.id:
            status = JoinStatus.ALREADY
        elif participant.unit_id is None:
            status = JoinStatus.JOINED
            await self.invites.count_use(invite.code)
        else:
            status = JoinStatus.MOVED
            await self.invites.count_use(invite.code)
        participant = await self.participants.update(
            participant, unit_id=unit.id, role=participant.role or invite.role
        )
        return JoinOutcome(status, await self._complete_if_ready(participant), unit)

    async def choose_unit(self, participant: Participant, unit: Unit) -> Participant:
        if unit.kind not in JOINABLE_KINDS:
            raise ValueError(f"cannot join a {unit.kind}")
        participant = await self.participants.update(participant, unit_id=unit.id)
        return await self._complete_if_ready(participant)

    async def choose_role(self, participant: Participant, role: Role) -> Participant:
        participant = await self.participants.update(participant, role=role)
        return await self._complete_if_ready(participant)

    async def set_display_name(self, participant: Participant, name: str) -> Participant:
        participant = await self.participants.update(participant, display_name=name)
        return await self._complete_if_ready(participant)

    async def _complete_if_ready(self, participant: Participant) -> Participant:
        if participant.joined_at is None and not missing_fields(participant):
            return await self.participants.mark_joined(participant, self.clock())
        return participant
