"""Publicity articles and their broadcasts: the rules, no I/O.

An article goes to an :class:`Audience` (units and roles; empty means every subscriber).
Starting a broadcast writes one delivery per recipient; a delivery moves
``pending -> sending -> sent | failed | blocked`` and a broadcast
``running <-> paused -> cancelled`` or ``running -> done``.

An article may also go to the configured channel: one :class:`ChannelPost` per broadcast,
``pending -> sending -> sent | failed``, kept apart from the deliveries (it reaches no
participant, so no figure about people counts it). A channel post carries the article's
link button (tracked as "the channel", participant 0) but no "read" button: a channel's
readers are not participants, and their presses could not be told apart.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from enum import StrEnum
from typing import Any

from quizzes.participants import Role
from quizzes.permissions import Permissions
from quizzes.themes import Theme
from quizzes.units import Unit, UnitKind

TITLE_MAX = 120
MAX_TEXT = 4096  # characters of a message after entity parsing
MAX_CAPTION = 1024  # characters of a photo caption after entity parsing
LINK_MAX = 2048
TIME_FORMAT = "%Y-%m-%d %H:%M"


class ArticleStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    PUBLISHED = "published"
    CANCELLED = "cancelled"
    MISSED = "missed"  # found beyond the scheduler's grace: not sent late, the author told


class BroadcastState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    DONE = "done"

    @property
    def final(self) -> bool:
        return self in (BroadcastState.CANCELLED, BroadcastState.DONE)


class BroadcastAction(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    BLOCKED = "blocked"

    @property
    def final(self) -> bool:
        return self in (DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.BLOCKED)


_TRANSITIONS: dict[tuple[BroadcastState, BroadcastAction], BroadcastState] = {
    (BroadcastState.RUNNING, BroadcastAction.PAUSE): BroadcastState.PAUSED,
    (BroadcastState.PAUSED, BroadcastAction.RESUME): BroadcastState.RUNNING,
    (BroadcastState.RUNNING, BroadcastAction.CANCEL): BroadcastState.CANCELLED,
    (BroadcastState.PAUSED, BroadcastAction.CANCEL): BroadcastState.CANCELLED,
}


class ControlResult(StrEnum):
    DONE = "done"
    NOT_FOUND = "not_found"
    NOT_ALLOWED = "not_allowed"
    STALE = "stale"


def next_state(state: BroadcastState, action: BroadcastAction) -> BroadcastState | None:
    """The state ``action`` leads to, or ``None`` when it does not apply (a stale button)."""
    return _TRANSITIONS.get((state, action))


@dataclass(frozen=True, slots=True)
class Audience:
    """Who receives an article: participants in any of ``unit_ids`` (their whole subtree)
    with any of ``roles``. An empty set means no restriction on that axis."""

    unit_ids: frozenset[int] = frozenset()
    roles: frozenset[Role] = frozenset()

    @property
    def everyone(self) -> bool:
        return not self.unit_ids and not self.roles

    def reaches(self, role: Role | None, unit: Unit | None) -> bool:
        """Whether someone of ``role`` joined to ``unit`` is in it, by a broadcast's rule:
        inside one of the units' subtrees, with one of the roles; nobody unjoined."""
        if unit is None:
            return False
        if self.unit_ids and self.unit_ids.isdisjoint(unit.ancestor_ids):
            return False
        return not self.roles or role in self.roles

    def to_json(self) -> dict[str, list[Any]]:
        return {"units": sorted(self.unit_ids), "roles": sorted(r.value for r in self.roles)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Audience:
        data = data or {}
        units = data.get("units") or []
        roles = data.get("roles") or []
        return cls(frozenset(int(u) for u in units), frozenset(Role(r) for r in roles))


@dataclass(frozen=True, slots=True)
class Article:
    id: int
    title: str
    body: str  # Telegram HTML
    photo_file_id: str | None
    has_photo: bool  # a file id, or bytes to upload on the first send
    link: str | None
    audience: Audience
    author_id: int  # Telegram id
    created_at: datetime
    publish_at: datetime | None
    status: ArticleStatus
    link_secret: str
    lecture_id: int | None = None  # an online lecture's announcement, reminder or notice
    to_channel: bool = False  # also posted to the configured channel
    cancels_lecture: bool = False  # the lecture's cancellation notice
    reminder_of: int | None = None  # a reminder to read this article (its read counts there)
    theme: Theme = Theme.OTHER  # what it is about: the report counts articles per theme

    @property
    def counted_as(self) -> int:
        """The article a read or a click of this one counts for."""
        return self.reminder_of if self.reminder_of is not None else self.id

    @property
    def text(self) -> str:
        """What recipients read: the title in bold, then the body."""
        return article_text(self.title, self.body)


def article_text(title: str, body: str) -> str:
    title = html.escape(title.strip(), quote=False)
    body = body.strip()
    return f"<b>{title}</b>\n\n{body}" if body else f"<b>{title}</b>"


@dataclass(frozen=True, slots=True)
class Broadcast:
    id: int
    article_id: int
    state: BroadcastState
    created_by: int  # Telegram id
    locale: str
    total: int
    test_send: bool
    progress_chat_id: int | None
    progress_message_id: int | None
    created_at: datetime
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One recipient of one broadcast, as claimed by a sender."""

    id: int
    broadcast_id: int
    participant_id: int
    chat_id: int
    locale: str


CHANNEL_PARTICIPANT = 0  # whom a channel post's tracked link names


def channel_chat(value: str) -> int | str:
    """A configured channel as the Bot API's ``chat_id``: a number, or ``@username``."""
    text = value.strip()
    return int(text) if text.lstrip("-").isdigit() else text


@dataclass(frozen=True, slots=True)
class ChannelPost:
    """An article's post to the channel for one broadcast."""

    id: int
    broadcast_id: int
    chat: str | None  # None: no channel was configured when the broadcast started
    status: DeliveryStatus
    message_id: int | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What Telegram said about one delivery; ``attempts`` counts requests made."""

    delivery: Delivery
    status: DeliveryStatus
    attempts: int
    message_id: int | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class SchoolFigures:
    """An article's reach in one school: delivered, read and clicked, unique people."""

    school_id: int | None  # None: the total over everyone
    school_name: str
    delivered: int
    read: int
    clicked: int


@dataclass(frozen=True, slots=True)
class Progress:
    """Delivery counts of one broadcast, straight from a ``GROUP BY status``."""

    pending: int = 0
    sending: int = 0
    sent: int = 0
    failed: int = 0
    blocked: int = 0

    @classmethod
    def from_counts(cls, counts: Mapping[str, int]) -> Progress:
        return cls(**{status.value: int(counts.get(status.value, 0)) for status in DeliveryStatus})

    @property
    def total(self) -> int:
        return self.pending + self.sending + self.sent + self.failed + self.blocked

    @property
    def remaining(self) -> int:
        return self.pending + self.sending

    @property
    def finished(self) -> int:
        return self.sent + self.failed + self.blocked

    @property
    def complete(self) -> bool:
        return self.remaining == 0


def eta_seconds(progress: Progress, elapsed_s: float, rate_limit: float) -> float:
    """Seconds until the remaining deliveries are out.

    The rate is what was achieved so far, capped by the configured limit; before enough
    has been sent to measure (or when nothing remains) the limit alone is used.
    """
    if progress.remaining == 0:
        return 0.0
    rate = rate_limit
    if elapsed_s >= 2.0 and progress.finished >= 10:
        rate = min(rate_limit, progress.finished / elapsed_s)
    return progress.remaining / max(rate, 1e-6)


def format_duration(seconds: float) -> tuple[int, int, int]:
    """``(hours, minutes, seconds)`` rounded up to a whole second."""
    whole = int(-(-seconds // 1))
    return whole // 3600, whole % 3600 // 60, whole % 60


# ---------------------------------------------------------------------- permissions


class AudienceProblem(StrEnum):
    NOT_STAFF = "not_staff"
    EVERYONE_ADMIN_ONLY = "everyone_admin_only"
    OUTSIDE_SCHOOL = "outside_school"
    UNKNOWN_UNIT = "unknown_unit"


class AudienceError(Exception):
    def __init__(self, problem: AudienceProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


def check_audience(
    permissions: Permissions, audience: Audience, units: Mapping[int, Unit]
) -> None:
    """Raise :class:`AudienceError` unless these permissions may send to ``audience``.

    Admins may address anyone. A school coordinator may address only units inside the
    schools they coordinate, and must name them: "everyone" is for the bureau.
    ``units`` maps each audience unit id to its unit.
    """
    if not permissions.is_staff:
        raise AudienceError(AudienceProblem.NOT_STAFF)
    for unit_id in audience.unit_ids:
        if unit_id not in units:
            raise AudienceError(AudienceProblem.UNKNOWN_UNIT)
    if permissions.is_admin:
        return
    if not audience.unit_ids:
        raise AudienceError(AudienceProblem.EVERYONE_ADMIN_ONLY)
    for unit_id in audience.unit_ids:
        if not permissions.may_manage(units[unit_id]):
            raise AudienceError(AudienceProblem.OUTSIDE_SCHOOL)


def coordinator_schools(permissions: Permissions, schools: Iterable[Unit]) -> list[Unit]:
    """The schools these permissions may address (all of them for an admin)."""
    return [s for s in schools if s.kind is UnitKind.SCHOOL and permissions.may_manage(s)]


def may_address(permissions: Permissions, audience: Audience, units: Mapping[int, Unit]) -> bool:
    """Whether these permissions may send to ``audience`` now (see :func:`check_audience`)."""
    try:
        check_audience(permissions, audience, units)
    except AudienceError:
        return False
    return True


def may_control(
    broadcast: Broadcast,
    telegram_id: int,
    permissions: Permissions,
    audience: Audience,
    units: Mapping[int, Unit],
) -> bool:
    """Admins may pause, resume or cancel any broadcast; its creator only while they may
    still address its audience: a coordinator whose rights were revoked loses control.
    A test send (to its creator alone) stays theirs while they are staff."""
    if permissions.is_admin:
        return True
    if broadcast.created_by != telegram_id or not permissions.is_staff:
        return False
    return broadcast.test_send or may_address(permissions, audience, units)


# What Telegram accepts as a photo: JPEG and PNG, up to 10 MB.
PHOTO_TYPES = {"image/jpeg": (".jpg", ".jpeg"), "image/png": (".png",)}
PHOTO_MAX_BYTES = 10 * 1024 * 1024


def is_photo_file(file_name: str | None, mime_type: str | None) -> bool:
    """A file (sent as a document) that can be an article's photo: JPEG or PNG."""
    if mime_type in PHOTO_TYPES:
        return True
    name = (file_name or "").lower()
    return name.endswith(tuple(end for ends in PHOTO_TYPES.values() for end in ends))


def may_send_missed(
    article: Article, telegram_id: int, permissions: Permissions, units: Mapping[int, Unit]
) -> bool:
    """A missed article may be sent late by an admin, or by its author while they may
    still address its audience."""
    if permissions.is_admin:
        return True
    return article.author_id == telegram_id and may_address(permissions, article.audience, units)


# ---------------------------------------------------------------------- composing


class ComposeProblem(StrEnum):
    EMPTY = "empty"
    TITLE_TOO_LONG = "title_too_long"
    TEXT_TOO_LONG = "text_too_long"
    CAPTION_TOO_LONG = "caption_too_long"
    BAD_LINK = "bad_link"
    BAD_TIME = "bad_time"
    PAST_TIME = "past_time"


@dataclass(frozen=True, slots=True)
class Draft:
    """An article as typed, before it is stored."""

    title: str
    body: str
    link: str | None = None
    has_photo: bool = False
    audience: Audience = field(default_factory=Audience)
    publish_at: datetime | None = None


_URL_RE = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


def valid_link(link: str) -> bool:
    return len(link) <= LINK_MAX and bool(_URL_RE.match(link))


def split_post(text: str) -> tuple[str, str]:
    """A post typed in chat: its first line is the title, the rest the body.

    ``text`` is Telegram HTML (as aiogram renders the message's entities); a title keeps
    only its visible text, since the article adds its own bold.
    """
    first, _, rest = text.strip().partition("\n")
    title = html.unescape(re.sub(r"<[^>]*>", "", first)).strip()
    return title, rest.strip()


def parse_publish_at(text: str, zone: tzinfo, now: datetime) -> datetime:
    """``YYYY-MM-DD HH:MM`` in ``zone`` as an aware datetime; raise ``ValueError(problem)``."""
    try:
        local = datetime.strptime(" ".join(text.split()), TIME_FORMAT)
    except ValueError:
        raise ValueError(ComposeProblem.BAD_TIME.value) from None
    when = local.replace(tzinfo=zone)
    if when <= now:
        raise ValueError(ComposeProblem.PAST_TIME.value)
    return when


# ---------------------------------------------------------------------- tracked links


def new_link_secret() -> str:
    return secrets.token_hex(16)


def _signature(secret: str, article_id: int, participant_id: int) -> str:
    digest = hmac.new(
        secret.encode("ascii"), f"{article_id}.{participant_id}".encode("ascii"), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest[:12]).decode("ascii")


def link_token(secret: str, article_id: int, participant_id: int) -> str:
    """``article.participant.signature``: who clicked which article, unforgeable without
    the article's secret, so no token table is needed."""
    return f"{article_id}.{participant_id}.{_signature(secret, article_id, participant_id)}"


def parse_link_token(token: str) -> tuple[int, int, str] | None:
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    if len(parts[0]) > 18 or len(parts[1]) > 18:
        return None
    return int(parts[0]), int(parts[1]), parts[2]


def verify_link_token(secret: str, article_id: int, participant_id: int, signature: str) -> bool:
    return hmac.compare_digest(signature, _signature(secret, article_id, participant_id))
