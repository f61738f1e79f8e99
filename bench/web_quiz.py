"""Quiz answering on the participant pages (/m/) under load, through real HTTP on
PostgreSQL, beside the chat's own path on the same host.

Three processes, as in production: the sandbox (Telegram, limits off), the bot under test
(long polling the sandbox and serving its web pages) and the simulated phones (this
process). Before the bot starts, the bank, an open campaign and the participants with
their attempts are written straight into the database (bench.quiz_load's world), then
made web participants: no Telegram id, no chat, one device token each.

One answer is timed from the form's POST to the next question's page (the POST's 303
and the GET it leads to: the round trip a phone makes), paced: every participant
answers every ``--interval`` seconds (1,400 every 10 s is 140 answers/s offered). The
chat's path is then measured the same way on the same host (bench.quiz_load's paced
run, from the press to the bot's edit in the sandbox): ``bot_path_p99_ms``.

    python bench/web_quiz.py [--quick] [--participants N] [--duration S] [--interval S]
                             [--web-only] [--profile FILE]

``--web-only`` skips the chat's run; ``--profile FILE`` writes a cProfile of the bot
process while it serves the pages.

The last line printed is one JSON object:
    {"answers_per_s": ..., "p50_ms": ..., "p99_ms": ..., "offered_per_s": ...,
     "errors": ..., "bot_cpu_ms": ..., "bot_path_p99_ms": ..., "participants": ...}
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import free_port, postgres_database
from bench.quiz_load import (
    Plan,
    child,
    cpu_seconds,
    log,
    populate,
    run,
    sandbox_process,
    serve_until_stopped,
)
from bot.sandbox.config import SandboxConfig
from bot.simulation import percentile

FIRST_ID = 7_400_000_000
SIG = re.compile(r'name="sig" value="([^"]+)"')
SEQ = re.compile(r'name="seq" value="(\d+)"')
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def make_web_participants(database_url: str) -> list[tuple[int, str]]:
    """The populated participants as web ones: (attempt id, device token) of each."""
    from sqlalchemy import insert, select, update

    from storage.database import create_engine, create_session_factory
    from storage.models import ParticipantRow
    from storage.models_quiz import AttemptRow
    from storage.models_web_identity import WebDeviceRow

    engine = create_engine(database_url)
    session_factory = create_session_factory(engine)
    now = datetime.now(UTC)
    async with session_factory() as session:
        rows = (
            await session.execute(
                select(AttemptRow.id, AttemptRow.participant_id).order_by(AttemptRow.id)
            )
        ).all()
        tokens = [f"{index:043d}" for index in range(len(rows))]  # the cookie's shape
        devices = [
            {
                "participant_id": participant_id,
                "token_hash": hashlib.sha256(token.encode()).hexdigest(),
                "created_at": now,
                "last_seen_at": now,
            }
            for (_attempt, participant_id), token in zip(rows, tokens, strict=True)
        ]
        await session.execute(insert(WebDeviceRow), devices)
        await session.execute(update(ParticipantRow).values(telegram_id=None))
        await session.execute(update(AttemptRow).values(chat_id=None))
        await session.commit()
    await engine.dispose()
    return [(attempt_id, token) for (attempt_id, _pid), token in zip(rows, tokens, strict=True)]


async def serve(api_url: str, database_url: str, port: int, profile: str | None) -> None:
    from bot.app import running_bot
    from bot.config import Settings

    settings = Settings(
        bot_token=SandboxConfig().token,
        bot_api_url=api_url,
        database_url=database_url,
        listen_port=port,
        broadcast_rate=100_000,
    )
    async with running_bot(settings, migrate=False):
        if profile is None:
            await serve_until_stopped(None)
            return
        import cProfile

        # CPU time, not wall time: the bot waiting for PostgreSQL or for the
        # host's other processes is not what a round trip costs it.
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        await serve_until_stopped(None)
        profiler.disable()
        profiler.dump_stats(profile)


@dataclass
class Phone:
    attempt_id: int
    token: str
    form: dict[str, str] = field(default_factory=dict)


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0


def form_of(page: str, csrf: str) -> dict[str, str] | None:
    sig, seq = SIG.search(page), SEQ.search(page)
    if sig is None or seq is None:
        return None
    return {"csrf_token": csrf, "sig": sig.group(1), "seq": seq.group(1)}


async def open_page(http: aiohttp.ClientSession, base: str, phone: Phone) -> None:
    cookies = {"pufa_participant": phone.token}
    async with http.get(f"{base}/m/attempts/{phone.attempt_id}", cookies=cookies) as page:
        text = await page.text()
    csrf = CSRF.search(text)
    form = form_of(text, csrf.group(1)) if csrf else None
    if form is None:
        raise RuntimeError(f"attempt {phone.attempt_id}: no question page ({page.status})")
    phone.form = form


async def answer(
    http: aiohttp.ClientSession, base: str, phone: Phone, rng: random.Random, tally: Tally
) -> None:
    """POST the chosen option, then GET the page it redirects to: the next question."""
    cookies = {"pufa_participant": phone.token}
    data = {**phone.form, "option": str(rng.randrange(4))}
    began = time.perf_counter()
    try:
        async with http.post(
            f"{base}/m/attempts/{phone.attempt_id}", data=data, cookies=cookies
        ) as page:  # follows the 303 to the next question's page
            text = await page.text()
    except aiohttp.ClientError:
        tally.errors += 1
        return
    form = form_of(text, phone.form["csrf_token"])
    if form is None or form["seq"] == phone.form["seq"]:
        tally.errors += 1
        return
    tally.latencies.append(time.perf_counter() - began)
    phone.form = form


async def paced(
    http: aiohttp.ClientSession,
    base: str,
    phones: Sequence[Phone],
    interval: float,
    duration: float,
) -> tuple[Tally, float]:
    tally = Tally()
    rng = random.Random(7)
    begin = time.perf_counter()
    last = 0.0

    async def one(phone: Phone, offset: float) -> None:
        nonlocal last
        at = offset
        while at < duration:
            delay = begin + at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            last = max(last, time.perf_counter() - begin)
            await answer(http, base, phone, rng, tally)
            at += interval

    await asyncio.gather(*(one(phone, rng.uniform(0, interval)) for phone in phones))
    return tally, max(duration, last)


async def web_run(
    api_url: str, participants: int, interval: float, duration: float, profile: str | None
) -> dict[str, float]:
    async with postgres_database() as url:
        phase = time.perf_counter()
        await populate(url, participants, FIRST_ID)
        phones = [Phone(a, t) for a, t in await make_web_participants(url)]
        log(f"web: database ready in {time.perf_counter() - phase:.1f} s")
        port = free_port()
        command = [str(Path(__file__).resolve()), "--serve", api_url, url, str(port)]
        if profile:
            command += ["--profile", profile]
        connector = aiohttp.TCPConnector(limit=0)
        async with (
            child(*command, ready="ready") as process,
            aiohttp.ClientSession(connector=connector) as http,
        ):
            base = f"http://127.0.0.1:{port}"
            gate = asyncio.Semaphore(50)

            async def opened(phone: Phone) -> None:
                async with gate:
                    await open_page(http, base, phone)

            await asyncio.gather(*(opened(phone) for phone in phones))
            cpu = cpu_seconds(process.pid)
            tally, elapsed = await paced(http, base, phones, interval, duration)
            answers = len(tally.latencies)
            return {
                "answers_per_s": round(answers / elapsed, 1),
                "p50_ms": round(percentile(tally.latencies, 0.50) * 1000, 1),
                "p99_ms": round(percentile(tally.latencies, 0.99) * 1000, 1),
                "offered_per_s": round(participants / interval, 1),
                "errors": tally.errors,
                "bot_cpu_ms": round((cpu_seconds(process.pid) - cpu) * 1000 / max(answers, 1), 2),
            }


async def main(args: argparse.Namespace) -> None:
    participants = args.participants or (100 if args.quick else 1400)
    duration = args.duration or (4.0 if args.quick else 60.0)
    async with sandbox_process() as api_url:
        result = await web_run(api_url, participants, args.interval, duration, args.profile)
        log(f"web: {result}")
        if not args.web_only:
            plan = Plan(participants, args.interval, duration, 0.5, 10, None)
            async with postgres_database() as url:
                chat = await run(api_url, "ours", url, plan, FIRST_ID)
            log(f"chat: {chat}")
            result["bot_path_p99_ms"] = chat["p99_ms"]
    result["participants"] = participants
    print(json.dumps(result))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small run, under a minute")
    parser.add_argument("--participants", type=int, default=None)
    parser.add_argument("--interval", type=float, default=10.0, help="s between answers")
    parser.add_argument("--duration", type=float, default=None, help="paced run, s")
    parser.add_argument("--web-only", action="store_true", help="skip the chat's run")
    parser.add_argument("--profile", default=None, help="cProfile of the bot to this file")
    # Internal: this file also runs the bot under test in its own process.
    parser.add_argument("--serve", nargs=3, metavar=("API", "DB", "PORT"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.serve:
        api, database, listen = arguments.serve
        asyncio.run(serve(api, database, int(listen), arguments.profile))
    else:
        asyncio.run(main(arguments))
