"""A bot process killed mid-broadcast: restarted, it resumes; nobody is skipped and only
the deliveries in flight at the kill (at most one per worker) can arrive twice."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections import Counter
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.sandbox.config import SandboxConfig
from bot.sandbox.server import RunningSandbox, run_sandbox
from quizzes.publicity import BroadcastState
from storage.publicity import PublicityRepository
from tests.factories import build_world
from tests.publicity_factories import add_people, make_article, status_counts

CONCURRENCY = 8
ADMIN = 1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def start_bot(
    sandbox: RunningSandbox, database_url: str, folder: Path, name: str
) -> asyncio.subprocess.Process:
    """``pufa run`` in a process of its own, configured only by the environment."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PUFA_")} | {
        "PUFA_BOT_TOKEN": sandbox.config.token,
        "PUFA_BOT_API_URL": sandbox.url,
        "PUFA_DATABASE_URL": database_url,
        "PUFA_LISTEN_PORT": str(free_port()),
        "PUFA_BROADCAST_RATE": "200",
        "PUFA_BROADCAST_CONCURRENCY": str(CONCURRENCY),
    }
    log = (folder / f"{name}.log").open("wb")
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from bot.cli import main; main()",
        "run",
        cwd=folder,  # no .env here
        env=env,
        stdout=log,
        stderr=log,
    )


async def wait_for_sent(sandbox: RunningSandbox, count: int, timeout: float = 60.0) -> None:
    async with asyncio.timeout(timeout):
        while True:
            if sandbox.sandbox.messages_sent >= count:
                return
            await asyncio.sleep(0.01)


async def wait_for_state(
    session_factory: async_sessionmaker[AsyncSession], broadcast_id: int, timeout: float = 60.0
) -> BroadcastState:
    async with asyncio.timeout(timeout):
        while True:
            async with session_factory() as session:
                broadcast = await PublicityRepository(session).broadcast(broadcast_id)
            if broadcast is not None and broadcast.state.final:
                return broadcast.state
            await asyncio.sleep(0.1)


async def test_a_killed_bot_resumes_without_skipping_anyone(
    database_url: str, session_factory: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    world = await build_world(session_factory)
    people = range(10_000, 10_400)
    await add_people(session_factory, people, world.classes["七年级1班"].id)
    article = await make_article(session_factory)
    # 50 ms per request, so that every worker has a request in flight at the kill.
    async with run_sandbox(SandboxConfig(global_per_s=1000.0, latency_ms=50.0)) as sandbox:
        for telegram_id in (ADMIN, *people):
            sandbox.sandbox.register_user(telegram_id, started=True)
        async with session_factory() as session:
            repo = PublicityRepository(session)
            broadcast = await repo.start_broadcast(
                article.id, created_by=ADMIN, locale="zh-CN", progress_chat_id=ADMIN
            )
            await repo.commit()

        first = await start_bot(sandbox, database_url, tmp_path, "first")
        try:
            await wait_for_sent(sandbox, len(people) // 3)
        finally:
            first.send_signal(signal.SIGKILL)
            await first.wait()
        at_kill = await status_counts(session_factory, broadcast.id)
        assert at_kill.get("pending", 0) > 0  # killed mid-broadcast

        second = await start_bot(sandbox, database_url, tmp_path, "second")
        try:
            state = await wait_for_state(session_factory, broadcast.id)
        finally:
            second.send_signal(signal.SIGKILL)
            await second.wait()
        received = Counter(
            {
                telegram_id: len(sandbox.sandbox.chats[telegram_id].bot_messages)
                for telegram_id in people
            }
        )
    assert state is BroadcastState.DONE
    assert await status_counts(session_factory, broadcast.id) == {"sent": len(people)}
    assert min(received.values()) == 1  # nobody skipped
    duplicates = [telegram_id for telegram_id, n in received.items() if n > 1]
    assert len(duplicates) <= CONCURRENCY
    assert max(received.values()) <= 2
