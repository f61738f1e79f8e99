"""The staff dashboard under load while a school answers, on PostgreSQL.

A large division is written straight into a scratch database (bench/report.py's fill:
100,000 participants in the sample roster's schools, 100,000 attempts with 1,000,000
answers), moved in time so that one of its campaigns is open today. Then, as in
production, three processes: the sandbox (Telegram, rate limits off), the bot (long
polling the sandbox and serving the dashboard on its web server) and this one, which

- has 1,400 participants of an open campaign answer at 140 answers/s through the sandbox
  (bench/quiz_load.py's paced run: one answer timed from the press to the next question);
- meanwhile keeps 20 staff sessions (logged in with one-time links, as /web gives them)
  asking for pages back to back with a pause of ``--think`` seconds: half the overview of
  the whole division, half a school's page (ten schools), each timed from request to the
  whole page. A session's first page is counted apart (``first_page``): it may wait for
  figures nobody had asked for yet, which later pages find kept.

    python bench/dashboard.py [--quick] [--refresh S] [--participants N] [--answers N]
                              [--duration S] [--think S]

``--refresh`` is the bot's PUFA_DASHBOARD_REFRESH_S (default 10; 0 computes the figures
for every page, for comparison). ``--quick`` is a tenth of the database and a smaller,
shorter answering run (under a minute). The last line printed is one JSON object:
    {"overview": {"p50_ms", "p95_ms", "pages"}, "school": {...}, "first_page": {...},
     "answers_p99_ms",
     "answers_per_s", "offered_per_s", "refresh_s", "participants", "answers",
     "answer_errors", "page_errors"}
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg
from sqlalchemy import DateTime, select
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import free_port, postgres_database
from bench.quiz_load import (
    Participant,
    child,
    cpu_seconds,
    open_quiz,
    paced,
    populate,
    serve_until_stopped,
    summary,
)
from bench.report import ROSTER, ZONE, Writer, fill
from bot.sandbox.client import SandboxClient
from bot.sandbox.config import SandboxConfig
from bot.simulation import percentile
from quizzes.roster import parse_roster
from quizzes.units import UnitKind
from storage.database import create_engine, create_session_factory
from storage.migrate import prepare_database
from storage.models import Base, ParticipantRow
from storage.repositories import Repositories
from storage.roster_import import import_roster

ADMIN_TELEGRAM_ID = 6_900_000_001
FIRST_ANSWERING_ID = 7_500_000_000
# bench/report.py's fill writes 2022; its second campaign (July to 28 December) is open on
# this day of it, which becomes today.
FILLED_TODAY = datetime(2022, 12, 1, 12, tzinfo=ZONE)


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------- the database


async def division(database_url: str, participants: int, answers: int) -> tuple[int, list[int]]:
    """The large division, moved to today, and the staff member who watches it. Returns
    the admin's participant id and the schools' ids."""
    engine = create_engine(database_url)
    await prepare_database(engine)
    session_factory = create_session_factory(engine)
    async with session_factory() as session:
        await import_roster(session, parse_roster(ROSTER.read_bytes(), ROSTER.name), "第七师")
        await session.commit()
        repo = Repositories.over(session)
        schools = [u.id for u in await repo.units.of_kind(UnitKind.SCHOOL)]
        units = [u.id for u in await repo.units.of_kind(UnitKind.CLASS)] + schools
        root = (await repo.units.roots())[0]
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    connection = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        await fill(Writer(connection), units, participants, answers)
        shift = datetime.now(UTC) - FILLED_TODAY
        await _move_in_time(connection, shift)
        await _continue_sequences(connection)
        # Moving in time rewrote every row: without this, autovacuum would clean up the
        # dead half of the large tables during the measured minute, and every query would
        # read past it until then. A live database is not half dead tuples.
        await connection.execute("VACUUM ANALYZE")
        log(f"filled and moved {shift.days} days forward in {time.perf_counter() - started:.1f} s")
    finally:
        await connection.close()
    async with session_factory() as session:
        session.add(
            ParticipantRow(
                telegram_id=ADMIN_TELEGRAM_ID,
                display_name="教育局",
                role="teacher",
                unit_id=root.id,
                locale="zh-CN",
                subscribed=True,
                first_seen_at=datetime.now(UTC),
                joined_at=datetime.now(UTC),
            )
        )
        await session.commit()
        admin = await session.scalar(
            select(ParticipantRow.id).where(ParticipantRow.telegram_id == ADMIN_TELEGRAM_ID)
        )
    await engine.dispose()
    assert admin is not None
    return admin, schools


async def _move_in_time(connection: asyncpg.Connection, shift: timedelta) -> None:
    """Every moment in every table, ``shift`` later (the fill writes 2022)."""
    for table in Base.metadata.sorted_tables:
        moments = [c.name for c in table.columns if isinstance(c.type, DateTime)]
        if moments:
            assignments = ", ".join(f"{name} = {name} + $1::interval" for name in moments)
            await connection.execute(f"UPDATE {table.name} SET {assignments}", shift)


async def _continue_sequences(connection: asyncpg.Connection) -> None:
    """The fill wrote its own ids: each table's id sequence continues after them."""
    for table in Base.metadata.sorted_tables:
        if "id" in table.columns and table.columns["id"].primary_key:
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'),"
                f" GREATEST((SELECT max(id) FROM {table.name}), 1))"
            )


# ---------------------------------------------------------------------- the bot


async def serve(
    api_url: str,
    database_url: str,
    port: int,
    refresh: int,
    profile: str | None,
    *,
    receive_updates: bool = True,
) -> None:
    from bot.app import running_bot
    from bot.config import Settings

    settings = Settings(
        bot_token=SandboxConfig().token,
        bot_api_url=api_url,
        database_url=database_url,
        listen_port=port,
        public_url=f"http://127.0.0.1:{port}",
        admin_ids=frozenset({ADMIN_TELEGRAM_ID}),
        dashboard_refresh_s=refresh,
        broadcast_rate=100_000,  # the sandbox's limits are off: the bot is what is measured
        receive_updates=receive_updates,
    )
    async with running_bot(settings, migrate=False):
        await serve_until_stopped(profile)


# ---------------------------------------------------------------------- staff pages


@dataclass
class Pages:
    latencies: dict[str, list[float]] = field(
        default_factory=lambda: {"overview": [], "school": []}
    )
    # Each session's first page: the figures of a unit nobody has looked at yet are
    # computed while that page waits, so they are counted apart.
    first: list[float] = field(default_factory=list)
    errors: int = 0


async def staff_session(
    base: str, admin: int, path: str, kind: str, pages: Pages, until: float, think: float
) -> None:
    """One member of staff: logs in with a fresh one-time link, then asks for ``path``
    again and again until ``until``."""
    from bot.application.dashboard import LINK_LIFETIME, login_key, sign_login_token

    token = sign_login_token(
        login_key(SandboxConfig().token),
        admin,
        datetime.now(UTC) + LINK_LIFETIME,
        secrets.token_urlsafe(12),
    )
    jar = aiohttp.CookieJar(unsafe=True)  # cookies of 127.0.0.1, as a browser keeps them
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.get(f"{base}/admin/login/{token}") as login:
            if login.status != 200:
                raise RuntimeError(f"login refused: {login.status}")
        first = True
        while time.perf_counter() < until:
            started = time.perf_counter()
            async with http.get(f"{base}{path}") as page:
                await page.read()
                if page.status != 200:
                    pages.errors += 1
                    continue
            (pages.first if first else pages.latencies[kind]).append(time.perf_counter() - started)
            first = False
            await asyncio.sleep(think)


def page_figures(latencies: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
        "pages": len(latencies),
    }


# ---------------------------------------------------------------------- the run


async def run(args: argparse.Namespace) -> dict[str, object]:
    scale = 10 if args.quick else 1
    participants = args.participants or 100_000 // scale
    answers = args.answers or 1_000_000 // scale
    answering = 200 if args.quick else 1_400
    interval = 5.0 if args.quick else 10.0
    duration = args.duration or (15.0 if args.quick else 60.0)
    async with postgres_database() as database_url:
        admin, schools = await division(database_url, participants, answers)
        # The answering school: its own campaign open now, its participants registered.
        await populate(database_url, answering, FIRST_ANSWERING_ID)
        port = free_port()

        def bot_command(on_port: int, *more: str) -> list[str]:
            command = [str(Path(__file__).resolve()), "--serve", "--database-url", database_url]
            command += ["--port", str(on_port), "--refresh", str(args.refresh)]
            if args.profile:
                command += ["--profile", args.profile]
            return [*command, *more]

        sandbox_port = free_port()
        sandbox = ("-c", "from bot.cli import main; main()", "sandbox", "--port")
        async with child(*sandbox, str(sandbox_port), "--no-limits", ready="listening on"):
            api_url = f"http://127.0.0.1:{sandbox_port}"
            async with (
                child(*bot_command(port, "--api-url", api_url), ready="ready") as bot,
                aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http,
            ):
                client = SandboxClient(api_url, session=http)
                people = [Participant(FIRST_ANSWERING_ID + n) for n in range(answering)]
                gate = asyncio.Semaphore(50)

                async def opened(person: Participant) -> None:
                    async with gate:
                        await open_quiz(client, person, bare=False)

                await asyncio.gather(*(opened(person) for person in people))
                log(f"{answering} participants opened the quiz")
                pages_port = port
                web_process = contextlib.AsyncExitStack()
                if args.web_process:  # the pages from a process of their own
                    pages_port = free_port()
                    web_only = bot_command(pages_port, "--api-url", api_url, "--web-only")
                    await web_process.enter_async_context(child(*web_only, ready="ready"))
                base = f"http://127.0.0.1:{pages_port}"
                pages = Pages()
                until = time.perf_counter() + duration
                staff = [
                    staff_session(base, admin, "/admin/", "overview", pages, until, args.think)
                    for _ in range(args.sessions // 2)
                ]
                staff += [
                    staff_session(
                        base,
                        admin,
                        f"/admin/units/{schools[n % len(schools)]}",
                        "school",
                        pages,
                        until,
                        args.think,
                    )
                    for n in range(args.sessions - args.sessions // 2)
                ]
                cpu = cpu_seconds(bot.pid)
                answering_run = asyncio.create_task(paced(client, people, interval, duration))
                await asyncio.gather(*staff)
                tally, elapsed = await answering_run
                answered = summary(tally, elapsed, cpu_seconds(bot.pid) - cpu)
                await web_process.aclose()
    log(f"answers: {answered}")
    return {
        "overview": page_figures(pages.latencies["overview"]),
        "school": page_figures(pages.latencies["school"]),
        "first_page": page_figures(pages.first),
        "answers_p99_ms": answered["p99_ms"],
        "answers_per_s": answered["answers_per_s"],
        "offered_per_s": round(answering / interval, 1),
        "refresh_s": args.refresh,
        "web_process": args.web_process,
        "participants": participants,
        "answers": answers,
        "answer_errors": answered["errors"],
        "page_errors": pages.errors,
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the size, under a minute")
    parser.add_argument("--refresh", type=int, default=10, help="PUFA_DASHBOARD_REFRESH_S")
    parser.add_argument("--participants", type=int, default=None)
    parser.add_argument("--answers", type=int, default=None)
    parser.add_argument("--duration", type=float, default=None, help="seconds of answering")
    parser.add_argument("--sessions", type=int, default=20, help="staff sessions")
    parser.add_argument("--think", type=float, default=1.0, help="seconds between pages")
    parser.add_argument("--profile", default="", help="write the bot's cProfile stats here")
    parser.add_argument(
        "--web-process",
        action="store_true",
        help="serve the pages from a second bot process that takes no updates",
    )
    parser.add_argument("--web-only", action="store_true", help=argparse.SUPPRESS)
    # The bot process (started by the run itself).
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--api-url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.serve:
        asyncio.run(
            serve(
                args.api_url,
                args.database_url,
                args.port,
                args.refresh,
                args.profile or None,
                receive_updates=not args.web_only,
            )
        )
        return
    result = asyncio.run(run(args))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
