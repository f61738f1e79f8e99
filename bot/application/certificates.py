"""Certificates: who may have one, the name it carries, its serial and how it is verified.

A certificate is for a passed attempt, asked for by the one who made it. It carries the
real name its holder gave; a student says first whether they are 14 or older, and under
14 (个人信息保护法 art. 31) the real name needs a guardian's consent, confirmed by a
teacher of their class or a coordinator of their school with the student's one-time
code; until then the certificate may carry the display name. Each attempt's certificate
is issued once, with a serial and a verification code anyone can check; only staff see
the real name when they check it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from enum import StrEnum

from quizzes.attempts import Attempt
from quizzes.campaigns import Campaign
from quizzes.certificates import (
    IssuedCertificate,
    VerifiedCertificate,
    band_for,
    normalize_verification_code,
)
from quizzes.engine import Outcome
from quizzes.participants import Participant, Role, clean_display_name
from quizzes.permissions import Permissions
from quizzes.privacy import may_confirm, needs_age_question, normalize_consent_code
from storage.unit_of_work import UnitOfWork

__all__ = [
    "Certificate",
    "CertificateStep",
    "Consent",
    "ConsentRefusal",
    "ConsentRefused",
    "Next",
    "Verification",
    "confirm_guardian_consent",
    "declare_age",
    "display_name_certificate",
    "forget_real_name",
    "issue_certificate",
    "passed_attempts",
    "request_certificate",
    "save_real_name",
    "verify_certificate",
]


class Next(StrEnum):
    """What asking for a certificate leads to."""

    STALE = "stale"  # not a passed attempt of the asker's (an old or forged button)
    ISSUE = "issue"  # their real name is on file: the certificate follows
    ASK_NAME = "ask_name"  # an adult, or a student of 14 or older: ask for the real name
    ASK_AGE = "ask_age"  # a student: 14 or older?
    GUARDIAN = "guardian"  # under 14: a consent code to show a parent and a teacher


@dataclass(frozen=True, slots=True)
class CertificateStep:
    next: Next
    real_name: str | None = None  # for ISSUE
    consent_code: str | None = None  # for GUARDIAN


class ConsentRefusal(StrEnum):
    MALFORMED = "malformed"  # not a consent code at all
    UNKNOWN = "unknown"  # no live code of that number (used, replaced, or too old)
    NOT_YOURS = "not_yours"  # the confirmer neither teaches the class nor manages the school
    BAD_NAME = "bad_name"


@dataclass(frozen=True, slots=True)
class Consent:
    """A live consent code as its confirmer sees it, and what confirming it did."""

    code: str
    student: Participant
    where: str  # the student's unit as it is named, for the confirmer to check
    name: str | None = None  # the real name confirmed; None: only asked whose code it is
    attempt_id: int | None = None  # the student's passed attempt to certify now


@dataclass(frozen=True, slots=True)
class ConsentRefused:
    refusal: ConsentRefusal
    code: str = ""


@dataclass(frozen=True, slots=True)
class Certificate:
    """A certificate as issued, with what its text says."""

    issued: IssuedCertificate
    campaign: Campaign
    percent: float
    passed_on: date  # in the bureau's time zone
    for_student: bool  # students are 同学; teachers and parents are named without a title
    issuer: str


@dataclass(frozen=True, slots=True)
class Verification:
    code: str  # as normalized
    found: VerifiedCertificate | None  # None: no certificate has this code
    shows_real_name: bool = False  # the real name is personal data: staff only


async def passed_attempts(
    uow: UnitOfWork, participant: Participant
) -> list[tuple[Attempt, Campaign]]:
    """The participant's passed attempts, each good for a certificate."""
    return await uow.attempts.passed_for(participant.id)


async def _own_passed_attempt(uow: UnitOfWork, participant: Participant, attempt_id: int) -> bool:
    attempt = await uow.attempts.get(attempt_id)
    return bool(attempt and attempt.participant_id == participant.id and attempt.passed)


async def request_certificate(
    uow: UnitOfWork, participant: Participant, attempt_id: int
) -> CertificateStep:
    """What the certificate of ``attempt_id`` needs next: nothing if their real name is
    on file, else that name, after the age question for a student."""
    if not await _own_passed_attempt(uow, participant, attempt_id):
        return CertificateStep(Next.STALE)
    real_name = await uow.certificate_names.get(participant.id)
    if real_name is not None:
        return CertificateStep(Next.ISSUE, real_name=real_name)
    if not needs_age_question(participant):
        return CertificateStep(Next.ASK_NAME)
    return CertificateStep(Next.ASK_AGE)


async def declare_age(
    uow: UnitOfWork, participant: Participant, attempt_id: int, *, under_14: bool, now: datetime
) -> CertificateStep:
    """A student's answer to "14 or older?"; under 14, their consent code (the live one,
    else a new one), which will send the certificate of ``attempt_id`` once confirmed."""
    if not await _own_passed_attempt(uow, participant, attempt_id):
        return CertificateStep(Next.STALE)
    if not under_14:
        return CertificateStep(Next.ASK_NAME)
    code = await uow.certificate_names.consent_code(participant.id, attempt_id, now)
    await uow.commit()
    return CertificateStep(Next.GUARDIAN, consent_code=code)


async def display_name_certificate(
    uow: UnitOfWork, participant: Participant, attempt_id: int
) -> str | None:
    """The name for a certificate while a guardian's consent is pending: the display
    name; None when there is none or the attempt is not a passed one of theirs."""
    if not participant.display_name or not await _own_passed_attempt(uow, participant, attempt_id):
        return None
    return participant.display_name


async def save_real_name(
    uow: UnitOfWork, participant: Participant, text: str, *, now: datetime
) -> str | None:
    """Keep the real name the participant gave for their certificates; None when the
    text is not a name (nothing is kept)."""
    name = clean_display_name(text)
    if name is None:
        return None
    await uow.certificate_names.set(participant.id, name, now)
    await uow.commit()
    return name


async def confirm_guardian_consent(
    uow: UnitOfWork,
    confirmer: Participant,
    permissions: Permissions,
    code_text: str,
    name_text: str,
    *,
    now: datetime,
) -> Consent | ConsentRefused:
    """A teacher's ``/consent CODE [姓名]``: whose code it is, and with a name, that
    name confirmed for the student's certificates (the code is then used up)."""
    code = normalize_consent_code(code_text)
    if code is None:
        return ConsentRefused(ConsentRefusal.MALFORMED)
    pending = await uow.certificate_names.pending(code, now)
    student = await uow.participants.by_id(pending.participant_id) if pending else None
    if pending is None or student is None:
        return ConsentRefused(ConsentRefusal.UNKNOWN, code)
    unit = await uow.units.get(student.unit_id) if student.unit_id is not None else None
    if not may_confirm(confirmer, permissions, student, unit):
        return ConsentRefused(ConsentRefusal.NOT_YOURS, code)
    where = (await uow.units.label(unit)).text() if unit else ""
    if not name_text.strip():
        return Consent(code, student, where)
    name = clean_display_name(name_text)
    if name is None:
        return ConsentRefused(ConsentRefusal.BAD_NAME, code)
    if not await uow.certificate_names.confirm(pending, name, confirmer.id, now):
        return ConsentRefused(ConsentRefusal.UNKNOWN, code)
    attempt_id = pending.attempt_id
    if attempt_id is not None and not await _own_passed_attempt(uow, student, attempt_id):
        attempt_id = None
    await uow.commit()
    return Consent(code, student, where, name, attempt_id)


async def forget_real_name(uow: UnitOfWork, participant: Participant) -> bool:
    """Delete the participant's real name; False when none was kept."""
    removed = await uow.certificate_names.delete(participant.id)
    await uow.commit()
    return removed


async def issue_certificate(
    uow: UnitOfWork, attempt_id: int, *, now: datetime, zone: tzinfo, issuer: str | None
) -> Certificate:
    """The certificate of a passed attempt: issued on first asking (its band, serial and
    verification code fixed then), the same one every time after.

    ``issuer``: the configured issuer (``PUFA_ISSUER``); when unset, the top unit (the
    bureau) as it is named.
    """
    attempt = await uow.attempts.get(attempt_id)
    assert attempt is not None and attempt.finished_at is not None
    campaign = await uow.campaigns.get(attempt.campaign_id)
    assert campaign is not None
    holder = await uow.participants.by_id(attempt.participant_id)
    percent = Outcome(attempt.points, attempt.question_count, campaign.rules.pass_mark).percent
    issued = await uow.certificate_names.issue(
        attempt.id, band_for(percent, campaign.rules), now.astimezone(zone).year, now
    )
    if issuer and issuer.strip():
        issuer = issuer.strip()
    else:
        roots = sorted(await uow.units.roots(), key=lambda unit: unit.id)
        issuer = roots[0].name if roots else ""
    await uow.commit()
    return Certificate(
        issued=issued,
        campaign=campaign,
        percent=percent,
        passed_on=attempt.finished_at.astimezone(zone).date(),
        for_student=holder is not None and holder.role is Role.STUDENT,
        issuer=issuer,
    )


async def verify_certificate(
    uow: UnitOfWork, code_text: str, *, viewer: Permissions
) -> Verification | None:
    """Whether a certificate with this verification code exists, and what it says;
    None when the text is not a verification code."""
    code = normalize_verification_code(code_text)
    if code is None:
        return None
    found = await uow.certificate_names.verify(code)
    return Verification(code, found, shows_real_name=found is not None and viewer.is_staff)
