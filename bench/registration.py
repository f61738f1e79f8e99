"""Registrations per second through the sandbox over HTTP, on SQLite and PostgreSQL.

Each simulated participant taps an invite link, answers the name question and waits for
the welcome, exactly as in the demo; the bot long-polls the sandbox as in production.
The sandbox runs in a process of its own with its rate limits off, so the figure is the
bot's own ceiling (bot and simulated users share this process), not Telegram's.

    python bench/registration.py [--quick] [--participants N] [--concurrency C]

The last line printed is one JSON object:
    {"sqlite": {"per_s": ..., "p50_ms": ..., "p99_ms": ..., "idle_p50_ms": ...},
     "postgresql": {...}, "participants": ..., "concurrency": ...}
p50/p99 are taken under load (``--concurrency`` registrations in flight at once);
idle_p50_ms is one registration at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.app import prepare_database, running_bot
from bot.config import Settings
from bot.invite_export import invite_cards
from bot.sandbox.client import SandboxClient
from bot.sandbox.config import SandboxConfig
from bot.simulation import percentile, plan_participants, register_all
from quizzes.roster import parse_roster
from storage.database import create_engine, create_session_factory
from storage.repositories import Repositories
from storage.roster_import import import_roster

ROOT = Path(__file__).resolve().parents[1]
ROSTER = ROOT / "bot" / "data" / "sample_roster.csv"
POSTGRES_URL = os.environ.get(
    "PUFA_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


async def measure(database_url: str, participants: int, concurrency: int) -> dict[str, float]:
    engine = create_engine(database_url)
    await prepare_database(engine)
    session_factory = create_session_factory(engine)
    rows = parse_roster(ROSTER.read_bytes(), ROSTER.name)
    async with session_factory() as session:
        await import_roster(session, rows, "第七师")
        cards = await invite_cards(Repositories.over(session), "pufa_sandbox_bot")
        await session.commit()
    await engine.dispose()
    invites = [(card.code, 0) for card in cards]
    people = plan_participants(invites, participants)

    async with sandbox_process() as (url, token), SandboxClient(url) as client:
        settings = Settings(bot_token=token, bot_api_url=url, database_url=database_url)
        async with running_bot(settings, migrate=False):
            # Warm up connections and caches with a few registrations outside the timing.
            warm = plan_participants(invites, 5, first_id=6_000_000_000)
            await register_all(client, warm, concurrency=5)
            # One at a time: the latency a student sees when the bot is otherwise idle.
            alone = plan_participants(invites, 20, first_id=6_100_000_000)
            idle = await register_all(client, alone, concurrency=1)
            started = time.perf_counter()
            latencies = await register_all(client, people, concurrency=concurrency)
            elapsed = time.perf_counter() - started
    return {
        "per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "idle_p50_ms": round(percentile(idle, 0.50) * 1000, 1),
    }


@contextlib.asynccontextmanager
async def sandbox_process() -> AsyncIterator[tuple[str, str]]:
    """The sandbox in a process of its own, as Telegram is: it must not share our CPU."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from bot.cli import main; main()",
        "sandbox",
        "--port",
        str(port),
        "--no-limits",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        await asyncio.wait_for(process.stdout.readline(), 30)  # "listening on ..."
        yield f"http://127.0.0.1:{port}", SandboxConfig().token
    finally:
        process.terminate()
        await process.wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def with_postgres_database(participants: int, concurrency: int) -> dict[str, float]:
    name = f"pufa_bench_{uuid.uuid4().hex[:8]}"
    admin = make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(False)
    connection = await asyncpg.connect(admin)
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    try:
        url = make_url(POSTGRES_URL).set(database=name).render_as_string(False)
        return await measure(url, participants, concurrency)
    finally:
        connection = await asyncpg.connect(admin)
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small run, under a minute")
    parser.add_argument("--participants", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    participants = args.participants or (300 if args.quick else 2000)

    result: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        result["sqlite"] = await measure(url, participants, args.concurrency)
        print(f"sqlite: {result['sqlite']}", file=sys.stderr, flush=True)
    result["postgresql"] = await with_postgres_database(participants, args.concurrency)
    print(f"postgresql: {result['postgresql']}", file=sys.stderr, flush=True)
    result["participants"] = participants
    result["concurrency"] = args.concurrency
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
