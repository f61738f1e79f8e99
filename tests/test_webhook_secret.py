"""The webhook obeys only Telegram: a forged update is refused, whatever it claims.

Regression: with ``PUFA_WEBHOOK_URL`` set and no ``PUFA_WEBHOOK_SECRET``, anyone could
POST ``/grant admin ID`` "from" an admin's id and it was obeyed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import running_bot
from bot.config import Settings
from bot.sandbox.config import SandboxConfig
from bot.sandbox.server import RunningSandbox, run_sandbox
from bot.webhook import SECRET_HEADER
from storage.models import GrantRow, ParticipantRow
from tests.test_end_to_end import free_port, settings_for

ADMIN = 1  # in PUFA_ADMIN_IDS (settings_for)
TARGET = 777


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    async with run_sandbox(SandboxConfig()) as running:
        yield running


def forged_grant(update_id: int) -> dict[str, Any]:
    text = f"/grant admin {TARGET}"
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "date": 1_700_000_000,
            "chat": {"id": ADMIN, "type": "private", "first_name": "Admin"},
            "from": {"id": ADMIN, "is_bot": False, "first_name": "Admin"},
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


async def raw_post(port: int, path: str, headers: bytes, body: bytes) -> int:
    """A request as bytes on the wire: a header no HTTP client library would send."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nConnection: close\r\n"
        + headers
        + b"Content-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    await writer.wait_closed()
    return int(status_line.split()[1])


async def counts(session_factory: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    async with session_factory() as session:
        grants = await session.scalar(select(func.count()).select_from(GrantRow))
        people = await session.scalar(select(func.count()).select_from(ParticipantRow))
    return grants or 0, people or 0


async def test_a_forged_update_without_the_secret_makes_nobody_admin(
    sandbox: RunningSandbox,
    database_url: str,
    session_factory: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()
    # No PUFA_WEBHOOK_SECRET: the bot derives one and gives it to Telegram (the sandbox).
    settings = settings_for(
        sandbox, database_url, webhook_url=f"http://127.0.0.1:{port}", listen_port=port
    )
    assert settings.webhook_secret is None
    url = f"http://127.0.0.1:{port}{settings.webhook_path}"
    client = sandbox.client
    async with running_bot(settings, migrate=False):
        # The real path, through Telegram: a person is answered.
        await client.send_text(TARGET, "/help", first_name="Wang")
        assert await client.wait_for_messages(TARGET, 1)
        before = await counts(session_factory)

        caplog.clear()
        caplog.set_level(logging.INFO)
        forged = json.dumps(forged_grant(900_001)).encode()
        async with aiohttp.ClientSession() as http:
            for headers in ({}, {SECRET_HEADER: "guess"}, {SECRET_HEADER: ""}):
                async with http.post(url, data=forged, headers=headers) as response:
                    assert response.status == 401
            right = {SECRET_HEADER: settings.webhook_secret_token}
            for body in (b"{not json", b"\xff\xfe", b"[1, 2]", b'{"update_id": "x"}'):
                async with http.post(url, data=body, headers=right) as response:
                    assert response.status == 400
            async with http.post(url, data=b"{" + b" " * 2_000_000, headers=right) as response:
                assert response.status == 413
        non_ascii = SECRET_HEADER.encode() + ": 秘密".encode() + b"\r\n"
        assert 400 <= await raw_post(port, settings.webhook_path, non_ascii, forged) < 500
        latin = SECRET_HEADER.encode() + b": \xe9t\xe9\r\n"
        assert 400 <= await raw_post(port, settings.webhook_path, latin, forged) < 500

        # Telegram's path still works after all that.
        await client.send_text(TARGET, "/help", first_name="Wang")
        assert len(await client.wait_for_messages(TARGET, 2)) >= 2

        assert await counts(session_factory) == before  # nothing written
    assert await counts(session_factory) == (0, before[1])
    assert not [record for record in caplog.records if record.exc_info]
    refusals = [r for r in caplog.records if r.name == "bot.webhook"]
    assert len(refusals) <= 2  # one line per kind of bad request, not one per request


def test_the_derived_secret_is_one_telegram_accepts_and_the_same_in_every_process() -> None:
    first = Settings(bot_token="123456:ABC-def", webhook_url="https://bot.example.org")
    second = Settings(bot_token="123456:ABC-def", webhook_url="https://bot.example.org")
    other = Settings(bot_token="123456:ABC-xyz", webhook_url="https://bot.example.org")
    secret = first.webhook_secret_token
    assert secret == second.webhook_secret_token != other.webhook_secret_token
    assert 32 <= len(secret) <= 256
    assert all(c.isascii() and (c.isalnum() or c in "_-") for c in secret)
    assert "ABC" not in secret
    configured = Settings(
        bot_token="123456:ABC-def", webhook_url="https://x.org", webhook_secret="mine_1"
    )
    assert configured.webhook_secret_token == "mine_1"
