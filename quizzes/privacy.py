"""Personal data: a guardian's consent for a child's real name, and erasing a person.

个人信息保护法 art. 31: the personal information of a child under 14 is handled only with
a guardian's consent. The bot cannot meet a parent, so the school does: a student under 14
gets a one-time code, and a teacher of their class (or a coordinator of their school), after
checking with a parent, confirms it with the real name (``/consent CODE 姓名``). The name is
stored with who confirmed it; until then certificates carry the display name.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from quizzes.participants import Participant, Role
from quizzes.permissions import Permissions
from quizzes.units import Unit

CONSENT_AGE = 14
CONSENT_CODE_VALID = timedelta(days=14)
# No 0/O, 1/I/L: the code is read aloud or copied by hand from a phone.
CONSENT_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CONSENT_CODE_LENGTH = 6


def new_consent_code() -> str:
    return "".join(secrets.choice(CONSENT_CODE_ALPHABET) for _ in range(CONSENT_CODE_LENGTH))


def normalize_consent_code(text: str) -> str | None:
    """The code as typed (any case, spaces or dashes between), or None if it cannot be one."""
    code = "".join(text.split()).replace("-", "").upper()
    if len(code) != CONSENT_CODE_LENGTH or any(c not in CONSENT_CODE_ALPHABET for c in code):
        return None
    return code


def needs_age_question(participant: Participant) -> bool:
    """Teachers and parents are adults; a student, or someone who has not said, may be a
    child."""
    return participant.role not in (Role.TEACHER, Role.PARENT)


@dataclass(frozen=True, slots=True)
class PendingConsent:
    code: str
    participant_id: int
    attempt_id: int | None
    created_at: datetime

    def live(self, now: datetime) -> bool:
        return now - self.created_at < CONSENT_CODE_VALID


def may_confirm(
    confirmer: Participant, permissions: Permissions, student: Participant, unit: Unit | None
) -> bool:
    """A teacher of the student's own class, or staff who manage the student's unit."""
    if unit is not None and permissions.may_manage(unit):
        return True
    return (
        confirmer.role is Role.TEACHER
        and student.unit_id is not None
        and confirmer.unit_id == student.unit_id
        and confirmer.id != student.id
    )


@dataclass(frozen=True, slots=True)
class Erasure:
    """What was removed for one person; the counted facts (attempts, deliveries, reads,
    check-ins...) stay, tied to a row that no longer says who it was."""

    participant_id: int
    telegram_id: int | None  # None: a participant of the web pages
    certificate_name: bool
    grants: int


class ErasureStore(Protocol):
    async def erase(self, participant_id: int, when: datetime) -> Erasure | None: ...


class PrivacyRepositories(Protocol):
    """What the privacy chat needs of the repositories over an update's session."""

    @property
    def erasure(self) -> ErasureStore: ...

    async def commit(self) -> None: ...
