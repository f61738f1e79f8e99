"""Broadcast throughput through the sandbox over HTTP: under Telegram's limits, and the
broadcaster's own ceiling with the limits off.

The sandbox runs in a process of its own (as Telegram is: it must not share this
process's CPU); the broadcaster runs here, exactly as in the bot, writing every answer
to the database.

- limited: the sandbox allows ``limit`` messages/s in bulk (30 and 300), with 0 and
  100 ms added to every request; the broadcaster is set to 99% of the limit. Reported:
  deliveries per second from starting the broadcast until every delivery is recorded,
  that over the limit, and the 429s provoked.
- ceiling: limits off, rate unbounded: deliveries recorded per second on SQLite and on
  PostgreSQL.

    python bench/broadcast.py [--quick] [--concurrency C]

The last line printed is one JSON object:
    {"limited": [{"limit_per_s": 30, "latency_ms": 100, "achieved_per_s": ..., "ratio": ...,
                  "http_429": ...}, ...],
     "ceiling": {"sqlite": {"per_s": ...}, "postgresql": {"per_s": ...}},
     "peak_rss_mb": ...}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from aiogram import Bot
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import postgres_database, sandbox_process
from bot.broadcaster import Broadcaster
from bot.config import Settings
from bot.i18n import Translator
from bot.sandbox.client import SandboxClient
from bot.sandbox.config import SandboxConfig
from bot.services import ServiceContext
from storage.database import create_engine, create_session_factory
from storage.migrate import prepare_database
from storage.models import ParticipantRow
from storage.models_publicity import DeliveryRow
from storage.publicity import PublicityRepository

FIRST_ID = 50_000_000
# The broadcaster's rate as a share of the sandbox's limit (PUFA_BROADCAST_RATE would be
# set the same way against a known limit; the default 25/s leaves Telegram's 30/s room).
RATE_SHARE = 0.99
BODY = (
    "宪法是国家的根本法，是治国安邦的总章程。<b>尊崇宪法、学习宪法、遵守宪法、维护宪法、"
    "运用宪法</b>，从我做起。"
)


async def register_users(client: SandboxClient, count: int) -> None:
    semaphore = asyncio.Semaphore(64)

    async def one(telegram_id: int) -> None:
        async with semaphore:
            await client.register_user(telegram_id, started=True)

    await asyncio.gather(*(one(FIRST_ID + i) for i in range(count)))


async def prepare(database_url: str, people: int) -> async_sessionmaker[AsyncSession]:
    engine = create_engine(database_url)
    await prepare_database(engine)
    session_factory = create_session_factory(engine)
    now = datetime.now(UTC)
    rows = [
        {
            "telegram_id": FIRST_ID + i,
            "display_name": f"学生{i}",
            "role": "student",
            "locale": "zh-CN",
            "subscribed": True,
            "first_seen_at": now,
            "joined_at": now,
        }
        for i in range(people)
    ]
    async with session_factory() as session:
        for start in range(0, len(rows), 5000):
            await session.execute(insert(ParticipantRow), rows[start : start + 5000])
        await session.commit()
    return session_factory


async def broadcast_once(
    session_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    rate: float,
    concurrency: int,
    limit: int | None,
) -> tuple[int, float]:
    """One broadcast to the first ``limit`` participants (all when None): (sent, seconds),
    timed from starting the broadcast until every delivery is recorded."""
    context = ServiceContext(settings, session_factory, Bot(settings.token), Translator.load())
    broadcaster = Broadcaster(context, rate=rate, concurrency=concurrency)
    async with session_factory() as session:
        repo = PublicityRepository(session)
        article = await repo.create_article(
            title="国家宪法日",
            body=BODY,
            author_id=1,
            link="https://example.org/constitution-day",
        )
        await repo.commit()
    async with session_factory() as session:  # this run's recipients: the first `limit`
        subscribed = ParticipantRow.telegram_id < FIRST_ID + (limit or 10**12)
        await session.execute(update(ParticipantRow).values(subscribed=subscribed))
        await session.commit()
    await broadcaster.start()
    try:
        started = time.perf_counter()
        broadcast = await broadcaster.start_broadcast(
            article.id, created_by=1, locale="zh-CN", progress_chat_id=None
        )
        finished = await broadcaster.wait_until_finished(broadcast.id, timeout=600)
        elapsed = time.perf_counter() - started
    finally:
        await broadcaster.stop()
    assert finished.state.value == "done", finished
    async with session_factory() as session:
        rows = await session.scalar(
            select(func.count()).where(
                DeliveryRow.broadcast_id == broadcast.id, DeliveryRow.status == "sent"
            )
        )
    return int(rows or 0), elapsed


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small runs, under a minute")
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    seconds = 7 if args.quick else 30
    ceiling_people = 3000 if args.quick else 20_000
    limits = (30, 300)
    people = max(ceiling_people, max(limits) * seconds)

    result: dict[str, object] = {}
    limited: list[dict[str, object]] = []
    ceiling: dict[str, dict[str, float]] = {}
    async with sandbox_process(limits=True) as url, SandboxClient(url) as client:
        token = SandboxConfig().token
        await register_users(client, people)
        async with postgres_database() as pg_url:
            session_factory = await prepare(pg_url, people)
            settings = Settings(bot_token=token, bot_api_url=url, database_url=pg_url)
            for limit in limits:
                for latency_ms in (0, 100):
                    await client.set_limits(
                        enforce_limits=True,
                        global_per_s=float(limit),
                        global_burst=limit,
                        latency_ms=float(latency_ms),
                    )
                    await client.reset_stats()
                    rows, elapsed = await broadcast_once(
                        session_factory,
                        settings,
                        rate=limit * RATE_SHARE,
                        concurrency=args.concurrency,
                        limit=limit * seconds,
                    )
                    stats = await client.stats()
                    achieved = rows / elapsed
                    run = {
                        "limit_per_s": limit,
                        "latency_ms": latency_ms,
                        "achieved_per_s": round(achieved, 1),
                        "ratio": round(achieved / limit, 3),
                        "http_429": stats["status_429"],
                    }
                    limited.append(run)
                    print(f"limited: {run}", file=sys.stderr, flush=True)
            await client.set_limits(enforce_limits=False, latency_ms=0.0)
            rows, elapsed = await broadcast_once(
                session_factory,
                settings,
                rate=100_000,
                concurrency=args.concurrency,
                limit=None,
            )
            ceiling["postgresql"] = {"per_s": round(rows / elapsed, 1), "rows": rows}
            print(f"ceiling postgresql: {ceiling['postgresql']}", file=sys.stderr, flush=True)
            await session_factory.kw["bind"].dispose()
        with tempfile.TemporaryDirectory() as folder:
            sqlite_url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
            session_factory = await prepare(sqlite_url, ceiling_people)
            settings = Settings(bot_token=token, bot_api_url=url, database_url=sqlite_url)
            rows, elapsed = await broadcast_once(
                session_factory,
                settings,
                rate=100_000,
                concurrency=args.concurrency,
                limit=None,
            )
            ceiling["sqlite"] = {"per_s": round(rows / elapsed, 1), "rows": rows}
            print(f"ceiling sqlite: {ceiling['sqlite']}", file=sys.stderr, flush=True)
            await session_factory.kw["bind"].dispose()
    result["limited"] = limited
    result["ceiling"] = ceiling
    result["concurrency"] = args.concurrency
    result["rate_share"] = RATE_SHARE
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
