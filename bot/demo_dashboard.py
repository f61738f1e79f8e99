"""The demo's chapter on the staff dashboard: the bureau's admin asks for a login link
with /web, the link opens a session, and the overview's figures for the year are the
report's. At the end the demo prints the dashboard's address and a fresh link."""

from __future__ import annotations

import re
from collections.abc import Callable

import aiohttp

from bot.app import BotApp
from bot.sandbox.client import SandboxClient
from quizzes.statistics import Statistics

_LINK = re.compile(r"https?://\S+/login/\S+")
# The overview's columns that the report also counts, as (JSON key, what a reader calls it).
COMPARED = (
    ("registered", "registered"),
    ("took_part", "took part"),
    ("completed", "completed"),
    ("passed", "passed"),
)


async def login_link(client: SandboxClient, admin_id: int) -> str:
    """The link /web gives the bureau's admin in the sandbox chat."""
    reply = await client.say(admin_id, "/web")
    found = _LINK.search(str(reply.get("text", "")))
    if found is None:
        raise LookupError(f"no login link in {reply.get('text', '')[:80]!r}")
    return found.group(0)


async def run_dashboard_chapter(
    app: BotApp,
    client: SandboxClient,
    admin_id: int,
    report: Statistics,
    say: Callable[[str], None],
) -> bool:
    """Log in as the admin through a /web link and compare the overview's year-to-date
    totals with the report's. True when every figure matches."""
    link = await login_link(client, admin_id)
    base = f"{app.settings.link_base}{app.settings.admin_path}"
    # The demo serves on 127.0.0.1: cookies for an IP address need the unsafe jar.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as web:
        async with web.get(link) as page:
            # A good link sets the session cookie and redirects to the overview.
            opened = page.status == 200 and page.url.path == f"{app.settings.admin_path}/"
        async with web.get(f"{base}/api/overview") as answer:
            overview = await answer.json() if answer.status == 200 else {}
        async with web.get(link) as again:
            reused_refused = again.status == 410
    say(f"  the admin's /web link opens the dashboard: {'yes' if opened else 'NO'}")
    say(f"  the same link a second time is refused: {'yes' if reused_refused else 'NO'}")
    year = next((s for s in overview.get("sections", []) if s.get("key") == "period"), None)
    if year is None:
        say("  the overview has no year-to-date section: FAILED")
        return False
    total = year["total"]
    expected = {
        "registered": report.total.registered.total,
        "took_part": report.total.took_part.total,
        "completed": report.total.completed,
        "passed": report.total.passed,
    }
    ok = opened and reused_refused
    for key, label in COMPARED:
        same = total[key] == expected[key]
        ok &= same
        verdict = "same as the report" if same else f"REPORT SAYS {expected[key]}"
        say(f"  overview, {label}: {total[key]} ({verdict})")
    return ok
