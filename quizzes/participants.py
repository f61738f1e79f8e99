"""Participants, their roles, and what registration still has to ask them."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

DISPLAY_NAME_MAX = 32
INVITE_CODE_BYTES = 9  # 12 url-safe characters, 72 bits: not guessable, fits a deep link


class Role(StrEnum):
    STUDENT = "student"
    TEACHER = "teacher"
    PARENT = "parent"


class GrantKind(StrEnum):
    ADMIN = "admin"
    COORDINATOR = "coordinator"


class MissingField(StrEnum):
    UNIT = "unit"
    ROLE = "role"
    DISPLAY_NAME = "display_name"


@dataclass(frozen=True, slots=True)
class Participant:
    id: int
    telegram_id: int
    display_name: str | None
    role: Role | None
    unit_id: int | None
    locale: str
    subscribed: bool
    blocked_at: datetime | None
    joined_at: datetime | None

    @property
    def registered(self) -> bool:
        return not missing_fields(self)


@dataclass(frozen=True, slots=True)
class InviteCode:
    code: str
    unit_id: int
    role: Role
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class Grant:
    participant_id: int
    kind: GrantKind
    unit_id: int | None


def missing_fields(participant: Participant) -> list[MissingField]:
    """What registration must still ask, in the order it asks it."""
    missing = []
    if participant.unit_id is None:
        missing.append(MissingField.UNIT)
    if participant.role is None:
        missing.append(MissingField.ROLE)
    if not participant.display_name:
        missing.append(MissingField.DISPLAY_NAME)
    return missing


def clean_display_name(text: str) -> str | None:
    """A display name as typed, trimmed; ``None`` when it is empty, too long or a command."""
    name = " ".join(text.split())
    if not name or name.startswith("/") or len(name) > DISPLAY_NAME_MAX:
        return None
    if any(not char.isprintable() for char in name):
        return None
    return name


def new_invite_code() -> str:
    """An unguessable deep-link payload (``A-Z a-z 0-9 _ -`` only, as Telegram requires)."""
    return secrets.token_urlsafe(INVITE_CODE_BYTES)


def looks_like_invite_code(payload: str) -> bool:
    return 1 <= len(payload) <= 64 and all(c.isalnum() or c in "_-" for c in payload)
