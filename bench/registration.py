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
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import postgres_database, sandbox_process
from bot.app import running_bot
from bot.config import Settings
from bot.invite_export import invite_cards
from bot.sandbox.client import SandboxClient
from bot.sandbox.config import SandboxConfig
from bot.simulation import percentile, plan_participants, register_all
from quizzes.roster import parse_roster
from storage.database import create_engine, create_session_factory
from storage.migrate import prepare_database
from storage.repositories import Repositories
from storage.roster_import import import_roster

ROOT = Path(__file__).resolve().parents[1]
ROSTER = ROOT / "bot" / "data" / "sample_roster.csv"


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

    async with sandbox_process(limits=False) as url, SandboxClient(url) as client:
        settings = Settings(
            bot_token=SandboxConfig().token,
            bot_api_url=url,
            database_url=database_url,
            # The sandbox's limits are off, so is the bot's pacing: the bot is measured.
            broadcast_rate=100_000,
        )
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


async def with_postgres_database(participants: int, concurrency: int) -> dict[str, float]:
    async with postgres_database() as url:
        return await measure(url, participants, concurrency)


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
