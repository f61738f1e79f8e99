"""The staff dashboard: one-time login links, web sessions, the rights of a request and
the overview's figures.

Login needs no password: ``/web`` in a private chat gives staff and teachers a link
``{public base}{admin path}/login/{token}``. The token names the participant and the
moment it expires and carries a nonce, all signed with a key derived from the bot token
(every process agrees on it, nothing is stored to hand it out). Opening it records the
nonce with the new session (unique), so a link opens one session at most; an expired,
reused, forged or edited link opens none.

Staff who cannot use Telegram log in with a web account's password instead
(:mod:`bot.application.staff_accounts`), which opens the same kind of session here
(:func:`start_session`); a disabled account's sessions end on their next request.

The session's cookie holds a random id; the table keeps only its SHA-256. Rights are
not kept in it: every request reads the participant's grants again, so a revoked grant
takes effect on the next request, and a session whose person has no staff or teacher
rights left is revoked there and then.

The overview's figures are the report's (:meth:`StatisticsRepository.compile`, what
``/export`` and the report use), for the same unit and period.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.application.live_figures import FigureSource, fresh
from quizzes.campaigns import Campaign, CampaignStatus
from quizzes.participants import Participant, Role
from quizzes.permissions import Permissions
from quizzes.statistics import CampaignFigures, Period, Statistics, UnitFigures, total_of
from quizzes.units import Unit, UnitKind
from storage.unit_of_work import UnitOfWork
from storage.web_sessions import WebSession

__all__ = [
    "IDLE_TIMEOUT",
    "LINK_LIFETIME",
    "LinkRefusal",
    "OpenedSession",
    "Overview",
    "OverviewRefusal",
    "SchoolRow",
    "Section",
    "Viewer",
    "WebRights",
    "campaign_days",
    "log_out",
    "login_key",
    "login_link",
    "open_session",
    "overview",
    "read_login_token",
    "rights_of",
    "section_of",
    "sign_login_token",
    "start_session",
    "units_in_view",
    "viewer_of",
    "viewer_scopes",
]

LINK_LIFETIME = timedelta(minutes=10)
IDLE_TIMEOUT = timedelta(hours=8)
# last_seen is written at most this often: a page polled every 15 s is not a write each time.
TOUCH_EVERY = timedelta(minutes=1)
# Closed campaigns stay on the overview this long after they close.
RECENT = timedelta(days=14)
# Derives the login links' key from the bot token (HMAC-SHA256): a fixed label.
_LOGIN_KEY_LABEL = b"pufa-bot web login v1"
_TOKEN = re.compile(r"([0-9]{1,18})\.([0-9]{1,12})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{22})")
_COOKIE = re.compile(r"[A-Za-z0-9_-]{43}")


class LinkRefusal(StrEnum):
    NOT_STAFF = "not_staff"  # /web from someone with no staff or teacher rights
    INVALID = "invalid"  # malformed, forged or edited
    EXPIRED = "expired"
    USED = "used"


class OverviewRefusal(StrEnum):
    NOT_IN_REACH = "not_in_reach"
    UNKNOWN = "unknown"
    NO_UNITS = "no_units"  # nothing to show yet: no roster imported, or the school is gone


def login_key(bot_token: str) -> bytes:
    return hmac.new(bot_token.encode(), _LOGIN_KEY_LABEL, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _signature(key: bytes, body: str) -> str:
    return _b64(hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()[:16])


def sign_login_token(key: bytes, participant_id: int, expires: datetime, nonce: str) -> str:
    body = f"{participant_id}.{int(expires.timestamp())}.{nonce}"
    return f"{body}.{_signature(key, body)}"


def read_login_token(key: bytes, token: str) -> tuple[int, datetime, str] | None:
    """``(participant id, expires, nonce)`` of a well-signed token, else None."""
    found = _TOKEN.fullmatch(token)
    if found is None:
        return None
    pid, expires, nonce, signature = found.groups()
    body = f"{pid}.{expires}.{nonce}"
    if not hmac.compare_digest(signature.encode(), _signature(key, body).encode()):
        return None
    return int(pid), datetime.fromtimestamp(int(expires), UTC), nonce


def _hash(cookie: str) -> str:
    return hashlib.sha256(cookie.encode("ascii")).hexdigest()


@dataclass(frozen=True, slots=True)
class WebRights:
    """What a person may see on the dashboard: the chat's grants, plus a teacher's class."""

    permissions: Permissions
    class_id: int | None = None

    @property
    def any(self) -> bool:
        return self.permissions.is_staff or self.class_id is not None

    def may_see(self, unit: Unit) -> bool:
        if self.permissions.is_staff and self.permissions.may_manage(unit):
            return True
        return self.class_id is not None and unit.id == self.class_id


async def rights_of(
    uow: UnitOfWork, participant: Participant, admin_ids: Collection[int]
) -> WebRights:
    permissions = Permissions.from_grants(
        await uow.grants.of(participant.id),
        # PUFA_ADMIN_IDS are Telegram ids: a web account's admin rights are a grant.
        configured_admin=participant.telegram_id is not None
        and participant.telegram_id in admin_ids,
    )
    class_id = None
    if participant.role is Role.TEACHER and participant.unit_id is not None:
        unit = await uow.units.get(participant.unit_id)
        if unit is not None and unit.kind is UnitKind.CLASS and not unit.retired:
            class_id = unit.id
    return WebRights(permissions, class_id)


async def login_link(
    uow: UnitOfWork,
    participant: Participant,
    *,
    admin_ids: Collection[int],
    key: bytes,
    base: str,
    now: datetime,
) -> str | LinkRefusal:
    """A one-time login link for ``participant``, valid for :data:`LINK_LIFETIME`."""
    rights = await rights_of(uow, participant, admin_ids)
    await uow.commit()
    if not rights.any:
        return LinkRefusal.NOT_STAFF
    token = sign_login_token(key, participant.id, now + LINK_LIFETIME, secrets.token_urlsafe(12))
    return f"{base}/login/{token}"


@dataclass(frozen=True, slots=True)
class OpenedSession:
    cookie: str  # the random id the browser keeps; the table has its hash only
    participant: Participant


async def open_session(
    uow: UnitOfWork, token: str, *, key: bytes, admin_ids: Collection[int], now: datetime
) -> OpenedSession | tuple[LinkRefusal, str | None]:
    """A new session from a login link, or why not (with the locale to say it in, when
    the link names someone)."""
    read = read_login_token(key, token)
    if read is None:
        return LinkRefusal.INVALID, None
    participant_id, expires, nonce = read
    participant = await uow.participants.by_id(participant_id)
    locale = participant.locale if participant is not None else None
    if participant is None:
        await uow.commit()
        return LinkRefusal.INVALID, None
    if await uow.web_sessions.link_used(nonce):
        await uow.commit()
        return LinkRefusal.USED, locale
    if now >= expires:
        await uow.commit()
        return LinkRefusal.EXPIRED, locale
    if not (await rights_of(uow, participant, admin_ids)).any:
        await uow.commit()
        return LinkRefusal.NOT_STAFF, locale
    opened = await start_session(uow, participant, nonce, now=now)
    if opened is None:
        return LinkRefusal.USED, locale
    return opened


async def start_session(
    uow: UnitOfWork, participant: Participant, nonce: str, *, now: datetime
) -> OpenedSession | None:
    """A new session for ``participant``, whose rights were checked; ``nonce`` (unique: a
    login link's, or a password login's) opens one session at most: None when it has."""
    cookie = secrets.token_urlsafe(32)
    created = await uow.web_sessions.create(
        token_hash=_hash(cookie),
        link_nonce=nonce,
        csrf_token=secrets.token_urlsafe(32),
        participant_id=participant.id,
        now=now,
    )
    if created is None:
        return None
    await uow.commit()
    return OpenedSession(cookie, participant)


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is asking, with the rights read for this request."""

    participant: Participant
    rights: WebRights
    session: WebSession

    @property
    def csrf_token(self) -> str:
        return self.session.csrf_token


async def viewer_of(
    uow: UnitOfWork, cookie: str | None, *, admin_ids: Collection[int], now: datetime
) -> Viewer | None:
    """The person behind a session cookie, their rights read now; None when the cookie
    names no live session. An idle session, or one whose person has no rights left, is
    revoked here."""
    if not cookie or not _COOKIE.fullmatch(cookie):
        return None
    session = await uow.web_sessions.by_token_hash(_hash(cookie))
    if session is None or session.revoked_at is not None:
        await uow.commit()
        return None
    participant = await uow.participants.by_id(session.participant_id)
    if participant is None or now - session.last_seen_at >= IDLE_TIMEOUT:
        await uow.web_sessions.revoke(session.id, now)
        await uow.commit()
        return None
    rights = await rights_of(uow, participant, admin_ids)
    # A web account (no Telegram id) that was disabled has no session, whatever its rights.
    disabled = participant.telegram_id is None and await uow.staff_accounts.is_disabled(
        participant.id
    )
    if disabled or not rights.any:
        await uow.web_sessions.revoke(session.id, now)
        await uow.commit()
        return None
    if now - session.last_seen_at >= TOUCH_EVERY:
        await uow.web_sessions.touch(session.id, now)
    await uow.commit()
    return Viewer(participant, rights, session)


async def log_out(uow: UnitOfWork, viewer: Viewer, csrf_token: str, *, now: datetime) -> bool:
    """Revoke the viewer's session; False (nothing done) when the form's token is wrong."""
    if not hmac.compare_digest(csrf_token.encode(), viewer.csrf_token.encode()):
        return False
    await uow.web_sessions.revoke(viewer.session.id, now)
    await uow.commit()
    return True


# -- the overview -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SchoolRow:
    """One line of the overview's table: a school (or a class), or the total."""

    unit_id: int | None
    name: str
    group: str  # the regiment a school belongs to (admins see every regiment)
    enrolled: int
    registered: int
    took_part: int
    completed: int
    passed: int
    rate: float | None
    low: bool = False

    @classmethod
    def of(cls, figures: UnitFigures, group: str = "", *, low: bool = False) -> SchoolRow:
        return cls(
            figures.unit_id,
            figures.name,
            group,
            figures.enrolled,
            figures.registered.total,
            figures.took_part.total,
            figures.completed,
            figures.passed,
            figures.participation_rate,
            low,
        )


@dataclass(frozen=True, slots=True)
class Section:
    """The figures of one campaign (over its days) or of the whole period."""

    key: str  # "c<campaign id>" or "period"
    period: Period
    statistics: Statistics
    rows: tuple[SchoolRow, ...]
    total: SchoolRow
    campaign: Campaign | None = None
    campaign_figures: CampaignFigures | None = None
    state: CampaignStatus | None = None
    as_of: datetime | None = None  # when its figures were computed (live figures are kept)


@dataclass(frozen=True, slots=True)
class Overview:
    scope: Unit | None  # None: all of the viewer's units together (their schools)
    scopes: tuple[Unit, ...]  # every unit the viewer may open, for the navigation
    sections: tuple[Section, ...]


async def viewer_scopes(uow: UnitOfWork, rights: WebRights) -> list[Unit]:
    """The units the viewer's overview starts from: the tree's roots for admins, their
    schools for a coordinator, their class for a teacher."""
    if rights.permissions.is_admin:
        return await uow.units.roots()
    found = await uow.units.by_ids(sorted(rights.permissions.coordinator_of))
    scopes = [found[unit_id] for unit_id in sorted(found)]
    own = await uow.units.get(rights.class_id) if rights.class_id is not None else None
    if own is not None and not any(scope.contains(own) for scope in scopes):
        scopes.append(own)
    return scopes


def campaign_days(campaign: Campaign, zone: ZoneInfo, today: date) -> Period:
    first = campaign.opens_at.astimezone(zone).date()
    last = (campaign.closes_at - timedelta(microseconds=1)).astimezone(zone).date()
    last = max(first, min(last, today))
    return Period(min(first, last), last)


async def units_in_view(
    uow: UnitOfWork, rights: WebRights, unit_id: int | None
) -> tuple[list[Unit], list[Unit]] | OverviewRefusal:
    """``(every unit the viewer may open, the units shown)``: ``unit_id`` alone when it is
    in the viewer's reach, all of their units when None; or why not (and the reads end)."""
    scopes = await viewer_scopes(uow, rights)
    if unit_id is None:
        if not scopes:
            await uow.commit()
            return OverviewRefusal.NO_UNITS
        return scopes, scopes
    scope = await uow.units.get(unit_id)
    if scope is None or not rights.may_see(scope):
        await uow.commit()
        return OverviewRefusal.UNKNOWN if scope is None else OverviewRefusal.NOT_IN_REACH
    return scopes, [scope]


async def overview(
    uow: UnitOfWork,
    viewer: Viewer,
    unit_id: int | None,
    *,
    now: datetime,
    zone: ZoneInfo,
    total_name: str,
    figures: FigureSource = fresh,
) -> Overview | OverviewRefusal:
    """The overview of ``unit_id`` (default: all of the viewer's units: the tree for an
    admin, every school of a coordinator side by side): every open or recently closed
    campaign over its days, then the year to date, per school (or the class), with the
    lowest schools marked as the report marks them. ``figures`` is where the figures come
    from: computed now, or the live figures the web pages share."""
    found = await units_in_view(uow, viewer.rights, unit_id)
    if isinstance(found, OverviewRefusal):
        return found
    scopes, chosen = found
    campaigns = [
        c
        for c in await uow.campaigns.all()
        if c.state_at(now) is CampaignStatus.OPEN
        or (c.state_at(now) is CampaignStatus.CLOSED and now - c.closes_at <= RECENT)
    ]
    await uow.commit()
    today = now.astimezone(zone).date()
    periods: list[tuple[str, Period, Campaign | None]] = [
        (f"c{c.id}", campaign_days(c, zone, today), c)
        for c in sorted(campaigns, key=lambda c: (-c.opens_at.timestamp(), c.id))
    ]
    periods.append(("period", Period.year_to_date(today), None))
    sections: list[Section] = []
    groups: dict[int, str] | None = None
    for key, period, campaign in periods:
        section, groups = await section_of(
            uow,
            chosen,
            key,
            period,
            campaign,
            now=now,
            zone=zone,
            total_name=total_name,
            groups=groups,
            figures=figures,
        )
        sections.append(section)
    return Overview(chosen[0] if unit_id is not None else None, tuple(scopes), tuple(sections))


async def section_of(
    uow: UnitOfWork,
    chosen: list[Unit],
    key: str,
    period: Period,
    campaign: Campaign | None,
    *,
    now: datetime,
    zone: ZoneInfo,
    total_name: str,
    groups: dict[int, str] | None = None,
    figures: FigureSource = fresh,
) -> tuple[Section, dict[int, str]]:
    """The report's figures of ``chosen`` (one unit, or a coordinator's schools side by
    side) over ``period``, with the campaign's own line; and the regiment of each school
    row (``groups``, read once and handed back for the next section)."""
    parts = []
    as_of = now
    for unit in chosen:
        part, computed_at = await figures.statistics(
            uow, unit, period, zone, total_name=total_name, now=now
        )
        parts.append(part)
        as_of = min(as_of, computed_at)
    statistics = parts[0] if len(parts) == 1 else _side_by_side(parts, total_name)
    if groups is None:
        groups = await _groups(uow, statistics)
    low = {s.unit_id for s in [*statistics.lowest(), *statistics.not_started()]}
    rows = tuple(
        SchoolRow.of(s, groups.get(s.unit_id or 0, ""), low=s.unit_id in low)
        for s in statistics.schools
    )
    own = None
    if campaign is not None:
        own = next((f for f in statistics.campaigns if f.campaign_id == campaign.id), None)
    section = Section(
        key,
        period,
        statistics,
        rows,
        SchoolRow.of(statistics.total),
        campaign,
        own,
        campaign.state_at(now) if campaign is not None else None,
        as_of,
    )
    return section, groups


def _side_by_side(parts: list[Statistics], total_name: str) -> Statistics:
    """The figures of several disjoint units (a coordinator's schools) as one breakdown:
    each row is its unit's own report row; the totals add up, as people belong to one
    unit each."""
    rows = tuple(school for part in parts for school in part.schools)
    elsewhere = [part.elsewhere for part in parts if part.elsewhere is not None]
    campaigns: dict[int, CampaignFigures] = {}
    for part in parts:
        for figures in part.campaigns:
            seen = campaigns.get(figures.campaign_id)
            campaigns[figures.campaign_id] = (
                figures
                if seen is None
                else replace(
                    seen,
                    took_part=seen.took_part + figures.took_part,
                    completed=seen.completed + figures.completed,
                    passed=seen.passed + figures.passed,
                    enrolled=seen.enrolled + figures.enrolled,
                )
            )
    daily: Counter[date] = Counter()
    for part in parts:
        daily.update(dict(part.daily))
    return replace(
        parts[0],
        scope_name=total_name,
        schools=rows,
        elsewhere=None,
        total=total_of(total_name, [*rows, *elsewhere]),
        campaigns=tuple(campaigns.values()),
        daily=tuple(sorted(daily.items())),  # a person is in one unit: the days add up
    )


async def _groups(uow: UnitOfWork, statistics: Statistics) -> dict[int, str]:
    """The regiment of each school row (by name), for an overview of several regiments."""
    schools = await uow.units.by_ids(s.unit_id for s in statistics.schools if s.unit_id)
    parents = await uow.units.by_ids({u.parent_id for u in schools.values() if u.parent_id})
    await uow.commit()
    return {
        unit_id: parents[unit.parent_id].name
        for unit_id, unit in schools.items()
        if unit.parent_id in parents and parents[unit.parent_id].kind is UnitKind.REGIMENT
    }
