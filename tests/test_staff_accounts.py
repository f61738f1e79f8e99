"""Web accounts for staff without Telegram, through the dashboard's pages: the setup link,
the password login and its rate limit, TOTP, disabling, and who may make accounts."""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pyotp
import pytest
from aiohttp import DummyCookieJar, web
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.application import staff_accounts
from bot.application.dashboard import login_key
from bot.application.staff_accounts import (
    KEEP_REFUSALS,
    LOCK_FOR,
    LOCK_WINDOW,
    AccountKind,
    AccountRefusal,
    CreatedAccount,
    LoginRefusal,
    PasswordRefusal,
    create_account,
    issue_setup_link,
    password_problem,
)
from bot.cli import main
from bot.config import Settings
from bot.i18n import Translator
from bot.retention_jobs import forget_login_refusals, plan_retention
from bot.scheduler import Scheduler
from bot.services import ServiceContext
from bot.web import Dashboard, add_dashboard_routes
from quizzes.participants import GrantKind
from quizzes.permissions import Permissions
from storage.erasure import ParticipantErasure
from storage.models_staff_accounts import LoginFailureRow, StaffAccountRow
from storage.models_web import WebSessionRow
from storage.retention import inactive_since
from storage.unit_of_work import UnitOfWork
from tests.factories import World, build_world
from tests.mocked_bot import MockedBot
from tests.test_dashboard import Clock  # the dashboard's clock, moved by the test

PASSWORD = "晨读宪法-2026-春"
SCHOOL = "胡杨河市第一中学"
OTHER_SCHOOL = "一三一团中学"
CLASS = "七年级1班"
FORM_TOKEN = re.compile(r'name="form_token" value="([0-9a-f]{64})"')
TICKET = re.compile(r'name="ticket" value="([^"]+)"')
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SECRET = re.compile(r"<code>([A-Z2-7]{16,})</code>")
SETUP = re.compile(r"(/admin/setup/[A-Za-z0-9_-]{43})")


@pytest.fixture(autouse=True)
def cheap_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 at its default cost takes a tenth of a second or more a hash: the rules
    under test do not depend on the cost."""
    monkeypatch.setattr(
        staff_accounts, "PASSWORDS", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@dataclass
class Site:
    session_factory: async_sessionmaker[AsyncSession]
    world: World
    clock: Clock
    client: Callable[..., Any]

    async def account(
        self, login: str, kind: AccountKind, unit: str | None = None, *, password: bool = True
    ) -> CreatedAccount:
        """An account made on the command line's terms, its password chosen."""
        units = {**self.world.schools, **self.world.classes}
        async with self.session_factory() as session:
            created = await create_account(
                UnitOfWork.over(session),
                by=None,
                by_participant=None,
                display_name=f"{login}老师",
                login_name=login,
                kind=kind,
                unit_id=units[unit].id if unit else None,
                now=self.clock(),
            )
        assert isinstance(created, CreatedAccount), created
        if password:
            client = await self.client()
            response = await setup(client, created.setup_token, PASSWORD)
            assert response.status == 200, await response.text()
        return created


async def setup(client: TestClient, token: str, password: str) -> Any:
    form = {"password": password, "repeated": password}
    return await client.post(f"/admin/setup/{token}", data=form, allow_redirects=False)


async def log_in(
    client: TestClient, login: str, password: str = PASSWORD, *, address: str = "10.0.0.1"
) -> Any:
    page = await client.get("/admin/login")
    token = FORM_TOKEN.search(await page.text())
    assert token is not None
    return await client.post(
        "/admin/login",
        data={"form_token": token.group(1), "login_name": login, "password": password},
        headers={"X-Forwarded-For": address},
        allow_redirects=False,
    )


async def send_code(client: TestClient, page: str, code: str) -> Any:
    token, ticket = FORM_TOKEN.search(page), TICKET.search(page)
    assert token is not None and ticket is not None, page
    return await client.post(
        "/admin/login/code",
        data={"form_token": token.group(1), "ticket": ticket.group(1), "code": code},
        allow_redirects=False,
    )


async def csrf_of(client: TestClient, path: str = "/admin/account") -> str:
    found = CSRF.search(await (await client.get(path)).text())
    assert found is not None
    return found.group(1)


def session_cookie(client: TestClient) -> str:
    """The session cookie the browser keeps now."""
    return client.session.cookie_jar.filter_cookies(client.make_url("/admin/"))[
        "pufa_session"
    ].value


async def with_cookie(site: Site, cookie: str) -> TestClient:
    """Another browser holding a copy of ``cookie`` (one stolen, say)."""
    client: TestClient = await site.client()
    client.session.cookie_jar.update_cookies({"pufa_session": cookie})
    return client


async def live_sessions(site: Site, participant_id: int) -> int:
    async with site.session_factory() as session:
        rows = await session.scalars(
            select(WebSessionRow.id).where(
                WebSessionRow.participant_id == participant_id,
                WebSessionRow.revoked_at.is_(None),
            )
        )
        return len(list(rows))


@pytest.fixture
async def site(session_factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[Site]:
    world = await build_world(session_factory)
    clock = Clock()
    clients: list[TestClient] = []

    async def make_client(*, secure: bool = False) -> TestClient:
        """A browser of its own (its own cookies) on the dashboard's pages. ``secure``: the
        public URL is https; the test server is not, so that browser keeps no cookie (a
        test sends them itself)."""
        app = web.Application()
        add_dashboard_routes(
            app,
            Dashboard(
                session_factory,
                Translator.load(),
                (),
                "/admin",
                login_key("123456:TEST"),
                ZoneInfo("Asia/Shanghai"),
                secure=secure,
                clock=clock,
            ),
        )
        jar = DummyCookieJar() if secure else None
        client = TestClient(TestServer(app), cookie_jar=jar)
        clients.append(client)
        await client.start_server()
        return client

    yield Site(session_factory, world, clock, make_client)
    for client in clients:
        await client.close()


async def refusals(site: Site) -> list[LoginFailureRow]:
    async with site.session_factory() as session:
        return list(await session.scalars(select(LoginFailureRow).order_by(LoginFailureRow.id)))


# -- the rules themselves ------------------------------------------------------------------


def test_a_password_is_long_uncommon_and_not_the_login_name() -> None:
    assert password_problem("short1!", "wang") is PasswordRefusal.TOO_SHORT
    assert password_problem("1234567890", "wang") is PasswordRefusal.TOO_COMMON
    assert password_problem("Password123", "wang") is PasswordRefusal.TOO_COMMON
    assert password_problem("aaaaaaaaaaaa", "wang") is PasswordRefusal.TOO_COMMON
    assert password_problem("wang.li-2026-autumn", "wang.li") is PasswordRefusal.SAME_AS_LOGIN_NAME
    assert password_problem(PASSWORD, "wang.li") is None


# -- logging in ----------------------------------------------------------------------------


async def test_a_password_login_sees_exactly_its_grants_units(site: Site) -> None:
    await site.account("zhou", AccountKind.COORDINATOR, SCHOOL)
    await site.account("liming", AccountKind.TEACHER, CLASS)
    await site.account("bureau", AccountKind.ADMIN)
    coordinator = await site.client()
    response = await log_in(coordinator, "Zhou ")  # case and spaces as typed
    assert response.status == 303 and response.headers["Location"] == "/admin/"
    assert "HttpOnly" in response.headers.getall("Set-Cookie")[-1]
    data = await (await coordinator.get("/admin/api/overview")).json()
    assert data["scope"]["name"] == SCHOOL
    assert {row["name"] for row in data["sections"][-1]["rows"]} <= set(site.world.classes) | {
        SCHOOL
    }
    other = site.world.schools[OTHER_SCHOOL].id
    assert (await coordinator.get(f"/admin/units/{other}")).status == 403
    mine = site.world.schools[SCHOOL].id
    assert (await coordinator.get(f"/admin/units/{mine}")).status == 200

    teacher = await site.client()
    assert (await log_in(teacher, "liming")).status == 303
    landing = await teacher.get("/admin/", allow_redirects=False)
    assert landing.headers["Location"] == f"/admin/classes/{site.world.classes[CLASS].id}"
    assert (await teacher.get(f"/admin/units/{mine}")).status == 403

    admin = await site.client()
    assert (await log_in(admin, "bureau")).status == 303
    assert (await admin.get(f"/admin/units/{other}")).status == 200


async def test_a_wrong_password_and_an_unknown_name_get_the_same_page(site: Site) -> None:
    await site.account("zhou", AccountKind.COORDINATOR, SCHOOL)
    client = await site.client()
    wrong = await log_in(client, "zhou", "not-the-password-1")
    unknown = await log_in(client, "nobody", "not-the-password-1")
    assert wrong.status == unknown.status == 401
    assert "pufa_session" not in wrong.cookies and "pufa_session" not in unknown.cookies
    wrong_page = (await wrong.text()).replace('value="zhou"', 'value="?"')
    unknown_page = (await unknown.text()).replace('value="nobody"', 'value="?"')
    assert wrong_page == unknown_page
    # An account whose password is not chosen yet answers alike, even to an empty one.
    await site.account("pending", AccountKind.COORDINATOR, SCHOOL, password=False)
    pending = await log_in(client, "pending", "")
    assert pending.status == 401
    assert (await pending.text()).replace('value="pending"', 'value="?"') == wrong_page
    assert "登录名或密码不正确" in wrong_page
    rows = await refusals(site)
    assert [(row.login_name, row.outcome) for row in rows] == [
        ("zhou", "failure"),
        ("nobody", "failure"),
        ("pending", "failure"),
    ]
    assert all("not-the-password" not in repr(vars(row)) for row in rows)


async def test_the_sixth_try_in_fifteen_minutes_is_locked_even_with_the_right_password(
    site: Site,
) -> None:
    await site.account("zhou", AccountKind.COORDINATOR, SCHOOL)
    client = await site.client()
    for attempt in range(5):  # from five addresses: the account's own count locks it
        response = await log_in(client, "zhou", "wrong-password-x", address=f"10.0.1.{attempt}")
        assert response.status == 401
        site.clock.offset += timedelta(minutes=2)
    locked = await log_in(client, "zhou", address="10.0.2.1")
    assert locked.status == 429, await locked.text()
    assert "pufa_session" not in locked.cookies
    assert "15 分钟" in await locked.text()
    assert [row.outcome for row in await refusals(site)] == ["failure"] * 5 + ["locked"]
    site.clock.offset += timedelta(minutes=14)  # 15 minutes after the fifth failure
    assert (await log_in(client, "zhou", address="10.0.2.1")).status == 303


async def test_one_address_trying_many_names_is_locked_too(site: Site) -> None:
    await site.account("zhou", AccountKind.COORDINATOR, SCHOOL)
    client = await site.client()
    for name in ("a1", "b2", "c3", "d4", "e5"):
        assert (await log_in(client, name, "guess-guess-1", address="10.9.9.9")).status == 401
    assert (await log_in(client, "zhou", address="10.9.9.9")).status == 429
    assert (await log_in(client, "zhou", address="10.9.9.8")).status == 303


async def test_forms_without_their_token_are_refused(site: Site) -> None:
    await site.account("bureau", AccountKind.ADMIN)
    client = await site.client()
    await client.get("/admin/login")  # the form's cookie is set, but no token is sent
    no_token = await client.post(
        "/admin/login", data={"login_name": "bureau", "password": PASSWORD}
    )
    assert no_token.status == 403
    # A token taken from another browser's form does not fit this browser's cookie.
    elsewhere = await site.client()
    page = await (await elsewhere.get("/admin/login")).text()
    token = FORM_TOKEN.search(page)
    assert token is not None
    forged = await client.post(
        "/admin/login",
        data={"form_token": token.group(1), "login_name": "bureau", "password": PASSWORD},
    )
    assert forged.status == 403
    assert "pufa_session" not in forged.cookies
    # Signed in, a form needs the session's token.
    assert (await log_in(client, "bureau")).status == 303
    form = {"display_name": "王老师", "login_name": "wang", "kind": "admin", "unit_id": ""}
    refused = await client.post("/admin/accounts/create", data=form)
    assert refused.status == 403
    async with site.session_factory() as session:
        assert await UnitOfWork.over(session).staff_accounts.by_login_name("wang") is None


async def test_with_totp_a_password_is_not_enough_and_each_code_works_once(site: Site) -> None:
    await site.account("zhou", AccountKind.COORDINATOR, SCHOOL)
    client = await site.client()
    assert (await log_in(client, "zhou")).status == 303
    enrol = await client.post("/admin/account/totp", data={"csrf_token": await csrf_of(client)})
    shown = await enrol.text()
    assert "<svg" in shown
    secret = SECRET.search(shown)
    assert secret is not None
    totp = pyotp.TOTP(secret.group(1))
    confirm = await client.post(
        "/admin/account/totp/confirm",
        data={"csrf_token": await csrf_of(client), "code": totp.at(site.clock())},
    )
    assert confirm.status == 200, await confirm.text()

    site.clock.offset += timedelta(seconds=30)  # the confirming code's step is used
    first = await site.client()
    step_two = await log_in(first, "zhou")
    assert step_two.status == 200 and "pufa_session" not in step_two.cookies
    assert (await first.get("/admin/api/overview")).status == 401
    code = totp.at(site.clock())
    assert (await send_code(first, await step_two.text(), code)).status == 303
    assert (await first.get("/admin/api/overview")).status == 200

    replay = await site.client()
    again = await log_in(replay, "zhou")
    refused = await send_code(replay, await again.text(), code)
    assert refused.status == 401
    assert "pufa_session" not in refused.cookies
    site.clock.offset += timedelta(seconds=30)
    again = await log_in(replay, "zhou")
    assert (await send_code(replay, await again.text(), totp.at(site.clock()))).status == 303


def test_a_code_is_not_taken_for_a_step_already_used() -> None:
    secret = pyotp.random_base32()
    now = datetime(2026, 12, 7, 8, 0, 10, tzinfo=UTC)
    step = pyotp.TOTP(secret).timecode(now)
    code = pyotp.TOTP(secret).at(now)
    assert staff_accounts._code_step(secret, code, now, None) == step
    assert staff_accounts._code_step(secret, code, now, step - 1) == step
    assert staff_accounts._code_step(secret, code, now, step) is None
    assert (
        staff_accounts._code_step(secret, "000000" if code != "000000" else "1", now, None) is None
    )


async def test_two_logins_with_one_code_cannot_both_record_its_step(site: Site) -> None:
    """The step is recorded by a conditional UPDATE: the second of two at once gets none."""
    created = await site.account("zhou", AccountKind.COORDINATOR, SCHOOL, password=False)
    async with site.session_factory() as session:
        repository = UnitOfWork.over(session).staff_accounts
        assert await repository.use_totp_step(created.participant_id, 100)
        assert not await repository.use_totp_step(created.participant_id, 100)
        assert not await repository.use_totp_step(created.participant_id, 99)
        assert await repository.use_totp_step(created.participant_id, 101)


async def test_an_account_disabled_behind_the_pages_back_is_signed_out_too(site: Site) -> None:
    """Even when its sessions were not ended with it (a direct change in the database),
    a disabled account's session ends at its next request."""
    created = await site.account("zhou", AccountKind.COORDINATOR, SCHOOL)
    client = await site.client()
    assert (await log_in(client, "zhou")).status == 303
    async with site.session_factory() as session:
        uow = UnitOfWork.over(session)
        await uow.staff_accounts.disable(created.participant_id, site.clock())
        await uow.commit()
    assert (await client.get("/admin/")).status == 401


async def test_a_disabled_account_is_signed_out_at_its_next_request(site: Site) -> None:
    await site.account("zhou", AccountKind.COORDINATOR, SCHOOL)
    await site.account("bureau", AccountKind.ADMIN)
    coordinator, admin = await site.client(), await site.client()
    assert (await log_in(coordinator, "zhou")).status == 303
    assert (await coordinator.get("/admin/")).status == 200
    assert (await log_in(admin, "bureau")).status == 303
    form = {"csrf_token": await csrf_of(admin, "/admin/accounts"), "login_name": "zhou"}
    done = await admin.post("/admin/accounts/disable", data=form)
    assert done.status == 200 and "已停用" in await done.text()
    assert (await coordinator.get("/admin/")).status == 401
    assert (await log_in(await site.client(), "zhou")).status == 401


async def test_a_revoked_grant_ends_an_accounts_session(site: Site) -> None:
    created = await site.account("zhou", AccountKind.COORDINATOR, SCHOOL)
    client = await site.client()
    assert (await log_in(client, "zhou")).status == 303
    async with site.session_factory() as session:
        uow = UnitOfWork.over(session)
        await uow.grants.revoke(created.participant_id, GrantKind.COORDINATOR)
        await uow.commit()
    assert (await client.get("/admin/")).status == 401


async def test_a_coordinator_cannot_create_accounts(site: Site) -> None:
    await site.account("zhou", AccountKind.COORDINATOR, SCHOOL)
    client = await site.client()
    assert (await log_in(client, "zhou")).status == 303
    assert (await client.get("/admin/accounts")).status == 403
    form = {
        "csrf_token": await csrf_of(client),
        "display_name": "冒名",
        "login_name": "boss",
        "kind": "admin",
        "unit_id": "",
    }
    assert (await client.post("/admin/accounts/create", data=form)).status == 403
    async with site.session_factory() as session:
        uow = UnitOfWork.over(session)
        assert await uow.staff_accounts.by_login_name("boss") is None
        refused = await create_account(
            uow,
            by=Permissions(coordinator_of=frozenset({site.world.schools[SCHOOL].id})),
            by_participant=None,
            display_name="冒名",
            login_name="boss",
            kind=AccountKind.ADMIN,
            unit_id=None,
            now=site.clock(),
        )
    assert refused is AccountRefusal.NOT_ADMIN


async def test_an_admin_opens_an_account_on_the_page_and_its_link_sets_the_password(
    site: Site,
) -> None:
    await site.account("bureau", AccountKind.ADMIN)
    admin = await site.client()
    assert (await log_in(admin, "bureau")).status == 303
    form = {
        "csrf_token": await csrf_of(admin, "/admin/accounts"),
        "display_name": "李老师",
        "login_name": "Li.Ming",
        "kind": "teacher",
        "unit_id": str(site.world.schools[SCHOOL].id),  # a school is no class
    }
    refused = await admin.post("/admin/accounts/create", data=form)
    assert refused.status == 400 and "班主任选班级" in await refused.text()
    slip = await admin.post("/admin/accounts/create", data={**form, "kind": "admin"})
    assert slip.status == 400  # an administrator with a unit named: a slip, not an admin
    form["unit_id"] = str(site.world.classes[CLASS].id)
    created = await admin.post("/admin/accounts/create", data=form)
    link = SETUP.search(await created.text())
    assert created.status == 200 and link is not None
    person = await site.client()
    weak = await setup(person, link.group(1).rsplit("/", 1)[1], "1234567890")
    assert weak.status == 400 and "常见密码" in await weak.text()
    assert (await setup(person, link.group(1).rsplit("/", 1)[1], PASSWORD)).status == 200
    assert (await log_in(person, "li.ming")).status == 303


async def test_a_hash_made_with_older_parameters_is_replaced_at_login(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = await site.account("zhou", AccountKind.COORDINATOR, SCHOOL)
    stronger = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    monkeypatch.setattr(staff_accounts, "PASSWORDS", stronger)
    assert (await log_in(await site.client(), "zhou")).status == 303
    async with site.session_factory() as session:
        row = await session.get(StaffAccountRow, created.participant_id)
        assert row is not None and row.password_hash is not None
        assert "m=2048,t=2" in row.password_hash
        assert not stronger.check_needs_rehash(row.password_hash)


# -- the command line ------------------------------------------------------------------------


async def test_staff_add_prints_a_setup_link_that_works_once(
    site: Site, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUFA_DATABASE_URL", database_url)
    monkeypatch.setenv("PUFA_PUBLIC_URL", "https://pufa.example.cn")
    runner = CliRunner()

    def pufa(*args: str) -> Any:
        return runner.invoke(main, list(args))

    added = await asyncio.to_thread(
        pufa, "staff", "add", "wang", "--name", "王老师", "--role", "coordinator",
        "--school", SCHOOL,
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    link = re.search(r"https://pufa\.example\.cn(/admin/setup/[A-Za-z0-9_-]{43})", added.output)
    assert link is not None, added.output
    twice = await asyncio.to_thread(
        pufa, "staff", "add", "wang", "--name", "王", "--role", "admin"
    )
    assert twice.exit_code == 1 and "已被使用" in twice.output
    client = await site.client()
    assert (await client.get(link.group(1))).status == 200
    form = {"password": PASSWORD, "repeated": PASSWORD}
    assert (await client.post(link.group(1), data=form)).status == 200
    used = await client.post(link.group(1), data={**form, "password": PASSWORD + "!"})
    assert used.status == 404 and "已经用过" in await used.text()
    assert (await log_in(client, "wang")).status == 303

    listed = await asyncio.to_thread(pufa, "staff", "list")
    assert listed.exit_code == 0
    assert re.search(rf"wang\t王老师\t学校联络员\t.*{SCHOOL}\t未开启\t正常", listed.output)
    async with site.session_factory() as session:  # TOTP on, and then the phone is lost
        uow = UnitOfWork.over(session)
        account = await uow.staff_accounts.by_login_name("wang")
        assert account is not None
        await uow.staff_accounts.confirm_totp(account.participant_id, pyotp.random_base32(), 1)
        await uow.commit()
    assert (await log_in(await site.client(), "wang")).status == 200  # the code step
    relinked = await asyncio.to_thread(pufa, "staff", "link", "wang", "--turn-off-totp")
    assert relinked.exit_code == 0 and "/admin/setup/" in relinked.output
    assert (await log_in(await site.client(), "wang")).status == 303
    disabled = await asyncio.to_thread(pufa, "staff", "disable", "wang")
    assert disabled.exit_code == 0, disabled.output
    assert (await client.get("/admin/")).status == 401


async def test_erasing_an_account_deletes_its_login_and_retention_counts_its_use(
    site: Site,
) -> None:
    """Erasure (``/forgetme``'s, and retention's) takes the login name and password hash
    with the person; signing in to the dashboard counts as activity for retention, since
    an account has nothing else to show for its use."""
    site.clock.offset = -timedelta(days=400)  # both opened over a year ago
    used = await site.account("zhou", AccountKind.COORDINATOR, SCHOOL)
    idle = await site.account("wang", AccountKind.COORDINATOR, SCHOOL)
    site.clock.offset = timedelta()
    assert (await log_in(await site.client(), "zhou")).status == 303
    async with site.session_factory() as session:
        stale = await inactive_since(session, site.clock() - timedelta(days=365))
        assert idle.participant_id in stale and used.participant_id not in stale
        assert await ParticipantErasure(session).erase(used.participant_id, site.clock())
        await session.commit()
        assert await session.get(StaffAccountRow, used.participant_id) is None
    assert (await log_in(await site.client(), "zhou")).status == 401


# -- the account page: the password and two-step verification --------------------------------


async def change(
    client: TestClient, current: str, password: str, repeated: str | None = None
) -> Any:
    form = {
        "csrf_token": await csrf_of(client),
        "current": current,
        "password": password,
        "repeated": password if repeated is None else repeated,
    }
    return await client.post("/admin/account/password", data=form)


async def test_changing_the_password_needs_the_current_one_and_ends_every_session(
    site: Site,
) -> None:
    created = await site.account("zhou", AccountKind.COORDINATOR, SCHOOL)
    here, elsewhere = await site.client(), await site.client()
    assert (await log_in(here, "zhou")).status == 303
    assert (await log_in(elsewhere, "zhou")).status == 303
    new = "法治校园-秋季-2026"

    no_token = await here.post(
        "/admin/account/password", data={"current": PASSWORD, "password": new, "repeated": new}
    )
    assert no_token.status == 403
    wrong = await change(here, "not-the-password-1", new)
    assert wrong.status == 400 and "当前密码不正确" in await wrong.text()
    assert [(row.login_name, row.outcome) for row in await refusals(site)] == [("zhou", "failure")]
    differ = await change(here, PASSWORD, new, new + "!")
    assert differ.status == 400 and "两次输入的密码不一致" in await differ.text()
    common = await change(here, PASSWORD, "1234567890")
    assert common.status == 400 and "常见密码" in await common.text()
    named = await change(here, PASSWORD, "zhou-2026-autumn")
    assert named.status == 400 and "不能包含登录名" in await named.text()
    assert (await elsewhere.get("/admin/")).status == 200  # nothing changed yet

    old_cookie, old_csrf = session_cookie(here), await csrf_of(here)
    done = await change(here, PASSWORD, new)
    assert done.status == 200 and "密码已修改" in await done.text()
    # The browser that changed it is given a new session, set as at sign-in...
    (set_cookie,) = done.headers.getall("Set-Cookie")
    assert (
        set_cookie.startswith("pufa_session=") and "pufa_session=" + old_cookie not in set_cookie
    )
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
    assert "Path=/admin" in set_cookie and "Secure" not in set_cookie  # http here
    assert session_cookie(here) != old_cookie
    # ...whose forms carry its own token, so the page it shows works as it stands.
    shown = CSRF.search(await done.text())
    assert shown is not None and shown.group(1) != old_csrf
    assert shown.group(1) == await csrf_of(here)
    assert (await here.get("/admin/")).status == 200
    # The old session ended with every other: a copy of its cookie opens nothing.
    assert (await (await with_cookie(site, old_cookie)).get("/admin/")).status == 401
    assert (await elsewhere.get("/admin/")).status == 401
    assert await live_sessions(site, created.participant_id) == 1
    assert (await log_in(await site.client(), "zhou")).status == 401
    assert (await log_in(await site.client(), "zhou", new)).status == 303


async def test_behind_https_the_renewed_session_cookie_is_secure(site: Site) -> None:
    await site.account("zhou", AccountKind.COORDINATOR, SCHOOL)
    plain = await site.client()  # signed in on the same database, then behind https
    assert (await log_in(plain, "zhou")).status == 303
    client = await site.client(secure=True)
    cookie = {"Cookie": f"pufa_session={session_cookie(plain)}"}
    page = await (await client.get("/admin/account", headers=cookie)).text()
    token = CSRF.search(page)
    assert token is not None
    new = "法治校园-秋季-2026"
    form = {"csrf_token": token.group(1), "current": PASSWORD, "password": new, "repeated": new}
    done = await client.post("/admin/account/password", data=form, headers=cookie)
    assert done.status == 200, await done.text()
    set_cookie = done.headers["Set-Cookie"]
    assert "Secure" in set_cookie and "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
    renewed = {"Cookie": f"pufa_session={done.cookies['pufa_session'].value}"}
    assert (await client.get("/admin/", headers=renewed)).status == 200
    assert (await client.get("/admin/", headers=cookie)).status == 401


async def test_wrong_current_passwords_lock_like_wrong_logins(site: Site) -> None:
    """A session left open cannot be used to guess the password: the tries count against
    the login's own limit (per name and per address)."""
    await site.account("zhou", AccountKind.COORDINATOR, SCHOOL)
    client = await site.client()
    assert (await log_in(client, "zhou")).status == 303
    for _ in range(5):
        assert (await change(client, "guess-guess-1", "法治校园-秋季-2026")).status == 400
    locked = await change(client, PASSWORD, "法治校园-秋季-2026")
    assert locked.status == 429 and "15 分钟" in await locked.text()
    assert (await log_in(await site.client(), "zhou")).status == 429
    site.clock.offset += timedelta(minutes=15)
    assert (await change(client, PASSWORD, "法治校园-秋季-2026")).status == 200


async def test_two_step_verification_shows_its_uri_and_is_turned_off_with_a_fresh_code(
    site: Site,
) -> None:
    await site.account("zhou", AccountKind.COORDINATOR, SCHOOL)
    client = await site.client()
    assert (await log_in(client, "zhou")).status == 303
    enrol = await (
        await client.post("/admin/account/totp", data={"csrf_token": await csrf_of(client)})
    ).text()
    secret = SECRET.search(enrol)
    assert secret is not None
    assert f"otpauth://totp/Pufa%20Bot:zhou?secret={secret.group(1)}" in enrol
    totp = pyotp.TOTP(secret.group(1))
    used = totp.at(site.clock())
    form = {"csrf_token": await csrf_of(client), "code": used}
    assert (await client.post("/admin/account/totp/confirm", data=form)).status == 200
    page = await (await client.get("/admin/account")).text()
    assert "两步验证：已开启" in page and "/admin/account/totp/off" in page

    async def turn_off(code: str, token: str | None = None) -> Any:
        token = token if token is not None else await csrf_of(client)
        return await client.post(
            "/admin/account/totp/off", data={"csrf_token": token, "code": code}
        )

    assert (await turn_off(totp.at(site.clock()), token="forged")).status == 403
    again = await turn_off(used)  # the confirming code's step is used already
    assert again.status == 400 and "已使用过" in await again.text()
    assert (await turn_off("000000" if used != "000000" else "111111")).status == 400
    assert "已开启" in await (await client.get("/admin/account")).text()
    site.clock.offset += timedelta(seconds=30)
    off = await turn_off(totp.at(site.clock()))
    assert off.status == 200 and "两步验证已关闭" in await off.text()
    assert "两步验证：未开启" in await (await client.get("/admin/account")).text()
    assert (await log_in(await site.client(), "zhou")).status == 303  # no code step now
    assert [row.outcome for row in await refusals(site)] == ["failure", "failure"]


async def enrol(site: Site, client: TestClient) -> pyotp.TOTP:
    """Turn TOTP on from the account page; its confirming step is used."""
    enrolment = await client.post(
        "/admin/account/totp", data={"csrf_token": await csrf_of(client)}
    )
    secret = SECRET.search(await enrolment.text())
    assert secret is not None
    totp = pyotp.TOTP(secret.group(1))
    form = {"csrf_token": await csrf_of(client), "code": totp.at(site.clock())}
    assert (await client.post("/admin/account/totp/confirm", data=form)).status == 200
    return totp


async def test_turning_two_step_verification_off_ends_every_session_of_the_account(
    site: Site,
) -> None:
    created = await site.account("zhou", AccountKind.COORDINATOR, SCHOOL)
    here, elsewhere = await site.client(), await site.client()
    assert (await log_in(here, "zhou")).status == 303
    assert (await log_in(elsewhere, "zhou")).status == 303  # before TOTP: no code step
    totp = await enrol(site, here)
    site.clock.offset += timedelta(seconds=30)
    old_cookie = session_cookie(here)
    wrong = await here.post(
        "/admin/account/totp/off",
        data={"csrf_token": await csrf_of(here), "code": "000000"},
    )
    assert wrong.status == 400 and "Set-Cookie" not in wrong.headers
    assert (await elsewhere.get("/admin/")).status == 200  # a wrong code ends nothing

    form = {"csrf_token": await csrf_of(here), "code": totp.at(site.clock())}
    off = await here.post("/admin/account/totp/off", data=form)
    text = await off.text()
    assert off.status == 200 and "两步验证已关闭" in text and "登录已全部结束" in text
    set_cookie = off.headers["Set-Cookie"]
    assert (
        "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie and "Path=/admin" in set_cookie
    )
    assert session_cookie(here) != old_cookie
    assert "两步验证：未开启" in await (await here.get("/admin/account")).text()
    assert (await (await with_cookie(site, old_cookie)).get("/admin/")).status == 401
    assert (await elsewhere.get("/admin/")).status == 401
    assert await live_sessions(site, created.participant_id) == 1


async def test_a_password_chosen_through_a_new_setup_link_ends_every_session(
    site: Site,
) -> None:
    """A forgotten password (or one someone else learnt): the sessions opened with it end
    once the new one is chosen; a lost phone's TOTP, turned off by an admin, at once."""
    created = await site.account("zhou", AccountKind.COORDINATOR, SCHOOL)
    first, second = await site.client(), await site.client()
    assert (await log_in(first, "zhou")).status == 303
    async with site.session_factory() as session:
        link = await issue_setup_link(UnitOfWork.over(session), "zhou", by=None, now=site.clock())
    assert isinstance(link, CreatedAccount)
    assert (await first.get("/admin/")).status == 200  # a link alone changes nothing
    new = "法治校园-秋季-2026"
    assert (await setup(await site.client(), link.setup_token, new)).status == 200
    assert (await first.get("/admin/")).status == 401
    assert await live_sessions(site, created.participant_id) == 0

    assert (await log_in(second, "zhou", new)).status == 303
    await enrol(site, second)
    async with site.session_factory() as session:
        relinked = await issue_setup_link(
            UnitOfWork.over(session), "zhou", by=None, now=site.clock(), turn_off_totp=True
        )
    assert isinstance(relinked, CreatedAccount)
    assert (await second.get("/admin/")).status == 401
    assert (await log_in(await site.client(), "zhou", new)).status == 303  # no code step


async def test_the_account_page_speaks_english_when_asked(site: Site) -> None:
    await site.account("zhou", AccountKind.COORDINATOR, SCHOOL)
    client = await site.client()
    assert (await log_in(client, "zhou")).status == 303
    page = await (await client.get("/admin/account?lang=en")).text()
    assert "Change the password" in page and "Current password" in page
    wrong = await change(client, "not-the-password-1", "法治校园-秋季-2026")
    assert "The current password is wrong." in await wrong.text()


def test_every_refusal_of_the_account_page_is_in_both_languages() -> None:
    translator = Translator.load()
    for locale in ("zh-CN", "en"):
        for refusal in PasswordRefusal:
            assert translator.get(locale, f"web.account.refusal.{refusal.value}")
        for login in LoginRefusal:
            assert translator.get(locale, f"web.account.{login.value}")


# -- the rate limit's record is kept only as long as the limit reads it -----------------------


def test_the_lock_reads_nothing_older_than_the_refusals_kept() -> None:
    """Any failures, and any moment: the lock decided from only the refusals kept equals
    the lock decided from all of them."""
    rng = random.Random(13)
    start = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    for _ in range(400):
        failures = sorted(
            start + timedelta(seconds=rng.randrange(0, 3 * 3600)) for _ in range(rng.randrange(12))
        )
        now = start + timedelta(seconds=rng.randrange(0, 4 * 3600))
        seen = [at for at in failures if at <= now]
        kept = [at for at in seen if at >= now - KEEP_REFUSALS]
        assert staff_accounts._locked_by(kept, now) == staff_accounts._locked_by(seen, now)


async def test_the_daily_job_deletes_the_refusals_the_limit_no_longer_counts(
    site: Site, database_url: str
) -> None:
    await site.account("zhou", AccountKind.COORDINATOR, SCHOOL)
    settings = Settings(bot_token="42:TEST-token", database_url=database_url)
    context = ServiceContext(settings, site.session_factory, MockedBot(), Translator.load())
    client = await site.client()
    assert (await log_in(client, "nobody", "guess-guess-1", address="10.0.3.1")).status == 401
    site.clock.offset += KEEP_REFUSALS  # that one can no longer count
    for attempt in range(5):
        assert (
            await log_in(client, "zhou", "guess-guess-1", address=f"10.0.4.{attempt}")
        ).status == 401
        site.clock.offset += timedelta(minutes=1)
    assert await forget_login_refusals(context, now=site.clock()) == 1
    assert [row.login_name for row in await refusals(site)] == ["zhou"] * 5
    assert (await log_in(client, "zhou", address="10.0.5.1")).status == 429  # still locked
    assert await forget_login_refusals(context, now=site.clock()) == 0

    site.clock.offset += LOCK_FOR  # the lock is over, and everything that set it is gone
    assert await forget_login_refusals(context, now=site.clock() + LOCK_WINDOW) == 6
    assert await refusals(site) == []
    assert (await log_in(client, "zhou", address="10.0.5.1")).status == 303


async def test_the_refusals_are_pruned_every_day_retention_set_or_not(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    monday = datetime(2026, 12, 7, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    settings = Settings(bot_token="42:TEST-token")
    context = ServiceContext(settings, session_factory, MockedBot(), Translator.load())
    scheduler = Scheduler(context, clock=lambda: monday)
    scheduler.add_planner(plan_retention)
    await scheduler.plan()
    assert scheduler.upcoming() == [
        ("login-refusals-daily", datetime(2026, 12, 8, 3, 20, tzinfo=ZoneInfo("Asia/Shanghai")))
    ]
