"""Certificate verification: ``/verify CODE`` in chat and ``GET /v/<code>`` on the web, for
whoever holds a printed certificate (a teacher, a parent, a school office).

Both say the same: serial number, campaign, the holder's display name, band and date. The
real name only ever goes to staff in chat; the web page is public and never shows it.
"""

from __future__ import annotations

import html
import logging
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import Gettext
from bot.log_limits import LogLimit, left_out_note
from quizzes.certificates import VerifiedCertificate, grouped, normalize_verification_code
from storage.quiz import CertificateNames

log = logging.getLogger(__name__)

VERIFY_ROUTE = "/v/{code}"
SESSION_FACTORY = web.AppKey("verify_session_factory", async_sessionmaker[AsyncSession])
GETTEXT = web.AppKey("verify_gettext", Gettext)
ZONE = web.AppKey("verify_zone", ZoneInfo)
LOG_LIMIT = web.AppKey("verify_log_limit", LogLimit)


def describe(found: VerifiedCertificate, _: Gettext, zone: ZoneInfo, *, real_name: bool) -> str:
    """Plain text (not escaped); ``real_name``: the asker is staff."""
    name = found.display_name or _.plain("certificate.verify_no_name")
    if real_name and found.real_name:
        name = _.plain("certificate.verify_staff_name", real=found.real_name, display=name)
    day = found.passed_at.astimezone(zone).date()
    return _.plain(
        "certificate.verify_found",
        serial=found.certificate.serial,
        campaign=found.campaign,
        name=name,
        band=_.plain(f"certificate.band_{found.certificate.band.value}"),
        date=_.plain("certificate.date", year=day.year, month=day.month, day=day.day),
    )


def verify_url(base: str, code: str) -> str:
    return f"{base}/v/{code}"


def _page(_: Gettext, text: str, status: int) -> web.Response:
    body = "<br>\n".join(html.escape(line) for line in text.splitlines())
    title = html.escape(_.plain("certificate.verify_page_title"))
    return web.Response(
        status=status,
        content_type="text/html",
        charset="utf-8",
        text=(
            f'<!doctype html>\n<html lang="{_.locale}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{title}</title></head>\n<body><h1>{title}</h1>\n<p>{body}</p></body></html>\n"
        ),
    )


async def verify_page(request: web.Request) -> web.Response:
    _ = request.app[GETTEXT]
    typed = request.match_info["code"]
    code = normalize_verification_code(typed)
    found = None
    if code is not None:
        async with request.app[SESSION_FACTORY]() as session:
            try:
                found = await CertificateNames(session).verify(code)
            except Exception:  # the database is down: say so, once a minute
                if (left_out := request.app[LOG_LIMIT].allow("database")) is not None:
                    log.error(
                        "certificate check: database not readable" + left_out_note(left_out),
                        exc_info=True,
                    )
                raise web.HTTPServiceUnavailable(text="try again later") from None
    if found is None:
        shown = grouped(code) if code else typed[:16]
        return _page(_, _.plain("certificate.verify_unknown", code=shown), 404)
    return _page(_, describe(found, _, request.app[ZONE], real_name=False), 200)


def add_verification_routes(
    app: web.Application,
    session_factory: async_sessionmaker[AsyncSession],
    _: Gettext,
    zone: ZoneInfo,
) -> None:
    app[SESSION_FACTORY] = session_factory
    app[GETTEXT] = _
    app[ZONE] = zone
    app[LOG_LIMIT] = LogLimit()
    app.router.add_get(VERIFY_ROUTE, verify_page)
