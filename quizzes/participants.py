"""Participants, their roles, and what registration still has to ask them."""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from quizzes.spreadsheet_safety import looks_like_formula

DISPLAY_NAME_MAX = 32
# Crockford's base32: digits and capitals without I, L, O and U, so nothing on a printed
# card can be misread, and no punctuation for a spreadsheet to escape.
INVITE_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
INVITE_CODE_LENGTH = 12  # 60 bits: not guessable, short enough to read aloud
# What a person may type instead of the printed character.
_READ_AS = str.maketrans({"I": "1", "L": "1", "O": "0"})
_TYPED_SEPARATORS = str.maketrans("", "", " -_'\"\u2018\u2019\u201c\u201d")


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
    telegram_id: int | None  # None: joined on the web pages, never reached in chat
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

    @property
    def chat_id(self) -> int:
        """The private chat (the Telegram id) of someone met in chat: every participant a
        chat handler sees has one; a participant who joined on the web pages has none."""
        if self.telegram_id is None:
            raise LookupError(f"participant {self.id} joined on the web pages: no chat")
        return self.telegram_id


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
    """A display name as typed, trimmed; ``None`` when it is empty, too long, a command,
    or would be read as a formula when a list of names is opened in a spreadsheet."""
    name = " ".join(text.split())
    if not name or name.startswith("/") or len(name) > DISPLAY_NAME_MAX:
        return None
    if any(not char.isprintable() for char in name) or looks_like_formula(name):
        return None
    return name


def name_looks_like_formula(text: str) -> bool:
    """The typed name (trimmed) begins with = + - or @: refused with its own explanation."""
    return looks_like_formula(" ".join(text.split()))


def new_invite_code() -> str:
    """An unguessable deep-link payload a teacher can read aloud: 12 of Crockford's base32."""
    return "".join(secrets.choice(INVITE_CODE_ALPHABET) for _ in range(INVITE_CODE_LENGTH))


def invite_code_candidates(payload: str) -> list[str]:
    """The codes a payload may stand for, most literal first.

    Codes handed out before were case-sensitive url-safe text, so the payload as given
    (and without the apostrophe an escaped CSV cell shows) comes first; then the
    Crockford reading: any case, full-width characters, spaces and dashes between groups,
    I or L for 1 and O for 0.
    """
    text = unicodedata.normalize("NFKC", payload).strip()
    if not text or len(text) > 64 or any(not char.isprintable() for char in text):
        return []
    candidates = [payload.strip(), text, text.lstrip("'")]
    crockford = text.translate(_TYPED_SEPARATORS).upper().translate(_READ_AS)
    if crockford and all(char in INVITE_CODE_ALPHABET for char in crockford):
        candidates.append(crockford)
    shapes = dict.fromkeys(candidates)  # in order, without repeats
    return [code for code in shapes if code and _is_code_shaped(code)]


def _is_code_shaped(code: str) -> bool:
    """What Telegram allows in a deep link: ``A-Z a-z 0-9 _ -``, up to 64 characters."""
    return len(code) <= 64 and all(
        char.isascii() and (char.isalnum() or char in "_-") for char in code
    )
