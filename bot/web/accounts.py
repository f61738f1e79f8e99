"""Web accounts on the dashboard: the password login (``{admin path}/login``) and its code
step, the setup link that lets a person choose their password, the account page (changing
the password, turning TOTP on and off) and the admins' list of accounts (create, new setup
link, disable).

Thin, like the other views: parse the form, call one use case of
:mod:`bot.application.staff_accounts`, render. A visitor who is not signed in has no
session token to put in a form, so the login form carries a token signed over a random
cookie set with the form (a double-submit cookie that a cross-site page can neither read
nor forge).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Collection, Mapping
from typing import Any, Protocol

import qrcode
from aiohttp import web
from markupsafe import Markup

from bot.application import UnitOfWork
from bot.application.class_progress import form_token_ok
from bot.application.dashboard import OpenedSession, Viewer, viewer_of
from bot.application.staff_accounts import (
    AccountKind,
    AccountRefusal,
    CodeNeeded,
    CreatedAccount,
    LoginRefusal,
    PasswordRefusal,
    SignedInAgain,
    StaffAccount,
    TotpEnrolment,
    account_of,
    accounts,
    change_password,
    confirm_totp,
    create_account,
    disable_account,
    issue_setup_link,
    log_in,
    log_in_with_code,
    set_password,
    setup_account,
    setup_link,
    start_totp,
    turn_off_totp,
)
from bot.i18n import Gettext
from bot.web.addresses import client_address
from bot.web.campaign_page import Pages
from bot.web.sessions import set_session_cookie
from quizzes.units import UnitKind

__all__ = ["add_account_routes", "qr_svg"]

LOGIN_COOKIE = "pufa_login_form"
_FORM_LABEL = b"pufa-bot web login form v1"
_LOGIN_REFUSALS = {
    LoginRefusal.WRONG: 401,
    LoginRefusal.LOCKED: 429,
    LoginRefusal.WRONG_CODE: 401,
    LoginRefusal.START_AGAIN: 401,
    LoginRefusal.NO_RIGHTS: 403,
}


class Dashboard(Pages, Protocol):
    """What these pages need of :class:`bot.web.views.Dashboard` (which registers them)."""

    @property
    def key(self) -> bytes: ...

    @property
    def admin_ids(self) -> Collection[int]: ...

    @property
    def secure(self) -> bool: ...

    def signed_out(self, request: web.Request) -> web.Response: ...


def qr_svg(data: str) -> Markup:
    """A QR code as inline SVG, drawn here (the page's policy allows no image from
    elsewhere, and no inline style): one path of dark modules."""
    qr: Any = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    qr.add_data(data)
    qr.make(fit=True)
    matrix: list[list[bool]] = qr.get_matrix()  # the border included
    size = len(matrix)
    cells = "".join(
        f"M{x} {y}h1v1h-1z" for y, row in enumerate(matrix) for x, dark in enumerate(row) if dark
    )
    return Markup(
        f'<svg class="qr" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}"'
        f' role="img" shape-rendering="crispEdges"><rect width="{size}" height="{size}"'
        f' fill="#fff"/><path d="{cells}" fill="#000"/></svg>'
    )


def _text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


class AccountPages:
    def __init__(self, dashboard: Dashboard, headers: Mapping[str, str]) -> None:
        self.dashboard = dashboard
        self.headers = headers

    # -- the login form's token, for a visitor with no session --------------------------

    def _form_token(self, cookie: str) -> str:
        key = hmac.new(self.dashboard.key, _FORM_LABEL, hashlib.sha256).digest()
        return hmac.new(key, cookie.encode(), hashlib.sha256).hexdigest()

    def _form_ok(self, request: web.Request, form: Mapping[str, Any]) -> bool:
        cookie = request.cookies.get(LOGIN_COOKIE, "")
        sent = _text(form, "form_token")
        return bool(cookie) and hmac.compare_digest(sent, self._form_token(cookie))

    def _login_page(
        self,
        request: web.Request,
        _: Gettext,
        *,
        status: int = 200,
        message: str | None = None,
        ticket: str | None = None,
        login_name: str = "",
    ) -> web.Response:
        cookie = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)
        response = self.dashboard.page(
            request,
            "login.html.j2",
            _,
            status=status,
            form_token=self._form_token(cookie),
            message=message,
            ticket=ticket,
            login_name=login_name,
        )
        response.set_cookie(
            LOGIN_COOKIE,
            cookie,
            path=self.dashboard.path,
            httponly=True,
            # Lax, as the session's: a form opened from a link in a chat app keeps its cookie.
            samesite="Lax",
            secure=self.dashboard.secure,
        )
        return response

    def _signed_in(self, opened: OpenedSession) -> web.Response:
        board = self.dashboard
        response = web.Response(status=303, headers={"Location": f"{board.path}/"})
        set_session_cookie(response, opened.cookie, path=board.path, secure=board.secure)
        response.headers.update(self.headers)
        return response

    async def login_form(self, request: web.Request) -> web.StreamResponse:
        return self._login_page(request, self.dashboard.gettext(request, None))

    async def _login_form(
        self, request: web.Request
    ) -> tuple[Gettext, Mapping[str, Any], dict[str, Any]] | web.Response:
        """The posted login form, with what every login use case is told of the request;
        or the form again when it lacks its token."""
        board = self.dashboard
        _ = board.gettext(request, None)
        form = await request.post()
        if not self._form_ok(request, form):
            return self._login_page(request, _, status=403, message="web.bad_form")
        asking = {
            "address": client_address(request),
            "key": board.key,
            "admin_ids": board.admin_ids,
            "now": board.clock(),
        }
        return _, form, asking

    async def login(self, request: web.Request) -> web.StreamResponse:
        """The password; then a session, or the code step, or the form again."""
        posted = await self._login_form(request)
        if isinstance(posted, web.Response):
            return posted
        _, form, asking = posted
        login_name = _text(form, "login_name")
        async with self.dashboard.uow() as uow:
            outcome = await log_in(uow, login_name, _text(form, "password"), **asking)
        if isinstance(outcome, CodeNeeded):
            return self._login_page(request, _, ticket=outcome.ticket)
        return self._answer(request, _, outcome, login_name=login_name)

    async def login_code(self, request: web.Request) -> web.StreamResponse:
        """The code step: a session, or the code form again (or the password form)."""
        posted = await self._login_form(request)
        if isinstance(posted, web.Response):
            return posted
        _, form, asking = posted
        ticket = _text(form, "ticket")
        async with self.dashboard.uow() as uow:
            outcome = await log_in_with_code(uow, ticket, _text(form, "code"), **asking)
        return self._answer(request, _, outcome, ticket=ticket)

    def _answer(
        self,
        request: web.Request,
        _: Gettext,
        outcome: OpenedSession | LoginRefusal,
        *,
        login_name: str = "",
        ticket: str | None = None,
    ) -> web.Response:
        if isinstance(outcome, OpenedSession):
            return self._signed_in(outcome)
        return self._login_page(
            request,
            _,
            status=_LOGIN_REFUSALS[outcome],
            message=f"web.account.{outcome.value}",
            login_name=login_name,
            ticket=ticket if outcome is LoginRefusal.WRONG_CODE else None,
        )

    # -- the setup link ---------------------------------------------------------------

    async def setup_form(self, request: web.Request) -> web.StreamResponse:
        board = self.dashboard
        async with board.uow() as uow:
            found = await setup_account(uow, request.match_info["token"], now=board.clock())
        return self._setup_page(request, found, None)

    async def setup(self, request: web.Request) -> web.StreamResponse:
        board = self.dashboard
        form = await request.post()
        token = request.match_info["token"]
        async with board.uow() as uow:
            done = await set_password(
                uow,
                token,
                _text(form, "password"),
                _text(form, "repeated"),
                now=board.clock(),
            )
            if isinstance(done, PasswordRefusal) and done not in (
                PasswordRefusal.LINK_INVALID,
                PasswordRefusal.LINK_EXPIRED,
            ):
                return self._setup_page(
                    request, await setup_account(uow, token, now=board.clock()), done
                )
        if isinstance(done, PasswordRefusal):
            return self._setup_page(request, done, None)
        _ = board.gettext(request, None)
        return self._login_page(request, _, message="web.account.setup_done")

    def _setup_page(
        self, request: web.Request, found: Any, problem: PasswordRefusal | None
    ) -> web.Response:
        board = self.dashboard
        _ = board.gettext(request, None)
        if isinstance(found, PasswordRefusal):
            status = 410 if found is PasswordRefusal.LINK_EXPIRED else 404
            return board.refusal(
                request, _, f"web.account.refusal.{found.value}", status, hint=False, also=None
            )
        # A setup link needs no form token: the link itself is the secret a forger lacks.
        return board.page(
            request,
            "setup.html.j2",
            _,
            status=400 if problem is not None else 200,
            account=found,
            problem=f"web.account.refusal.{problem.value}" if problem is not None else None,
        )

    # -- the account page: the password, TOTP -------------------------------------------

    async def account_page(self, request: web.Request) -> web.StreamResponse:
        board = self.dashboard
        async with board.uow() as uow:
            asked = await board.signed_in(request, uow)
            if isinstance(asked, web.Response):
                return asked
            viewer, _ = asked
            account = await account_of(uow, viewer.participant.id)
        return self._account_page(request, viewer, _, account)

    def _account_page(
        self,
        request: web.Request,
        viewer: Viewer,
        _: Gettext,
        account: StaffAccount | None,
        *,
        status: int = 200,
        message: str | None = None,
        enrolment: TotpEnrolment | None = None,
    ) -> web.Response:
        return self.dashboard.page(
            request,
            "account.html.j2",
            _,
            status=status,
            viewer=viewer,
            account=account,
            enrolment=enrolment,
            qr=qr_svg(enrolment.uri) if enrolment is not None else None,
            message=message,
            refused=status >= 400,
        )

    async def _signed_form(
        self, request: web.Request, uow: UnitOfWork
    ) -> tuple[Viewer, Gettext, Mapping[str, Any]] | web.Response:
        """A signed-in form: who posted it, in their language, and the form; or the page
        that says why not (signed out, or the form lacks the session's token)."""
        board = self.dashboard
        form = await request.post()
        asked = await board.signed_in(request, uow)
        if isinstance(asked, web.Response):
            return asked
        viewer, _ = asked
        if not form_token_ok(viewer, _text(form, "csrf_token")):
            return board.refusal(request, _, "web.bad_form", 403, hint=False, also=None)
        return viewer, _, form

    async def _signed_in_again(
        self, request: web.Request, uow: UnitOfWork, _: Gettext, done: SignedInAgain, message: str
    ) -> web.Response:
        """The account page on the browser's new session (its cookie, and its form token in
        the page's forms): the one that asked was ended with all the others."""
        board = self.dashboard
        viewer = await viewer_of(uow, done.cookie, admin_ids=board.admin_ids, now=board.clock())
        if viewer is None:  # its rights went in between: signed out, as on any other page
            return board.signed_out(request)
        account = await account_of(uow, viewer.participant.id)
        response = self._account_page(request, viewer, _, account, message=message)
        set_session_cookie(response, done.cookie, path=board.path, secure=board.secure)
        return response

    async def password_change(self, request: web.Request) -> web.StreamResponse:
        board = self.dashboard
        async with board.uow() as uow:
            posted = await self._signed_form(request, uow)
            if isinstance(posted, web.Response):
                return posted
            viewer, _, form = posted
            changed = await change_password(
                uow,
                viewer.participant.id,
                _text(form, "current"),
                _text(form, "password"),
                _text(form, "repeated"),
                address=client_address(request),
                now=board.clock(),
            )
            if isinstance(changed, SignedInAgain):
                return await self._signed_in_again(
                    request, uow, _, changed, "web.account.password_changed"
                )
            account = await account_of(uow, viewer.participant.id)
        status = 429 if changed is PasswordRefusal.LOCKED else 400
        message = f"web.account.refusal.{changed.value}"
        return self._account_page(request, viewer, _, account, status=status, message=message)

    async def totp_start(self, request: web.Request) -> web.StreamResponse:
        board = self.dashboard
        async with board.uow() as uow:
            posted = await self._signed_form(request, uow)
            if isinstance(posted, web.Response):
                return posted
            viewer, _, _form = posted
            enrolment = await start_totp(uow, viewer.participant.id)
            account = await account_of(uow, viewer.participant.id)
        return self._account_page(request, viewer, _, account, enrolment=enrolment)

    async def totp_confirm(self, request: web.Request) -> web.StreamResponse:
        board = self.dashboard
        async with board.uow() as uow:
            posted = await self._signed_form(request, uow)
            if isinstance(posted, web.Response):
                return posted
            viewer, _, form = posted
            confirmed = await confirm_totp(
                uow, viewer.participant.id, _text(form, "code"), now=board.clock()
            )
        key = "web.account.totp_confirmed" if confirmed else "web.account.totp_wrong"
        return board.refusal(request, _, key, 200 if confirmed else 400, hint=False, also=None)

    async def totp_off(self, request: web.Request) -> web.StreamResponse:
        board = self.dashboard
        async with board.uow() as uow:
            posted = await self._signed_form(request, uow)
            if isinstance(posted, web.Response):
                return posted
            viewer, _, form = posted
            done = await turn_off_totp(
                uow,
                viewer.participant.id,
                _text(form, "code"),
                address=client_address(request),
                now=board.clock(),
            )
            if isinstance(done, SignedInAgain):
                return await self._signed_in_again(
                    request, uow, _, done, "web.account.totp_turned_off"
                )
            account = await account_of(uow, viewer.participant.id)
        if isinstance(done, LoginRefusal):
            status = 429 if done is LoginRefusal.LOCKED else 400
            message = f"web.account.{done.value}"
            return self._account_page(request, viewer, _, account, status=status, message=message)
        return self._account_page(
            request, viewer, _, account, message="web.account.totp_turned_off"
        )

    # -- the admins' list ---------------------------------------------------------------

    def _base_url(self, request: web.Request) -> str:
        scheme = "https" if self.dashboard.secure else request.scheme
        return f"{scheme}://{request.host}{self.dashboard.path}"

    async def _list_page(
        self,
        request: web.Request,
        uow: UnitOfWork,
        viewer: Viewer,
        _: Gettext,
        *,
        status: int = 200,
        message: str | None = None,
        created: CreatedAccount | None = None,
    ) -> web.Response:
        board = self.dashboard
        lines = await accounts(uow, by=viewer.rights.permissions)
        if lines is None:
            return board.refusal(
                request, _, "web.account.refusal.not_admin", 403, hint=False, also=None
            )
        schools = await uow.units.of_kind(UnitKind.SCHOOL)
        classes = await uow.units.of_kind(UnitKind.CLASS)
        live = [unit for unit in [*schools, *classes] if not unit.retired]
        labels = await uow.units.display_labels(live)
        await uow.commit()
        return board.page(
            request,
            "accounts.html.j2",
            _,
            status=status,
            viewer=viewer,
            lines=lines,
            # The narrowest first: an admin account is never what a form left as it was.
            kinds=[AccountKind.TEACHER, AccountKind.COORDINATOR, AccountKind.ADMIN],
            units=sorted(((u.id, labels[u.id], u.kind.value) for u in live), key=lambda u: u[1]),
            message=message,
            status_refused=status >= 400,
            created=created,
            link=setup_link(self._base_url(request), created.setup_token) if created else None,
            zone=board.zone,
        )

    async def accounts_page(self, request: web.Request) -> web.StreamResponse:
        board = self.dashboard
        async with board.uow() as uow:
            asked = await board.signed_in(request, uow)
            if isinstance(asked, web.Response):
                return asked
            viewer, _ = asked
            return await self._list_page(request, uow, viewer, _)

    async def accounts_post(self, request: web.Request) -> web.StreamResponse:
        board = self.dashboard
        action = request.match_info["action"]
        async with board.uow() as uow:
            posted = await self._signed_form(request, uow)
            if isinstance(posted, web.Response):
                return posted
            viewer, _, form = posted
            permissions, now = viewer.rights.permissions, board.clock()
            outcome: Any
            if action == "create":
                kind = _text(form, "kind")
                unit = _text(form, "unit_id")
                outcome = await create_account(
                    uow,
                    by=permissions,
                    by_participant=viewer.participant.id,
                    display_name=_text(form, "display_name"),
                    login_name=_text(form, "login_name"),
                    kind=AccountKind(kind) if kind in set(AccountKind) else AccountKind.TEACHER,
                    unit_id=int(unit) if unit.isascii() and unit.isdigit() else None,
                    locale=viewer.participant.locale,
                    now=now,
                )
            elif action == "link":
                outcome = await issue_setup_link(
                    uow, _text(form, "login_name"), by=permissions, now=now
                )
            else:
                outcome = await disable_account(
                    uow, _text(form, "login_name"), by=permissions, now=now
                )
            if isinstance(outcome, AccountRefusal):
                status = 403 if outcome is AccountRefusal.NOT_ADMIN else 400
                if outcome is AccountRefusal.NOT_ADMIN:
                    return board.refusal(
                        request, _, "web.account.refusal.not_admin", 403, hint=False, also=None
                    )
                return await self._list_page(
                    request,
                    uow,
                    viewer,
                    _,
                    status=status,
                    message=_.plain(f"web.account.refusal.{outcome.value}"),
                )
            if isinstance(outcome, CreatedAccount):
                return await self._list_page(request, uow, viewer, _, created=outcome)
            message = _.plain("web.account.disabled_done", login=outcome.login_name)
            return await self._list_page(request, uow, viewer, _, message=message)


def add_account_routes(
    app: web.Application, dashboard: Dashboard, headers: Mapping[str, str]
) -> None:
    pages = AccountPages(dashboard, headers)
    base = dashboard.path
    app.router.add_get(f"{base}/login", pages.login_form)
    app.router.add_post(f"{base}/login", pages.login)
    app.router.add_post(f"{base}/login/code", pages.login_code)
    app.router.add_get(f"{base}/setup/{{token}}", pages.setup_form)
    app.router.add_post(f"{base}/setup/{{token}}", pages.setup)
    app.router.add_get(f"{base}/account", pages.account_page)
    app.router.add_post(f"{base}/account/totp", pages.totp_start)
    app.router.add_post(f"{base}/account/totp/confirm", pages.totp_confirm)
    app.router.add_post(f"{base}/account/totp/off", pages.totp_off)
    app.router.add_post(f"{base}/account/password", pages.password_change)
    app.router.add_get(f"{base}/accounts", pages.accounts_page)
    app.router.add_post(f"{base}/accounts/{{action:create|link|disable}}", pages.accounts_post)
