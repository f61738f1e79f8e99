"""The dashboard's cookies: the session id (HttpOnly, SameSite=Lax, Secure behind https,
limited to the dashboard's path) and the language chosen on the page."""

from __future__ import annotations

from aiohttp import web

from bot.i18n import SUPPORTED_LOCALES

SESSION_COOKIE = "pufa_session"
LANGUAGE_COOKIE = "pufa_lang"


def set_session_cookie(
    response: web.StreamResponse, value: str, *, path: str, secure: bool
) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        value,
        path=path,
        httponly=True,
        samesite="Lax",
        secure=secure,
    )


def clear_session_cookie(response: web.StreamResponse, *, path: str) -> None:
    response.del_cookie(SESSION_COOKIE, path=path)


def chosen_language(request: web.Request) -> str | None:
    """``?lang=`` on this request, else the language picked earlier on the page."""
    for value in (request.query.get("lang"), request.cookies.get(LANGUAGE_COOKIE)):
        if value in SUPPORTED_LOCALES:
            return value
    return None


def remember_language(
    request: web.Request, response: web.StreamResponse, *, path: str, secure: bool
) -> None:
    wanted = request.query.get("lang")
    if wanted in SUPPORTED_LOCALES:
        response.set_cookie(
            LANGUAGE_COOKIE, wanted, path=path, samesite="Lax", secure=secure, httponly=True
        )
