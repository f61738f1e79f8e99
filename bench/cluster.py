"""A cluster behind nginx loses nothing: quiz answers and a broadcast while a process is
killed and restarted.

What runs, each in a process of its own: the sandbox (Telegram, its limits on, posting
updates to the webhook), Debian's nginx (``deploy/nginx/pufa-locations.conf`` behind a
local ``server`` block, in a temporary prefix: its own pid, logs and temp paths, no root
needed) in front of ``--processes`` bot processes (``pufa run`` in webhook mode, ports of
their own), one scratch PostgreSQL database (:func:`bench.common.postgres_database`) and
Redis (``--redis-url``, a database number of the bench's own, emptied at start and end).

1. Set-up, not measured: the quiz bank, an open campaign and ``--participants`` registered
   participants (:func:`bench.quiz_load.populate`), ``--recipients`` subscribers for the
   article (:func:`bench.broadcast.prepare`); the processes start with the sandbox's limits
   off and every participant opens the quiz through them (/quiz, "start"); then they stop.
2. Measured: the sandbox's limits on (30 messages/s in bulk, 1/s per chat), the processes
   start again with the broadcast rate at 99% of that limit (shared through Redis), an
   article goes to the recipients, and meanwhile every participant answers every
   ``--interval`` seconds for ``--duration`` seconds (:func:`bench.quiz_load.paced`;
   1,400 every 10 s is 140 answers/s). Half-way one process is SIGKILLed and started
   again on its port.
3. Counted afterwards, from the database and the sandbox's records, not from what the
   bench meant to do: presses the sandbox received (``offered``) against answers the
   attempts hold (``recorded``); attempts whose position or points disagree with their
   answers (``double_counted``); callback queries answered more often than pressed
   (``handled_twice``: a second handling answers again); deliveries and the article
   messages each recipient's chat holds (``skipped``, ``duplicates``); the sandbox's 429s
   and re-deliveries; the broadcast's rate from its first to its last recorded delivery
   over the 30/s limit (``ratio_to_limit``).

    python bench/cluster.py [--quick] [--processes N] [--participants N] [--interval S]
                            [--duration S] [--recipients N] [--no-kill] [--redis-url URL]

nginx must be installed (Debian: ``apt-get install nginx``); the bench installs nothing.
The last line printed is one JSON object:
    {"processes": 3,
     "answers": {"offered", "recorded", "double_counted", "p50_ms", "p99_ms", "max_ms",
                 "per_s", "errors"},
     "broadcast": {"recipients", "delivered", "skipped", "duplicates", "http_429",
                   "per_s", "ratio_to_limit", "concurrency"},
     "redelivered_updates", "dropped_updates", "handled_twice", "answered_again",
     "bots_cpu_s", "killed", "tables": {name: {"rows", "bytes", "compact_bytes"}},
     "missed": [...]}
``missed`` lists the targets not held (empty when all are); ``answered_again`` and
``tables`` are explained where they are counted (:func:`cluster_result`,
:func:`table_sizes`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import grp
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
from redis.asyncio import Redis
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.broadcast import RATE_SHARE, prepare, register_users
from bench.common import free_port, postgres_database, sandbox_process
from bench.quiz_load import Participant, cpu_seconds, open_quiz, paced, populate
from bot.dedupe import RedisClaims
from bot.sandbox.client import SandboxClient
from bot.sandbox.config import SandboxConfig
from bot.simulation import percentile
from storage.models import ParticipantRow
from storage.models_publicity import BroadcastRow, DeliveryRow
from storage.publicity import PublicityRepository

ROOT = Path(__file__).resolve().parents[1]
LOCATIONS = ROOT / "deploy" / "nginx" / "pufa-locations.conf"
REDIS_URL = os.environ.get("PUFA_BENCH_REDIS_URL", "redis://127.0.0.1:6379/10")
QUIZ_FIRST_ID = 7_400_000_000
LIMIT_PER_S = 30  # Telegram's bulk limit, as the sandbox enforces it
# Per process (PUFA_BROADCAST_CONCURRENCY's default): at most this many deliveries are in
# flight in a process when it is killed, so at most this many can be sent twice.
CONCURRENCY = 16
TITLE = "国家宪法日·集群演练"
BODY = "宪法是国家的根本法。<b>尊崇宪法、学习宪法、遵守宪法、维护宪法、运用宪法</b>。"
READY_S = 90.0


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------- nginx


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found is None:
        raise SystemExit("nginx not found: install Debian's package (apt-get install nginx)")
    return found


def nginx_conf(folder: Path, port: int, upstreams: Sequence[int]) -> str:
    """A whole nginx configuration in ``folder``: the deployment's locations in front of
    the processes on ``upstreams``, plain HTTP on ``port``."""
    user = ""
    if os.geteuid() == 0:  # as root, workers would otherwise become nobody
        user = f"user {getpass.getuser()} {grp.getgrgid(os.getegid()).gr_name};"
    servers = "\n".join(
        f"        server 127.0.0.1:{upstream} max_fails=1 fail_timeout=10s;"
        for upstream in upstreams
    )
    temp = "\n".join(
        f"    {kind}_temp_path {folder / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{user}
worker_processes 1;
daemon off;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
{temp}
    upstream pufa_bots {{
{servers}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        include {LOCATIONS};
    }}
}}
"""


@contextlib.asynccontextmanager
async def nginx(folder: Path, port: int, upstreams: Sequence[int]) -> AsyncIterator[None]:
    conf = folder / "nginx.conf"
    conf.write_text(nginx_conf(folder, port, upstreams), encoding="utf-8")
    process = await asyncio.create_subprocess_exec(
        nginx_binary(),
        "-p",
        str(folder),
        "-c",
        str(conf),
        "-e",
        str(folder / "error.log"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            if process.returncode is not None:
                errors = (folder / "error.log").read_text(errors="replace")
                raise RuntimeError(f"nginx did not start:\n{errors}")
            with contextlib.suppress(OSError):
                _reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            await asyncio.sleep(0.05)
        yield
    finally:
        await stop(process)


async def stop(
    process: asyncio.subprocess.Process, grace_s: float = 15.0, how: int = signal.SIGTERM
) -> None:
    """``how``, and SIGKILL if it is still there after ``grace_s``."""
    if process.returncode is None:
        process.send_signal(how)
        try:
            await asyncio.wait_for(process.wait(), grace_s)
        except TimeoutError:
            process.kill()
    await process.wait()


# ---------------------------------------------------------------------- the bot processes


class Bots:
    """``pufa run`` processes in webhook mode, one per port, behind nginx."""

    def __init__(self, folder: Path, ports: Sequence[int], env: dict[str, str]) -> None:
        self.folder = folder
        self.ports = list(ports)
        self.env = env
        self.processes: dict[int, asyncio.subprocess.Process] = {}
        self.cpu_s = 0.0  # CPU time of the processes stopped so far

    async def start(self, index: int, http: aiohttp.ClientSession) -> None:
        port = self.ports[index]
        env = {**os.environ, **self.env, "PUFA_LISTEN_PORT": str(port)}
        with (self.folder / f"bot-{index}.log").open("ab") as log_file:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                "from bot.cli import main; main()",
                "run",
                stdout=asyncio.subprocess.DEVNULL,
                stderr=log_file,
                cwd=ROOT,
                env=env,
            )
        self.processes[index] = process
        deadline = time.monotonic() + READY_S
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise RuntimeError(f"bot {index} exited: see {self.folder}/bot-{index}.log")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with http.get(f"http://127.0.0.1:{port}/readyz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"bot {index} not ready within {READY_S:g} s")

    async def start_all(self, http: aiohttp.ClientSession) -> None:
        await asyncio.gather(*(self.start(index, http) for index in range(len(self.ports))))

    async def kill(self, index: int) -> None:
        process = self.processes.pop(index)
        self.cpu_s += cpu_seconds(process.pid)
        process.kill()  # SIGKILL: no clean-up of any kind
        await process.wait()

    def cpu_now(self) -> float:
        return self.cpu_s + sum(cpu_seconds(p.pid) for p in self.processes.values())

    async def stop_all(self) -> None:
        running = list(self.processes.values())
        self.cpu_s += sum(cpu_seconds(p.pid) for p in running)
        self.processes.clear()
        # SIGINT, as Ctrl+C: `pufa run` finishes the updates in hand and answers them.
        await asyncio.gather(*(stop(process, how=signal.SIGINT) for process in running))

    def tail(self, lines: int = 20) -> str:
        out = []
        for path in sorted(self.folder.glob("bot-*.log")):
            content = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {path.name}\n" + "\n".join(content))
        return "\n".join(out)


# ---------------------------------------------------------------------- counting


async def answer_counts(session_factory: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    """(answers recorded, attempts that disagree with their answers): an attempt moves on
    one question and adds the answer's points per answer, so an answer counted twice
    shows as a position or a score its answers do not explain."""
    async with session_factory() as session:
        recorded = await session.scalar(
            text("SELECT count(*) FROM attempt_questions WHERE answered_at IS NOT NULL")
        )
        double = await session.scalar(
            text(
                """
                SELECT count(*) FROM attempts a
                JOIN (SELECT attempt_id, count(answered_at) AS answered,
                             coalesce(sum(points), 0) AS points
                      FROM attempt_questions GROUP BY attempt_id) q ON q.attempt_id = a.id
                WHERE a.current_seq <> 1 + q.answered OR abs(a.points - q.points) > 1e-6
                """
            )
        )
    return int(recorded or 0), int(double or 0)


async def start_broadcast(session_factory: async_sessionmaker[AsyncSession]) -> int:
    """The article and its broadcast to every subscriber, as an admin's "send" writes them;
    the processes' broadcasters pick it up."""
    async with session_factory() as session:
        author = await session.scalar(select(func.min(ParticipantRow.id)))
        repo = PublicityRepository(session)
        article = await repo.create_article(
            title=TITLE, body=BODY, author_id=int(author or 1), link="https://example.org/"
        )
        broadcast = await repo.start_broadcast(
            article.id, created_by=1, locale="zh-CN", progress_chat_id=None
        )
        await repo.commit()
    return broadcast.id


async def broadcast_done(
    session_factory: async_sessionmaker[AsyncSession], broadcast_id: int, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with session_factory() as session:
            state = await session.scalar(
                select(BroadcastRow.state).where(BroadcastRow.id == broadcast_id)
            )
        if state == "done":
            return
        await asyncio.sleep(0.5)
    raise RuntimeError(f"the broadcast did not finish within {timeout:g} s")


async def updates_delivered(client: SandboxClient, timeout: float) -> None:
    """Until the sandbox has no update left to post (or ``timeout``: then counted as is)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not (await client.stats())["pending_updates"]:
            return
        await asyncio.sleep(0.5)


@dataclass(frozen=True)
class Deliveries:
    recipients: int
    delivered: int
    first_sent: datetime | None
    last_sent: datetime | None
    chats: tuple[int, ...]


async def deliveries(
    session_factory: async_sessionmaker[AsyncSession], broadcast_id: int
) -> Deliveries:
    async with session_factory() as session:
        of_it = DeliveryRow.broadcast_id == broadcast_id
        recipients = await session.scalar(select(func.count()).where(of_it))
        sent = (of_it, DeliveryRow.status == "sent")
        delivered = await session.scalar(select(func.count()).where(*sent))
        first, last = (
            await session.execute(
                select(func.min(DeliveryRow.sent_at), func.max(DeliveryRow.sent_at)).where(*sent)
            )
        ).one()
        chats = await session.scalars(select(DeliveryRow.chat_id).where(of_it))
        return Deliveries(int(recipients or 0), int(delivered or 0), first, last, tuple(chats))


async def article_copies(client: SandboxClient, chats: Sequence[int]) -> list[int]:
    """How many messages with the article each chat holds, as the sandbox recorded them."""
    gate = asyncio.Semaphore(64)

    async def one(chat_id: int) -> int:
        async with gate:
            messages = await client.messages(chat_id)
        return sum(1 for message in messages if TITLE in (message.get("text") or ""))

    return list(await asyncio.gather(*(one(chat) for chat in chats)))


async def table_sizes(session_factory: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
    """Rows and bytes (pg_total_relation_size: table, indexes, TOAST) of the big tables as
    the run left them, and ``compact_bytes`` after ``VACUUM FULL``: a delivery is written
    three times (pending, claimed, sent), an answer twice, and the old row versions stay
    in the files until autovacuum makes their space reusable."""
    sizes: dict[str, Any] = {}
    tables = ("participants", "attempts", "attempt_questions", "deliveries")
    engine = session_factory.kw["bind"]
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        for table in tables:
            rows, size = (
                await autocommit.execute(
                    text(f"SELECT count(*), pg_total_relation_size('{table}') FROM {table}")
                )
            ).one()
            await autocommit.execute(text(f"VACUUM FULL {table}"))
            compact = await autocommit.scalar(text(f"SELECT pg_total_relation_size('{table}')"))
            sizes[table] = {"rows": int(rows), "bytes": int(size), "compact_bytes": int(compact)}
    return sizes


def cluster_result(
    *,
    processes: int,
    offered: int,
    recorded: int,
    double_counted: int,
    latencies: Sequence[float],
    recipients: int,
    delivered: int,
    copies: Sequence[int],
    http_429: int,
    sending_s: float,
    callback_answers: int,
    redelivered: int,
    dropped: int,
    handled_twice: int,
) -> dict[str, Any]:
    """The bench's JSON from what was counted. ``handled_twice``: updates a handler
    finished after another had (the claims' own count, in Redis). ``answered_again``:
    presses whose callback query was answered more than once (the sandbox counts the
    call even when it refuses the second): those a process was killed in the middle of,
    after it had answered and before it said "done", handled once more elsewhere."""
    per_s = (delivered - 1) / sending_s if delivered > 1 and sending_s > 0 else 0.0
    return {
        "processes": processes,
        "answers": {
            "offered": offered,
            "recorded": recorded,
            "double_counted": double_counted,
            "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
            "max_ms": round(max(latencies, default=0.0) * 1000, 1),
        },
        "broadcast": {
            "recipients": recipients,
            "delivered": delivered,
            "skipped": sum(1 for n in copies if n == 0),
            "duplicates": sum(n - 1 for n in copies if n > 1),
            "http_429": http_429,
            "per_s": round(per_s, 2),
            "ratio_to_limit": round(per_s / LIMIT_PER_S, 3),
            "concurrency": CONCURRENCY,
        },
        "redelivered_updates": redelivered,
        "dropped_updates": dropped,
        "handled_twice": handled_twice,
        "answered_again": max(0, callback_answers - offered),
    }


def missed_targets(result: dict[str, Any]) -> list[str]:
    """The issue's targets that ``result`` does not hold, in words."""
    answers, broadcast = result["answers"], result["broadcast"]
    checks = [
        (answers["recorded"] == answers["offered"], "recorded == offered"),
        (answers["double_counted"] == 0, "double_counted == 0"),
        (answers["p99_ms"] < 500, "p99 < 500 ms"),
        (broadcast["skipped"] == 0, "skipped == 0"),
        (broadcast["duplicates"] <= broadcast["concurrency"], "duplicates <= concurrency"),
        (broadcast["http_429"] == 0, "http_429 == 0"),
        (broadcast["ratio_to_limit"] >= 0.95, "ratio_to_limit >= 0.95"),
        (result["handled_twice"] == 0, "handled_twice == 0"),
    ]
    return [target for held, target in checks if not held]


# ---------------------------------------------------------------------- the run


@dataclass(frozen=True)
class Plan:
    processes: int
    participants: int
    interval: float
    duration: float
    recipients: int
    kill: bool
    redis_url: str


async def run(plan: Plan, folder: Path) -> dict[str, Any]:
    redis = Redis.from_url(plan.redis_url)
    await redis.flushdb()  # the bench's own database number
    bot_ports = [free_port() for _ in range(plan.processes)]
    proxy_port = free_port()
    async with (
        sandbox_process(limits=True) as api_url,
        postgres_database() as database_url,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http,
        nginx(folder, proxy_port, bot_ports),
    ):
        client = SandboxClient(api_url, session=http)
        await client.set_limits(enforce_limits=False)
        phase = time.perf_counter()
        await populate(database_url, plan.participants, QUIZ_FIRST_ID)
        session_factory = await prepare(database_url, plan.recipients)
        async with session_factory() as session:  # the article goes to the others
            await session.execute(
                update(ParticipantRow)
                .where(ParticipantRow.telegram_id >= QUIZ_FIRST_ID)
                .values(subscribed=False)
            )
            await session.commit()
        await register_users(client, plan.recipients)
        log(f"database and sandbox ready in {time.perf_counter() - phase:.1f} s")
        env = {
            "PUFA_BOT_TOKEN": SandboxConfig().token,
            "PUFA_BOT_API_URL": api_url,
            "PUFA_DATABASE_URL": database_url,
            "PUFA_REDIS_URL": plan.redis_url,
            "PUFA_WEBHOOK_URL": f"http://127.0.0.1:{proxy_port}",
            "PUFA_BROADCAST_CONCURRENCY": str(CONCURRENCY),
            # Opening the quizzes is set-up: no pacing (the sandbox's limits are off too).
            "PUFA_BROADCAST_RATE": "100000",
        }
        bots = Bots(folder, bot_ports, env)
        people = [Participant(QUIZ_FIRST_ID + index) for index in range(plan.participants)]
        try:
            phase = time.perf_counter()
            await bots.start_all(http)
            gate = asyncio.Semaphore(50)

            async def opened(person: Participant) -> None:
                async with gate:
                    await open_quiz(client, person, bare=False)

            await asyncio.gather(*(opened(person) for person in people))
            await bots.stop_all()
            log(f"{len(people)} opened the quiz in {time.perf_counter() - phase:.1f} s")

            # Measured from here: Telegram's limits, the rate shared through Redis.
            await client.set_limits(enforce_limits=True, global_per_s=float(LIMIT_PER_S))
            bots.env["PUFA_BROADCAST_RATE"] = str(LIMIT_PER_S * RATE_SHARE)
            await bots.start_all(http)
            await client.reset_stats()
            cpu = bots.cpu_now()
            broadcast_id = await start_broadcast(session_factory)
            killed = plan.processes // 2 if plan.kill else None

            async def kill_half_way() -> None:
                if killed is None:
                    return
                await asyncio.sleep(plan.duration / 2)
                await bots.kill(killed)
                log(f"bot {killed} killed (SIGKILL)")
                started = time.perf_counter()
                await bots.start(killed, http)
                log(f"bot {killed} ready again in {time.perf_counter() - started:.1f} s")

            (tally, elapsed), _ = await asyncio.gather(
                paced(client, people, plan.interval, plan.duration), kill_half_way()
            )
            log(f"answering done: {len(tally.latencies)} in {elapsed:.1f} s")
            await broadcast_done(
                session_factory, broadcast_id, timeout=plan.recipients / LIMIT_PER_S * 2 + 120
            )
            # Presses a participant gave up waiting for are still Telegram's to deliver.
            await updates_delivered(client, timeout=120.0)
            answering_cpu = bots.cpu_now() - cpu
            stats = await client.stats()
            recorded, double_counted = await answer_counts(session_factory)
            sent = await deliveries(session_factory, broadcast_id)
            copies = await article_copies(client, sent.chats)
            tables = await table_sizes(session_factory)
            claims = RedisClaims(redis, owns_client=False)
            twice = await claims.handled_twice(SandboxConfig().bot_id)
        except BaseException:
            log(bots.tail())
            raise
        finally:
            await bots.stop_all()
            await session_factory.kw["bind"].dispose()
    await redis.flushdb()
    await redis.aclose()
    sending_s = (
        (sent.last_sent - sent.first_sent).total_seconds()
        if sent.first_sent and sent.last_sent
        else 0.0
    )
    result = cluster_result(
        processes=plan.processes,
        offered=int(stats["updates_created"]),
        recorded=recorded,
        double_counted=double_counted,
        latencies=tally.latencies,
        recipients=sent.recipients,
        delivered=sent.delivered,
        copies=copies,
        http_429=int(stats["status_429"]),
        sending_s=sending_s,
        callback_answers=int(stats["calls"].get("answerCallbackQuery", 0)),
        redelivered=int(stats["webhook_redeliveries"]),
        dropped=int(stats["webhook_dropped"]),
        handled_twice=twice,
    )
    result["answers"]["per_s"] = round(len(tally.latencies) / elapsed, 1)
    result["answers"]["errors"] = tally.errors
    result["bots_cpu_s"] = round(answering_cpu, 1)  # the restart's start-up included
    result["killed"] = killed is not None
    result["tables"] = tables
    return result


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small run, under a minute")
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--participants", type=int, default=None)
    parser.add_argument("--interval", type=float, default=None, help="s between answers")
    parser.add_argument("--duration", type=float, default=None, help="answering, s")
    parser.add_argument("--recipients", type=int, default=None)
    parser.add_argument("--no-kill", action="store_true", help="kill no process")
    parser.add_argument("--redis-url", default=REDIS_URL, help="emptied at start and end")
    parser.add_argument("--keep", default=None, help="folder to keep the logs and nginx in")
    return parser.parse_args(argv)


def plan_of(args: argparse.Namespace) -> Plan:
    quick = args.quick
    return Plan(
        processes=args.processes,
        participants=args.participants or (150 if quick else 1400),
        interval=args.interval or (5.0 if quick else 10.0),
        duration=args.duration or (12.0 if quick else 120.0),
        # Quick: a broadcast that outlasts the killed process's restart, whose claimed
        # deliveries come back then (or within a quarter lease, 15 s).
        recipients=args.recipients or (750 if quick else 10_000),
        kill=not args.no_kill,
        redis_url=args.redis_url,
    )


async def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    plan = plan_of(args)
    nginx_binary()  # before anything starts
    if args.keep:
        Path(args.keep).mkdir(parents=True, exist_ok=True)
        result = await run(plan, Path(args.keep).resolve())
    else:
        with tempfile.TemporaryDirectory(prefix="pufa-cluster-") as folder:
            result = await run(plan, Path(folder))
    result["missed"] = missed_targets(result)
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        asyncio.run(main())
