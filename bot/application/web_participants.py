"""Participants without Telegram: the participant pages (``/m/``) on a phone's browser.

A web participant is a participant like any other (unit, role, display name) with no
Telegram id. Joining with a class's invite code creates them and binds them to the
browser by a long-lived random cookie token (one per device; the table keeps its
SHA-256 only). A personal recovery code, shown once, opens the same participant on
another device; it is kept as an HMAC under a key derived from the bot token, so a copy
of the table alone does not give the codes back.

Registration is the roster's (:mod:`bot.application.roster`) and the quiz the chat's
(:mod:`bot.application.quiz`): the same rules, called with the signed-in participant
(:class:`quizzes.attempts.SignedIn`) instead of a Telegram account. Forms carry a CSRF
token derived from the device's token, and an answer form the attempt's own ids signed
for this participant, so a form made for someone else, or edited, is refused before any
rule is consulted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.application import lectures, publicity, roster
from bot.application.quiz import (
    AttemptResult,
    answer_options,
    attempt_campaign,
    attempt_result,
    time_up,
)
from quizzes.attempts import Attempt, AttemptQuestion, SignedIn, Step
from quizzes.campaigns import Campaign
from quizzes.clock import Clock
from quizzes.engine import Feedback
from quizzes.lectures import CHECKIN_LATE, Lecture
from quizzes.participants import (
    Participant,
    clean_display_name,
    invite_code_candidates,
    name_looks_like_formula,
)
from quizzes.publicity import Article
from quizzes.registration import JoinStatus
from quizzes.units import Unit
from storage.unit_of_work import UnitOfWork

__all__ = [
    "ARTICLE_DAYS",
    "RECOVERY_ALPHABET",
    "RECOVERY_LENGTH",
    "AnswerRefusal",
    "AttemptPage",
    "ComingLecture",
    "Invite",
    "JoinRefusal",
    "LinkRefusal",
    "Linked",
    "OtherUnit",
    "Person",
    "Signed",
    "WebDevice",
    "answer",
    "attempt_page",
    "check_in",
    "csrf_token",
    "device_token_hash",
    "invite",
    "join",
    "link",
    "move",
    "participant_key",
    "person_by_id",
    "person_by_recovery_code",
    "read_article",
    "recover",
    "sign_question",
    "signed_in",
    "unit_articles",
    "unit_lectures",
    "web_people",
]

# No 0/O, 1/I/L: read off a phone and typed on another, nothing can be mistaken.
RECOVERY_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
RECOVERY_LENGTH = 6
# last_seen is written at most this often.
TOUCH_EVERY = timedelta(hours=1)
# The home page lists the articles published to the participant's unit this many days back.
ARTICLE_DAYS = 30
_KEY_LABEL = b"pufa-bot web participants v1"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
_TYPED_SEPARATORS = str.maketrans("", "", " -_")


def participant_key(bot_token: str) -> bytes:
    """The key of recovery codes' hashes and forms' signatures, the same in every process."""
    return hmac.new(bot_token.encode(), _KEY_LABEL, hashlib.sha256).digest()


def _mac(key: bytes, text: str) -> str:
    digest = hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode("ascii")


def device_token_hash(token: str) -> str:
    """What the table keeps of a device's cookie token."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def _recovery_hash(key: bytes, code: str) -> str:
    return hmac.new(key, f"recovery.{code}".encode("ascii"), hashlib.sha256).hexdigest()


def new_recovery_code() -> str:
    return "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))


def typed_recovery_code(text: str) -> str | None:
    """The code as typed (any case, full-width, spaces or dashes between), or None."""
    code = unicodedata.normalize("NFKC", text).translate(_TYPED_SEPARATORS).upper()
    if len(code) != RECOVERY_LENGTH or any(char not in RECOVERY_ALPHABET for char in code):
        return None
    return code


def csrf_token(key: bytes, device_token: str) -> str:
    """The forms' token of one device: tied to its cookie, nothing to store."""
    return _mac(key, f"csrf.{device_token_hash(device_token)}")


def sign_question(key: bytes, participant_id: int, attempt_id: int, seq: int) -> str:
    return _mac(key, f"answer.{participant_id}.{attempt_id}.{seq}")


@dataclass(frozen=True, slots=True)
class WebDevice:
    """A browser bound to a participant: the cookie it keeps, and who it is."""

    token: str
    participant: Participant
    recovery_code: str | None = None  # shown once, when the participant was created


@dataclass(frozen=True, slots=True)
class Signed:
    """The participant behind a request's cookie, and their forms' token."""

    participant: Participant
    csrf: str


async def signed_in(
    uow: UnitOfWork, token: str | None, *, key: bytes, now: datetime
) -> Signed | None:
    """The web participant whose device keeps ``token``; None for no or an unknown one."""
    if not token or not _TOKEN.fullmatch(token):
        return None
    found = await uow.web_identities.by_device(device_token_hash(token))
    if found is None:
        await uow.commit()
        return None
    device_id, last_seen, participant = found
    if now - last_seen >= TOUCH_EVERY:
        await uow.web_identities.touch_device(device_id, now)
    await uow.commit()
    return Signed(participant, csrf_token(key, token))


class JoinRefusal(StrEnum):
    UNKNOWN_CODE = "unknown_code"
    REVOKED_CODE = "revoked_code"
    BAD_NAME = "bad_name"
    FORMULA_NAME = "formula_name"


@dataclass(frozen=True, slots=True)
class Invite:
    """What the join page says about an invite code: the unit's full name."""

    code: str
    unit_id: int
    unit_label: str


async def invite(uow: UnitOfWork, code: str) -> Invite | JoinRefusal:
    """The unit an invite code leads to, read only (nobody is created by looking)."""
    found = None
    for candidate in invite_code_candidates(code):
        found = await uow.invites.resolve(candidate)
        if found is not None:
            break
    unit = await uow.units.get(found.unit_id) if found is not None else None
    label = (await uow.units.label(unit)).text() if unit is not None else None
    await uow.commit()
    if found is None or label is None:
        return JoinRefusal.UNKNOWN_CODE
    if not found.active:
        return JoinRefusal.REVOKED_CODE
    return Invite(found.code, found.unit_id, label)


async def join(
    uow: UnitOfWork, code: str, name_text: str, *, locale: str, key: bytes, clock: Clock
) -> WebDevice | JoinRefusal:
    """A new web participant in the invite's unit, named as typed (the chat's rules for a
    display name), bound to this device; with the recovery code to show them once."""
    name = clean_display_name(name_text)
    if name is None:
        return (
            JoinRefusal.FORMULA_NAME
            if name_looks_like_formula(name_text)
            else JoinRefusal.BAD_NAME
        )
    checked = await invite(uow, code)
    if isinstance(checked, JoinRefusal):
        return checked
    now = clock()
    participant_id = await uow.web_identities.create_participant(locale, now)
    while True:  # a code another participant has already: draw again
        recovery = new_recovery_code()
        if await uow.web_identities.add_identity(
            participant_id, _recovery_hash(key, recovery), now
        ):
            break
    token = secrets.token_urlsafe(32)
    await uow.web_identities.add_device(participant_id, device_token_hash(token), now)
    participant = await uow.participants.by_id(participant_id)
    assert participant is not None
    joined = await roster.join_with_code(uow, participant, checked.code, clock=clock)
    if joined.outcome.status not in (JoinStatus.JOINED, JoinStatus.ALREADY, JoinStatus.MOVED):
        return JoinRefusal.REVOKED_CODE  # revoked in between: the row stays unjoined
    participant = await roster.set_display_name(uow, joined.outcome.participant, name, clock=clock)
    return WebDevice(token, participant, recovery)


async def move(
    uow: UnitOfWork, participant: Participant, code: str, *, clock: Clock
) -> Participant | JoinRefusal:
    """A web participant opening another invite link on their device: they move to its
    unit (the roster's rule, as a second link does in chat), never become a second person."""
    joined = await roster.join_with_code(uow, participant, code, clock=clock)
    if joined.outcome.status is JoinStatus.UNKNOWN_CODE:
        return JoinRefusal.UNKNOWN_CODE
    if joined.outcome.status is JoinStatus.REVOKED_CODE:
        return JoinRefusal.REVOKED_CODE
    return joined.outcome.participant


async def _by_recovery(uow: UnitOfWork, text: str, key: bytes) -> Participant | None:
    code = typed_recovery_code(text)
    participant_id = (
        await uow.web_identities.by_recovery(_recovery_hash(key, code)) if code else None
    )
    return await uow.participants.by_id(participant_id) if participant_id else None


async def recover(uow: UnitOfWork, text: str, *, key: bytes, now: datetime) -> WebDevice | None:
    """This device bound to the participant whose recovery code was typed; None: no such."""
    participant = await _by_recovery(uow, text, key)
    if participant is None:
        await uow.commit()
        return None
    token = secrets.token_urlsafe(32)
    await uow.web_identities.add_device(participant.id, device_token_hash(token), now)
    await uow.web_identities.touch_identity(participant.id, now)
    await uow.commit()
    return WebDevice(token, participant)


@dataclass(frozen=True, slots=True)
class AttemptPage:
    """An attempt as its page shows it: the current question, or the result."""

    campaign: Campaign
    attempt: Attempt
    question: AttemptQuestion | None  # None: finished
    signature: str | None  # the answer form's signature of (attempt, seq)
    result: AttemptResult | None = None
    # The question before, answered, when the campaign tells right or wrong after each.
    previous: AttemptQuestion | None = None


async def attempt_page(
    uow: UnitOfWork, participant: Participant, attempt_id: int, *, key: bytes, clock: Clock
) -> AttemptPage | None:
    """The participant's attempt as it stands now; None when it is not theirs. A question
    whose time ran out is recorded as such first (as the quiz clock would), so a page
    opened late shows what the rules left.

    The common case is one read: the press's snapshot at the attempt's current question,
    which brings the attempt, its campaign, the question before (for the right-or-wrong
    note) and the current one together."""
    snapshot = await uow.attempts.current(attempt_id)
    if snapshot is None or snapshot.attempt.participant_id != participant.id:
        await uow.commit()
        return None
    attempt = snapshot.attempt
    for _ in range(attempt.question_count + 1):
        if attempt.finished:
            break
        seq = attempt.current_seq
        if snapshot.attempt.current_seq != seq:  # moved on by a time-out below
            snapshot = await uow.attempts.current(attempt.id)
            if snapshot is None:
                break
        question = snapshot.following
        if question is None:
            break
        if question.deadline is None or clock() < question.deadline:
            await uow.commit()
            previous = snapshot.question if seq > 1 else None
            if snapshot.campaign.rules.feedback is not Feedback.EACH or not (
                previous and previous.chosen
            ):
                previous = None
            signature = sign_question(key, participant.id, attempt.id, seq)
            return AttemptPage(
                snapshot.campaign, snapshot.attempt, question, signature, previous=previous
            )
        timed_out = await time_up(uow, attempt.id, question.seq, clock=clock)
        moved = timed_out.step.attempt if timed_out else await uow.attempts.get(attempt.id)
        attempt = moved or attempt
    campaign = await attempt_campaign(uow, attempt)
    if not attempt.finished:  # nothing left to show as a question: say where it stands
        await uow.commit()
        return AttemptPage(campaign, attempt, None, None, None)
    result = await attempt_result(uow, campaign, attempt, now=clock())
    return AttemptPage(campaign, attempt, None, None, result)


class AnswerRefusal(StrEnum):
    FORGED = "forged"  # a signature not made for this participant, attempt and question
    EMPTY = "empty"  # nothing chosen


async def answer(
    uow: UnitOfWork,
    participant: Participant,
    attempt_id: int,
    seq: int,
    positions: frozenset[int],
    signature: str,
    *,
    key: bytes,
    clock: Clock,
) -> Step | AnswerRefusal:
    """The options chosen on question ``seq``'s page, through the chat's own answer path
    (one read, one conditional write). A replayed, doubled or late form changes nothing
    (the step says why: already answered, stale, time up)."""
    wanted = sign_question(key, participant.id, attempt_id, seq)
    if not hmac.compare_digest(signature.encode(), wanted.encode()):
        return AnswerRefusal.FORGED
    if not positions:
        return AnswerRefusal.EMPTY
    return await answer_options(
        uow, SignedIn(participant.id), attempt_id, seq, positions, clock=clock
    )


# ---------------------------------------------------------------------- articles and lectures


async def _joined_unit(uow: UnitOfWork, participant: Participant) -> Unit | None:
    if participant.unit_id is None or participant.joined_at is None:
        return None
    return await uow.units.get(participant.unit_id)


async def unit_articles(
    uow: UnitOfWork, participant: Participant, *, now: datetime, days: int = ARTICLE_DAYS
) -> list[Article]:
    """The articles published in the last ``days`` to an audience that takes in this
    participant (a broadcast's rule: their unit's subtree and role), newest first."""
    unit = await _joined_unit(uow, participant)
    published = await uow.publicity.published_since(now - timedelta(days=days)) if unit else []
    await uow.commit()
    return [a for a in published if a.audience.reaches(participant.role, unit)]


async def read_article(
    uow: UnitOfWork, participant: Participant, article_id: int, *, now: datetime
) -> Article | None:
    """One of :func:`unit_articles`, its opening counted as a read through the chat's
    own use case (once per person, whichever door, however often opened); None: not one
    of theirs."""
    mine = await unit_articles(uow, participant, now=now)
    article = next((a for a in mine if a.id == article_id), None)
    if article is not None:
        await publicity.mark_read(uow, article.id, participant.id, now=now)
    return article


@dataclass(frozen=True, slots=True)
class ComingLecture:
    """A lecture on the home page, and when this participant checked in to it, if they did."""

    lecture: Lecture
    checked_in_at: datetime | None


async def unit_lectures(
    uow: UnitOfWork, participant: Participant, *, now: datetime
) -> list[ComingLecture]:
    """The lectures for this participant's unit and role not over for checking in yet
    (running ones first, as they start), each with their own check-in."""
    unit = await _joined_unit(uow, participant)
    coming = await uow.lectures.upcoming(now - CHECKIN_LATE) if unit else []
    mine = [
        lecture
        for lecture in coming
        if lecture.audience.reaches(participant.role, unit)
        and lecture.ends_at + CHECKIN_LATE >= now
    ]
    checked = await uow.lectures.checked_in_at(participant.id, [lecture.id for lecture in mine])
    await uow.commit()
    return [ComingLecture(lecture, checked.get(lecture.id)) for lecture in mine]


async def check_in(
    uow: UnitOfWork, participant: Participant, lecture_id: int, *, now: datetime
) -> lectures.CheckedIn | lectures.CheckinClosed | lectures.CheckinRefusal:
    """The chat's check-in (once, in its window), for a lecture of this participant's
    audience only: another unit's lecture is as unknown as a missing one."""
    lecture = await uow.lectures.get(lecture_id)
    unit = await _joined_unit(uow, participant)
    if lecture is None or not lecture.audience.reaches(participant.role, unit):
        await uow.commit()
        return lectures.CheckinRefusal.UNKNOWN
    return await lectures.check_in(uow, lecture.id, participant.id, now=now)


# ---------------------------------------------------------------------- linking the doors


class LinkRefusal(StrEnum):
    NO_CODE = "no_code"  # /link alone: say how
    WRONG_CODE = "wrong_code"
    ALREADY = "already"  # this chat participant is linked to a web participant already
    BOTH_ANSWERING = "both_answering"  # an attempt under way at one campaign on both doors


@dataclass(frozen=True, slots=True)
class OtherUnit:
    """The code's web participant joined another unit than the chat participant (or the
    chat participant has joined none): which, to say so."""

    unit_label: str


@dataclass(frozen=True, slots=True)
class Linked:
    """The chat participant with the web's history: how many of each moved."""

    participant: Participant
    attempts: int
    reads: int
    check_ins: int


async def link(
    uow: UnitOfWork, participant: Participant, text: str, *, key: bytes, now: datetime
) -> Linked | OtherUnit | LinkRefusal:
    """``/link CODE`` in chat: the web participant whose recovery code this is becomes
    this chat participant, so the person counts once in every figure.

    The web participant is merged into the chat participant (not the other way): the chat
    participant keeps their id, Telegram id, deliveries, grants and consent, which only
    the chat can create, and takes over what the pages can create (attempts, reads,
    check-ins, the recovery code and the devices, which then sign in as them). Both
    histories of a campaign are kept, numbered one after the other, even beyond its
    attempt limit; every figure counts people, so the person counts once."""
    code = typed_recovery_code(text)
    if not text.strip():
        return LinkRefusal.NO_CODE
    web_id = await uow.web_identities.by_recovery(_recovery_hash(key, code)) if code else None
    web = await uow.participants.by_id(web_id) if web_id else None
    if web is None or web.id == participant.id:
        await uow.commit()
        return LinkRefusal.WRONG_CODE if web is None else LinkRefusal.ALREADY
    if await uow.web_identities.has_identity(participant.id):
        await uow.commit()
        return LinkRefusal.ALREADY
    if web.unit_id is None or web.unit_id != participant.unit_id:
        unit = await uow.units.get(web.unit_id) if web.unit_id else None
        label = (await uow.units.label(unit)).text() if unit else ""
        await uow.commit()
        return OtherUnit(label)
    if await _both_answering(uow, web.id, participant.id):
        await uow.commit()
        return LinkRefusal.BOTH_ANSWERING  # one attempt under way per campaign, as ever
    moved = await uow.web_identities.merge(web.id, participant.id)
    await uow.web_identities.touch_identity(participant.id, now)
    merged = await uow.participants.by_id(participant.id)
    await uow.commit()
    assert merged is not None
    return Linked(merged, moved.attempts, moved.reads, moved.check_ins)


async def _both_answering(uow: UnitOfWork, web_id: int, chat_id: int) -> bool:
    on_web = {a.campaign_id for a in await uow.attempts.active_for(web_id)}
    return any(a.campaign_id in on_web for a in await uow.attempts.active_for(chat_id))


# ---------------------------------------------------------------------- erasing on request


@dataclass(frozen=True, slots=True)
class Person:
    """Someone staff were asked to erase, as the terminal shows them before it does."""

    participant: Participant
    unit_label: str


async def _person(uow: UnitOfWork, participant: Participant | None) -> Person | None:
    unit = (
        await uow.units.get(participant.unit_id) if participant and participant.unit_id else None
    )
    label = (await uow.units.label(unit)).text() if unit is not None else ""
    await uow.commit()
    return Person(participant, label) if participant is not None else None


async def person_by_id(uow: UnitOfWork, participant_id: int) -> Person | None:
    """The participant of this internal number, unless erased already (any door)."""
    return await _person(uow, await uow.erasure.person(participant_id))


async def person_by_recovery_code(uow: UnitOfWork, text: str, *, key: bytes) -> Person | None:
    """The participant whose recovery code this is (as typed): what a web participant
    shows to prove who they are when they ask to be erased. None: no such code (an erased
    participant's code is gone with them)."""
    return await _person(uow, await _by_recovery(uow, text, key))


async def web_people(uow: UnitOfWork, unit: Unit) -> list[Person]:
    """Those of a school (its classes included) or a class who joined on the web pages and
    are not erased, in the order they joined: for staff who must find one by their
    display name, having no Telegram id to go by."""
    units = [unit, *(await uow.units.children(unit.id))]
    labels = {u.id: (await uow.units.label(u)).text() for u in units}
    found = await uow.erasure.web_people([u.id for u in units])
    await uow.commit()
    return [Person(p, labels.get(p.unit_id or 0, "")) for p in found]
