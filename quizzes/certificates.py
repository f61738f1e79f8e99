"""What a certificate says: its band (合格 or 优秀), serial number and verification code."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from quizzes.campaigns import Rules
from quizzes.participants import INVITE_CODE_ALPHABET

# 10 of Crockford's base32: 50 bits, not guessable, short enough to type from paper.
VERIFY_CODE_LENGTH = 10
# Letters people read for digits on paper (Crockford's decoding).
_MISREAD = str.maketrans({"O": "0", "I": "1", "L": "1"})


class Band(StrEnum):
    PASS = "pass"
    DISTINCTION = "distinction"


def band_for(percent: float, rules: Rules) -> Band:
    """优秀 from the campaign's distinction mark on (if it sets one), else 合格."""
    if rules.distinction is not None and round(percent, 2) >= rules.distinction:
        return Band.DISTINCTION
    return Band.PASS


def new_verification_code() -> str:
    return "".join(secrets.choice(INVITE_CODE_ALPHABET) for _ in range(VERIFY_CODE_LENGTH))


def normalize_verification_code(text: str) -> str | None:
    """The code as typed (any case, spaces or dashes, O for 0), or None if it cannot be one."""
    code = "".join(text.split()).replace("-", "").upper().translate(_MISREAD)
    if len(code) != VERIFY_CODE_LENGTH or any(c not in INVITE_CODE_ALPHABET for c in code):
        return None
    return code


def grouped(code: str) -> str:
    """Printed in two groups of five, easier to copy: 7KQ2M-X9PTA."""
    return f"{code[:5]}-{code[5:]}"


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    """The same for every issue of one attempt's certificate."""

    id: int
    attempt_id: int
    year: int
    code: str
    band: Band
    issued_at: datetime

    @property
    def serial(self) -> str:
        return f"{self.year}-{self.id:06d}"


@dataclass(frozen=True, slots=True)
class VerifiedCertificate:
    """What ``/verify CODE`` may tell: the real name only to staff."""

    certificate: IssuedCertificate
    campaign: str
    display_name: str | None
    real_name: str | None
    participant_id: int
    passed_at: datetime  # the date printed on the certificate
