"""Web accounts for staff who cannot use Telegram (it cannot be reached in mainland China).

An account is a participant with no Telegram id, made by a bureau admin (on the dashboard
or with ``pufa staff add``) as a bureau admin (an admin grant), a school's coordinator (a
coordinator grant) or a class's teacher (role and class, as a teacher met in chat): its
rights are read from those on every request, exactly as for anyone else.

The person chooses their password through a setup link (24 h, single use). Passwords are
hashed with argon2 (rehashed when the parameters change), at least
:data:`MIN_PASSWORD_LENGTH` characters and not one of the commonest. An account may turn on
TOTP; its codes are then asked after the password, and each 30-second step is accepted
once.

Logins are rate-limited per login name and per client address: after
:data:`LOCK_AFTER` failures within :data:`LOCK_WINDOW` either is locked for
:data:`LOCK_FOR` from the last of them, right password or not. An unknown name is
answered as a wrong password, after the same hashing work. Every failure and every try
refused as locked is recorded (``login_failures``), never the password, and deleted once
the lock can no longer count it (:data:`KEEP_REFUSALS`). On the account page a signed-in
person changes their password or turns TOTP off; a wrong current password or code there
counts against the same limit, so a session left open is no way to guess them.

A change to how an account signs in (a new password, by the account page or a setup link;
TOTP turned off) ends every session of the account, the asking one too: a copy of its
cookie would otherwise outlive the change that was meant to shut it out. The browser that
asked gets a new session at once (:class:`SignedInAgain`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache
from pathlib import Path

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from bot.application.dashboard import (
    OpenedSession,
    read_login_token,
    rights_of,
    sign_login_token,
    start_session,
)
from quizzes.participants import GrantKind, Role, clean_display_name
from quizzes.permissions import Permissions
from quizzes.units import Unit, UnitKind
from storage.staff_accounts import StaffAccount
from storage.unit_of_work import UnitOfWork

__all__ = [
    "KEEP_REFUSALS",
    "LOCK_AFTER",
    "LOCK_FOR",
    "LOCK_WINDOW",
    "MIN_PASSWORD_LENGTH",
    "SETUP_LIFETIME",
    "AccountKind",
    "AccountLine",
    "AccountRefusal",
    "CodeNeeded",
    "CreatedAccount",
    "LoginRefusal",
    "PasswordRefusal",
    "SignedInAgain",
    "StaffAccount",
    "TotpEnrolment",
    "account_of",
    "accounts",
    "change_password",
    "confirm_totp",
    "create_account",
    "disable_account",
    "find_unit",
    "forget_old_refusals",
    "issue_setup_link",
    "log_in",
    "log_in_with_code",
    "password_problem",
    "set_password",
    "setup_account",
    "start_totp",
    "turn_off_totp",
]

SETUP_LIFETIME = timedelta(hours=24)
CODE_STEP_LIFETIME = timedelta(minutes=5)  # between the password and the code
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256  # hashing a megabyte for each try would be an easy way to tire us
LOCK_AFTER = 5
LOCK_WINDOW = timedelta(minutes=15)
LOCK_FOR = timedelta(minutes=15)
# The oldest refusal the lock can still count: one within LOCK_WINDOW of a failure that
# locks for LOCK_FOR (what _locked reads). Older ones are deleted (forget_old_refusals).
KEEP_REFUSALS = LOCK_WINDOW + LOCK_FOR
TOTP_ISSUER = "Pufa Bot"
LOGIN_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{2,31}")
# The code step's tickets are signed with their own key: never a valid login link.
_TICKET_LABEL = b"pufa-bot web account code step v1"

# Tests swap in cheaper parameters; a hash made with others is rehashed at the next login.
PASSWORDS = PasswordHasher()


class AccountKind(StrEnum):
    ADMIN = "admin"  # the bureau: an admin grant
    COORDINATOR = "coordinator"  # a school: a coordinator grant on it
    TEACHER = "teacher"  # a class: its teacher, as a teacher met in chat


class AccountRefusal(StrEnum):
    NOT_ADMIN = "not_admin"  # only bureau admins create or disable accounts
    BAD_LOGIN_NAME = "bad_login_name"
    BAD_DISPLAY_NAME = "bad_display_name"
    LOGIN_NAME_TAKEN = "login_name_taken"
    WRONG_UNIT = "wrong_unit"  # a coordinator needs a school, a teacher a class
    UNKNOWN = "unknown"  # no such account


class PasswordRefusal(StrEnum):
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    TOO_COMMON = "too_common"
    SAME_AS_LOGIN_NAME = "same_as_login_name"
    NOT_REPEATED = "not_repeated"
    WRONG_PASSWORD = "wrong_password"  # changing it: the current password is not this
    LOCKED = "locked"  # changing it: too many wrong tries (the login's own limit)
    NO_ACCOUNT = "no_account"  # changing it: signed in through Telegram, no password
    LINK_INVALID = "link_invalid"  # never issued, used already, or replaced
    LINK_EXPIRED = "link_expired"


class LoginRefusal(StrEnum):
    WRONG = "wrong"  # unknown name, wrong password, disabled: one answer for all
    LOCKED = "locked"
    WRONG_CODE = "wrong_code"
    START_AGAIN = "start_again"  # the code step's ticket expired, was used, or is forged
    NO_RIGHTS = "no_rights"  # the password is right, but the account's grant was revoked


@dataclass(frozen=True, slots=True)
class CreatedAccount:
    participant_id: int
    login_name: str
    setup_token: str  # the setup link's last part; shown once
    expires: datetime


@dataclass(frozen=True, slots=True)
class CodeNeeded:
    """The password was right; the account asks for a TOTP code next."""

    ticket: str


@dataclass(frozen=True, slots=True)
class SignedInAgain:
    """The change is made and every session of the account ended with it; ``cookie`` opens
    the new session of the browser that asked."""

    account: StaffAccount
    cookie: str


@dataclass(frozen=True, slots=True)
class TotpEnrolment:
    secret: str
    uri: str  # otpauth://..., what the QR code holds


@dataclass(frozen=True, slots=True)
class AccountLine:
    """One account as the admins' list shows it."""

    account: StaffAccount
    kind: AccountKind | None  # None: its grant was revoked, or its class retired
    unit_label: str | None


def normalise_login_name(typed: str) -> str:
    return typed.strip().lower()[:64]


def setup_link(base: str, token: str) -> str:
    """``base`` is the dashboard's public root, e.g. ``https://pufa.example.cn/admin``."""
    return f"{base}/setup/{token}"


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@cache
def _common_passwords() -> frozenset[str]:
    path = Path(__file__).resolve().parent.parent / "data" / "common_passwords.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line and not line.startswith("#"))


def password_problem(password: str, login_name: str) -> PasswordRefusal | None:
    """Why ``password`` cannot be chosen, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return PasswordRefusal.TOO_SHORT
    if len(password) > MAX_PASSWORD_LENGTH:
        return PasswordRefusal.TOO_LONG
    if password.lower() in _common_passwords() or len(set(password)) <= 2:
        return PasswordRefusal.TOO_COMMON
    if login_name and login_name in password.lower():
        return PasswordRefusal.SAME_AS_LOGIN_NAME
    return None


# -- creating and disabling -------------------------------------------------------------


async def create_account(
    uow: UnitOfWork,
    *,
    by: Permissions | None,
    by_participant: int | None,
    display_name: str,
    login_name: str,
    kind: AccountKind,
    unit_id: int | None,
    locale: str = "zh-CN",
    now: datetime,
) -> CreatedAccount | AccountRefusal:
    """A new account with its grant, and its setup link's token. ``by`` is the creator's
    rights (None: the command line, the operator's own word)."""
    if by is not None and not by.is_admin:
        return AccountRefusal.NOT_ADMIN
    name = normalise_login_name(login_name)
    if not LOGIN_NAME.fullmatch(name):
        return AccountRefusal.BAD_LOGIN_NAME
    shown = clean_display_name(display_name)
    if shown is None:
        return AccountRefusal.BAD_DISPLAY_NAME
    unit = await uow.units.get(unit_id) if unit_id is not None else None
    wanted = {AccountKind.COORDINATOR: UnitKind.SCHOOL, AccountKind.TEACHER: UnitKind.CLASS}
    if kind is AccountKind.ADMIN:
        misfit = unit_id is not None  # the whole tree: a unit named is a slip of the hand
    else:
        misfit = unit is None or unit.retired or unit.kind is not wanted[kind]
    if misfit:
        await uow.commit()
        return AccountRefusal.WRONG_UNIT
    token = secrets.token_urlsafe(32)
    teacher = kind is AccountKind.TEACHER
    created = await uow.staff_accounts.create(
        login_name=name,
        display_name=shown,
        role=Role.TEACHER.value if teacher else None,
        unit_id=unit.id if teacher and unit is not None else None,
        locale=locale,
        setup_hash=_hash_token(token),
        setup_expires_at=now + SETUP_LIFETIME,
        created_by=by_participant,
        now=now,
    )
    if created is None:
        await uow.commit()
        return AccountRefusal.LOGIN_NAME_TAKEN
    if kind is AccountKind.ADMIN:
        await uow.grants.grant(created, GrantKind.ADMIN, None, granted_by=None)
    elif kind is AccountKind.COORDINATOR and unit is not None:
        await uow.grants.grant(created, GrantKind.COORDINATOR, unit.id, granted_by=None)
    await uow.commit()
    return CreatedAccount(created, name, token, now + SETUP_LIFETIME)


async def issue_setup_link(
    uow: UnitOfWork,
    login_name: str,
    *,
    by: Permissions | None,
    now: datetime,
    turn_off_totp: bool = False,
) -> CreatedAccount | AccountRefusal:
    """A new setup link for an account (a forgotten password): the old link stops working;
    the password stays valid until the new one is chosen. ``turn_off_totp``: the phone
    with the codes is lost (the person turns TOTP on again from their account page); the
    account's sessions end with it."""
    if by is not None and not by.is_admin:
        return AccountRefusal.NOT_ADMIN
    account = await uow.staff_accounts.by_login_name(normalise_login_name(login_name))
    if account is None or not account.active:
        await uow.commit()
        return AccountRefusal.UNKNOWN
    token = secrets.token_urlsafe(32)
    expires = now + SETUP_LIFETIME
    await uow.staff_accounts.set_setup(account.participant_id, _hash_token(token), expires)
    if turn_off_totp:
        await uow.staff_accounts.turn_off_totp(account.participant_id)
        await uow.web_sessions.revoke_all_of(account.participant_id, now)
    await uow.commit()
    return CreatedAccount(account.participant_id, account.login_name, token, expires)


async def disable_account(
    uow: UnitOfWork, login_name: str, *, by: Permissions | None, now: datetime
) -> StaffAccount | AccountRefusal:
    """Disable an account and end its sessions now; its grants and history stay."""
    if by is not None and not by.is_admin:
        return AccountRefusal.NOT_ADMIN
    account = await uow.staff_accounts.by_login_name(normalise_login_name(login_name))
    if account is None:
        await uow.commit()
        return AccountRefusal.UNKNOWN
    await uow.staff_accounts.disable(account.participant_id, now)
    await uow.web_sessions.revoke_all_of(account.participant_id, now)
    await uow.commit()
    return account


async def accounts(uow: UnitOfWork, *, by: Permissions | None) -> list[AccountLine] | None:
    """Every account with what it may see (None: the asker is not an admin)."""
    if by is not None and not by.is_admin:
        return None
    found = await uow.staff_accounts.all()
    lines = []
    kinds: dict[int, tuple[AccountKind | None, int | None]] = {}
    for account in found:
        person = await uow.participants.by_id(account.participant_id)
        permissions = Permissions.from_grants(
            await uow.grants.of(account.participant_id), configured_admin=False
        )
        kind: AccountKind | None = None
        unit_id: int | None = None
        if permissions.is_admin:
            kind = AccountKind.ADMIN
        elif permissions.coordinator_of:
            kind, unit_id = AccountKind.COORDINATOR, min(permissions.coordinator_of)
        elif person is not None and person.role is Role.TEACHER and person.unit_id:
            kind, unit_id = AccountKind.TEACHER, person.unit_id
        kinds[account.participant_id] = (kind, unit_id)
    units = await uow.units.by_ids(u for _, u in kinds.values() if u is not None)
    labels = await uow.units.display_labels(list(units.values()))
    await uow.commit()
    for account in found:
        kind, unit_id = kinds[account.participant_id]
        lines.append(
            AccountLine(account, kind, labels.get(unit_id) if unit_id is not None else None)
        )
    return lines


async def find_unit(uow: UnitOfWork, school: str, class_name: str | None) -> Unit | None:
    """The school named (by id, by name, or regiment and name), or its class of that name;
    None when there is not exactly one."""
    schools = [unit for unit in await uow.units.find_school(school) if not unit.retired]
    found: Unit | None = schools[0] if len(schools) == 1 else None
    if found is not None and class_name is not None:
        classes = [
            unit
            for unit in await uow.units.children(found.id)
            if unit.kind is UnitKind.CLASS and unit.name == class_name.strip()
        ]
        found = classes[0] if len(classes) == 1 else None
    await uow.commit()
    return found


async def account_of(uow: UnitOfWork, participant_id: int) -> StaffAccount | None:
    found = await uow.staff_accounts.by_participant(participant_id)
    await uow.commit()
    return found


# -- the setup link ----------------------------------------------------------------------


async def setup_account(
    uow: UnitOfWork, token: str, *, now: datetime
) -> StaffAccount | PasswordRefusal:
    """The account a setup link is for, while the link is valid."""
    account = await uow.staff_accounts.by_setup_hash(_hash_token(token))
    await uow.commit()
    if account is None or not account.active:
        return PasswordRefusal.LINK_INVALID
    if account.setup_expires_at is None or now >= account.setup_expires_at:
        return PasswordRefusal.LINK_EXPIRED
    return account


async def set_password(
    uow: UnitOfWork, token: str, password: str, repeated: str, *, now: datetime
) -> StaffAccount | PasswordRefusal:
    """Choose the password through a setup link, which ends with it."""
    account = await setup_account(uow, token, now=now)
    if isinstance(account, PasswordRefusal):
        return account
    if password != repeated:
        return PasswordRefusal.NOT_REPEATED
    problem = password_problem(password, account.login_name)
    if problem is not None:
        return problem
    hashed = await asyncio.to_thread(PASSWORDS.hash, password)
    if not await uow.staff_accounts.use_setup(_hash_token(token), hashed):
        await uow.commit()
        return PasswordRefusal.LINK_INVALID
    # A forgotten password may have been someone else's too: their sessions end with it.
    await uow.web_sessions.revoke_all_of(account.participant_id, now)
    await uow.commit()
    return account


# -- logging in --------------------------------------------------------------------------


def _locked_by(failures: Sequence[datetime], now: datetime) -> bool:
    """Locked when some failure of the last :data:`LOCK_FOR` was the :data:`LOCK_AFTER`-th
    (or later) within :data:`LOCK_WINDOW`. Tries refused as locked are no failures, so a
    lock ends :data:`LOCK_FOR` after the failure that set it."""
    for index, at in enumerate(failures):
        if now - at >= LOCK_FOR:
            continue
        within = [f for f in failures[: index + 1] if at - f < LOCK_WINDOW]
        if len(within) >= LOCK_AFTER:
            return True
    return False


async def _locked(uow: UnitOfWork, login_name: str, address: str, now: datetime) -> bool:
    by_name, by_address = await uow.staff_accounts.failures_since(
        now - LOCK_WINDOW - LOCK_FOR, login_name=login_name, address=address
    )
    return _locked_by(by_name, now) or _locked_by(by_address, now)


async def _refuse(
    uow: UnitOfWork, login_name: str, address: str, refusal: LoginRefusal, now: datetime
) -> LoginRefusal:
    outcome = "locked" if refusal is LoginRefusal.LOCKED else "failure"
    await uow.staff_accounts.record_refusal(
        login_name=login_name, address=address, outcome=outcome, now=now
    )
    await uow.commit()
    return refusal


async def forget_old_refusals(uow: UnitOfWork, *, now: datetime) -> int:
    """Delete the refused logins the rate limit can no longer count; how many went."""
    forgotten = await uow.staff_accounts.forget_refusals(now - KEEP_REFUSALS)
    await uow.commit()
    return forgotten


@cache
def _stand_in_hash(parameters: str) -> str:
    """A hash to check a password against when the name is unknown: the same work."""
    return PASSWORDS.hash(secrets.token_urlsafe(16))


def _verify(stored: str, password: str) -> bool:
    try:
        return PASSWORDS.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _ticket_key(key: bytes) -> bytes:
    return hmac.new(key, _TICKET_LABEL, hashlib.sha256).digest()


async def log_in(
    uow: UnitOfWork,
    login_name: str,
    password: str,
    *,
    address: str,
    key: bytes,
    admin_ids: Collection[int],
    now: datetime,
) -> OpenedSession | CodeNeeded | LoginRefusal:
    """Check a login name and password (``address``: the client's, for the rate limit);
    a new session, or the code step, or why not."""
    name = normalise_login_name(login_name)
    if await _locked(uow, name, address, now):
        return await _refuse(uow, name, address, LoginRefusal.LOCKED, now)
    account = await uow.staff_accounts.by_login_name(name)
    stored = account.password_hash if account is not None and account.active else None
    against = stored
    if against is None:  # no such account, disabled, or no password yet: the same work
        parameters = f"{PASSWORDS.time_cost}/{PASSWORDS.memory_cost}/{PASSWORDS.parallelism}"
        against = await asyncio.to_thread(_stand_in_hash, parameters)
    checked = password[:MAX_PASSWORD_LENGTH]
    right = await asyncio.to_thread(_verify, against, checked)
    if account is None or stored is None or not right:
        return await _refuse(uow, name, address, LoginRefusal.WRONG, now)
    if PASSWORDS.check_needs_rehash(stored):
        rehashed = await asyncio.to_thread(PASSWORDS.hash, checked)
        await uow.staff_accounts.set_password_hash(account.participant_id, rehashed)
    person = await uow.participants.by_id(account.participant_id)
    if person is None or not (await rights_of(uow, person, admin_ids)).any:
        await uow.commit()
        return LoginRefusal.NO_RIGHTS
    nonce = secrets.token_urlsafe(12)
    if account.totp_secret is not None:
        await uow.commit()
        ticket = sign_login_token(
            _ticket_key(key), account.participant_id, now + CODE_STEP_LIFETIME, nonce
        )
        return CodeNeeded(ticket)
    opened = await start_session(uow, person, nonce, now=now)
    return opened if opened is not None else LoginRefusal.START_AGAIN


def _code_step(secret: str, code: str, now: datetime, after: int | None) -> int | None:
    """The 30 s step whose code ``code`` is (this step, or the one before or after for a
    clock a little off), if it is later than ``after``."""
    totp = pyotp.TOTP(secret)
    code = "".join(code.split())
    current = totp.timecode(now)
    for step in (current, current - 1, current + 1):
        if after is not None and step <= after:
            continue
        if hmac.compare_digest(totp.generate_otp(step).encode(), code.encode()):
            return step
    return None


async def log_in_with_code(
    uow: UnitOfWork,
    ticket: str,
    code: str,
    *,
    address: str,
    key: bytes,
    admin_ids: Collection[int],
    now: datetime,
) -> OpenedSession | LoginRefusal:
    """The code step: a session when the code is right and unused (each step once)."""
    read = read_login_token(_ticket_key(key), ticket)
    if read is None:
        return LoginRefusal.START_AGAIN
    participant_id, expires, nonce = read
    account = await uow.staff_accounts.by_participant(participant_id)
    if account is None:
        await uow.commit()
        return LoginRefusal.START_AGAIN
    name = account.login_name
    if await _locked(uow, name, address, now):
        return await _refuse(uow, name, address, LoginRefusal.LOCKED, now)
    if now >= expires or await uow.web_sessions.link_used(nonce):
        await uow.commit()
        return LoginRefusal.START_AGAIN
    step = None
    if account.active and account.totp_secret is not None:
        step = _code_step(account.totp_secret, code, now, account.totp_last_step)
    if step is None or not await uow.staff_accounts.use_totp_step(participant_id, step):
        return await _refuse(uow, name, address, LoginRefusal.WRONG_CODE, now)
    person = await uow.participants.by_id(participant_id)
    if person is None or not (await rights_of(uow, person, admin_ids)).any:
        await uow.commit()
        return LoginRefusal.NO_RIGHTS
    opened = await start_session(uow, person, nonce, now=now)
    return opened if opened is not None else LoginRefusal.START_AGAIN


# -- one-time codes ----------------------------------------------------------------------


async def start_totp(uow: UnitOfWork, participant_id: int) -> TotpEnrolment | None:
    """A new secret for the account to confirm with one code (None: no account here)."""
    account = await uow.staff_accounts.by_participant(participant_id)
    if account is None or not account.active:
        await uow.commit()
        return None
    secret = pyotp.random_base32()
    await uow.staff_accounts.set_totp_pending(participant_id, secret)
    await uow.commit()
    uri = pyotp.TOTP(secret).provisioning_uri(name=account.login_name, issuer_name=TOTP_ISSUER)
    return TotpEnrolment(secret, uri)


async def confirm_totp(uow: UnitOfWork, participant_id: int, code: str, *, now: datetime) -> bool:
    """Turn TOTP on with a code from the pending secret; False when the code is wrong."""
    account = await uow.staff_accounts.by_participant(participant_id)
    pending = account.totp_pending if account is not None else None
    step = _code_step(pending, code, now, None) if pending is not None else None
    if pending is None or step is None:
        await uow.commit()
        return False
    await uow.staff_accounts.confirm_totp(participant_id, pending, step)
    await uow.commit()
    return True


async def turn_off_totp(
    uow: UnitOfWork, participant_id: int, code: str, *, address: str, now: datetime
) -> SignedInAgain | StaffAccount | LoginRefusal:
    """Turn TOTP off with a current, unused code, which ends every session of the account
    and opens a new one for the asking browser. A wrong code counts against the login's
    limit, so a session left open cannot be used to guess one. The account as it is when
    TOTP was off already (nothing changed, no session ended)."""
    account = await uow.staff_accounts.by_participant(participant_id)
    if account is None or not account.active:
        await uow.commit()
        return LoginRefusal.START_AGAIN
    if account.totp_secret is None:  # off already (another tab)
        await uow.commit()
        return account
    name, secret = account.login_name, account.totp_secret
    if await _locked(uow, name, address, now):
        return await _refuse(uow, name, address, LoginRefusal.LOCKED, now)
    step = _code_step(secret, code, now, account.totp_last_step)
    if step is None or not await uow.staff_accounts.use_totp_step(participant_id, step):
        return await _refuse(uow, name, address, LoginRefusal.WRONG_CODE, now)
    await uow.staff_accounts.turn_off_totp(participant_id)
    return await _sign_in_again(uow, account, now)


# -- changing one's password -------------------------------------------------------------


async def change_password(
    uow: UnitOfWork,
    participant_id: int,
    current: str,
    password: str,
    repeated: str,
    *,
    address: str,
    now: datetime,
) -> SignedInAgain | PasswordRefusal:
    """A signed-in person chooses a new password: the current one must be right (a wrong
    one counts against the login's limit), the new one follows the setup link's rules.
    Every session of the account ends, the asking one too, which gets a new one."""
    account = await uow.staff_accounts.by_participant(participant_id)
    stored = account.password_hash if account is not None and account.active else None
    if account is None or stored is None:
        await uow.commit()
        return PasswordRefusal.NO_ACCOUNT
    name = account.login_name
    if await _locked(uow, name, address, now):
        await _refuse(uow, name, address, LoginRefusal.LOCKED, now)
        return PasswordRefusal.LOCKED
    if not await asyncio.to_thread(_verify, stored, current[:MAX_PASSWORD_LENGTH]):
        await _refuse(uow, name, address, LoginRefusal.WRONG, now)
        return PasswordRefusal.WRONG_PASSWORD
    if password != repeated:
        await uow.commit()
        return PasswordRefusal.NOT_REPEATED
    problem = password_problem(password, name)
    if problem is not None:
        await uow.commit()
        return problem
    hashed = await asyncio.to_thread(PASSWORDS.hash, password)
    await uow.staff_accounts.set_password_hash(participant_id, hashed)
    return await _sign_in_again(uow, account, now)


async def _sign_in_again(uow: UnitOfWork, account: StaffAccount, now: datetime) -> SignedInAgain:
    """End every session of the account and open one for the asking browser, committed in
    one transaction with the change made before it."""
    await uow.web_sessions.revoke_all_of(account.participant_id, now)
    person = await uow.participants.by_id(account.participant_id)
    # The account was just read with its participant, and the nonce is fresh and random:
    # neither can fail short of a broken database, which rolls the change back as well.
    opened = None
    if person is not None:
        opened = await start_session(uow, person, secrets.token_urlsafe(12), now=now)
    if opened is None:
        raise RuntimeError(f"no new session for account {account.participant_id}")
    return SignedInAgain(account, opened.cookie)
