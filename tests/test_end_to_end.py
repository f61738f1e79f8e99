"""Registration end to end: the sandbox over real HTTP, the bot polling or behind a webhook.

Nothing here calls a handler directly: simulated users act through the sandbox's control
API, Telegram's limits are on, and what they see is read back from the sandbox.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import running_bot
from bot.config import Settings
from bot.sandbox.client import SandboxClient
from bot.sandbox.config import SandboxConfig
from bot.sandbox.server import RunningSandbox, run_sandbox
from bot.simulation import plan_participants, register_all
from bot.views.registration import RoleCb
from quizzes.participants import Role
from storage.models import ParticipantRow
from tests.conftest import REDIS_URL
from tests.factories import World, build_world


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    async with run_sandbox(SandboxConfig()) as running:
        yield running


@pytest.fixture
async def world(session_factory: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(session_factory)


async def press_and_wait_edit(
    client: SandboxClient, chat_id: int, message_id: int, button: str, timeout: float = 10.0
) -> dict[str, Any]:
    """Press a button and wait until the bot has edited that message in answer."""
    before = next(m for m in await client.messages(chat_id) if m["message_id"] == message_id)
    await client.press_button(chat_id, message_id, button)
    async with asyncio.timeout(timeout):
        while True:
            for message in await client.messages(chat_id):
                if message["message_id"] == message_id and (
                    message["edit_count"] > before["edit_count"]
                ):
                    return message
            await asyncio.sleep(0.02)


def settings_for(sandbox: RunningSandbox, database_url: str, **extra: object) -> Settings:
    return Settings(
        bot_token=sandbox.config.token,
        bot_api_url=sandbox.url,
        database_url=database_url,
        admin_ids=frozenset({1}),
        **extra,  # type: ignore[arg-type]
    )


async def registered(
    session_factory: async_sessionmaker[AsyncSession],
) -> dict[int, ParticipantRow]:
    async with session_factory() as session:
        rows = await session.scalars(
            select(ParticipantRow).where(ParticipantRow.joined_at.is_not(None))
        )
        return {row.telegram_id: row for row in rows}


def invites_of(world: World) -> list[tuple[str, int]]:
    by_name = {**world.schools, **world.classes}
    result = []
    for (name, _role), code in sorted(world.codes.items()):
        unit = by_name[name]
        school = unit if unit.name in world.schools else None
        school_id = school.id if school else unit.parent_id
        assert school_id is not None
        result.append((code, school_id))
    return result


async def test_polling_registers_participants_through_invite_links(
    sandbox: RunningSandbox,
    database_url: str,
    world: World,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    people = plan_participants(invites_of(world), 40)
    async with running_bot(settings_for(sandbox, database_url), migrate=False):
        await register_all(sandbox.client, people, concurrency=10)
    rows = await registered(session_factory)
    assert set(rows) == {p.telegram_id for p in people}
    for person in people:
        row = rows[person.telegram_id]
        expected = person.first_name + "同学" if person.types_name else person.first_name
        assert row.display_name == expected
    stats = await sandbox.client.stats()
    assert stats["calls"]["getUpdates"] > 0


async def test_webhook_mode_with_secret_and_fsm_on_redis(
    sandbox: RunningSandbox,
    database_url: str,
    world: World,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    port = free_port()
    settings = settings_for(
        sandbox,
        database_url,
        webhook_url=f"http://127.0.0.1:{port}",
        webhook_secret="s3cret-" + uuid.uuid4().hex,
        listen_port=port,
        redis_url=REDIS_URL,
    )
    client = sandbox.client
    async with running_bot(settings, migrate=False) as app:
        assert type(app.dp.storage).__name__ == "RedisStorage"
        # The walk: regiment, school, class, role, name; each step's state lives in Redis.
        await client.send_text(501, "/start", first_name="Lily", language_code="en")
        messages = await client.wait_for_messages(501, 2)
        assert "Choose your regiment" in messages[-1]["text"]
        walk = messages[-1]["message_id"]
        schools = await press_and_wait_edit(client, 501, walk, "129团")
        assert "choose your school" in schools["text"]
        classes = await press_and_wait_edit(client, 501, walk, "胡杨河市第一中学")
        assert "choose your class" in classes["text"]
        await press_and_wait_edit(client, 501, walk, "七年级2班")
        messages = await client.wait_for_messages(501, 3)
        assert "Are you a student, a teacher or a parent?" in messages[-1]["text"]
        await client.press(501, messages[-1]["message_id"], RoleCb(role=Role.PARENT).pack())
        messages = await client.wait_for_messages(501, 4)
        await client.send_text(501, "Lily's mum", first_name="Lily", language_code="en")
        messages = await client.wait_for_messages(501, 5)
        assert "You are registered" in messages[-1]["text"]
        assert "Lily's mum" in messages[-1]["text"]
        assert (await client.stats())["calls"].get("getUpdates", 0) == 0
    rows = await registered(session_factory)
    assert rows[501].unit_id == world.classes["七年级2班"].id
    assert rows[501].role == "parent" and rows[501].locale == "en"


async def test_blocking_the_bot_is_recorded_and_unblocking_clears_it(
    sandbox: RunningSandbox,
    database_url: str,
    world: World,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    client = sandbox.client
    async with running_bot(settings_for(sandbox, database_url), migrate=False):
        await client.send_text(601, "/help")
        await client.wait_for_messages(601, 1)
        await client.block(601)
        # Updates are handled concurrently, so a later one's reply proves nothing: wait
        # for the block itself to be recorded (bounded, not timed).
        for _ in range(200):
            async with session_factory() as session:
                row = await session.scalar(
                    select(ParticipantRow).where(ParticipantRow.telegram_id == 601)
                )
            if row is not None and row.blocked_at is not None:
                break
            await asyncio.sleep(0.05)
        assert row is not None and row.blocked_at is not None
        await client.unblock(601)
        await client.send_text(601, "/help")
        await client.wait_for_messages(601, 2)
    async with session_factory() as session:
        row = await session.scalar(select(ParticipantRow).where(ParticipantRow.telegram_id == 601))
        assert row is not None and row.blocked_at is None


async def test_commands_menu_is_set_in_both_languages(
    sandbox: RunningSandbox, database_url: str, world: World
) -> None:
    async with running_bot(settings_for(sandbox, database_url), migrate=False) as app:
        zh = await app.bot.get_my_commands()
        en = await app.bot.get_my_commands(language_code="en")
    assert {c.command for c in zh} == {c.command for c in en} >= {"start", "me", "help"}
    assert zh[0].description != en[0].description


async def test_a_class_registering_at_once_stays_under_telegrams_limits(
    sandbox: RunningSandbox,
    database_url: str,
    world: World,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """Sixty students tap the link together: the replies are paced through the shared
    limiter, so Telegram (the sandbox, limits on) refuses none, and everyone registers."""
    people = plan_participants(invites_of(world), 60)
    await sandbox.client.reset_stats()
    async with running_bot(settings_for(sandbox, database_url), migrate=False):
        await register_all(sandbox.client, people, concurrency=60)
    rows = await registered(session_factory)
    assert set(rows) == {p.telegram_id for p in people}
    stats = await sandbox.client.stats()
    assert stats["calls"]["sendMessage"] >= 2 * len(people)
    assert stats["status_429"] == 0
