"""What the benchmarks share: a free port, the sandbox in a process of its own, and a
scratch PostgreSQL database created for one run and dropped after it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_URL = os.environ.get(
    "PUFA_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def sandbox_process(*, limits: bool) -> AsyncIterator[str]:
    """The sandbox in a process of its own, as Telegram is: it must not share our CPU.

    With ``limits`` off it is the bot's ceiling being measured; on, runs set them over
    the control API. Yields the sandbox's base URL (its token is ``SandboxConfig().token``).
    """
    port = free_port()
    command = ["-c", "from bot.cli import main; main()", "sandbox", "--port", str(port)]
    if not limits:
        command.append("--no-limits")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        await asyncio.wait_for(process.stdout.readline(), 30)  # "listening on ..."
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        await process.wait()


@contextlib.asynccontextmanager
async def postgres_database(server: str = POSTGRES_URL) -> AsyncIterator[str]:
    """A fresh database on ``server`` (the test server by default) for one run; dropped
    however the run ends."""
    name = f"pufa_bench_{uuid.uuid4().hex[:8]}"
    admin = make_url(server).set(drivername="postgresql").render_as_string(False)
    connection = await asyncpg.connect(admin)
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    try:
        yield make_url(server).set(database=name).render_as_string(False)
    finally:
        connection = await asyncpg.connect(admin)
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()
