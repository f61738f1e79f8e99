"""Guessing recovery codes behind the load balancer: the tries are counted in Redis, so
two bot processes share one budget (per client address on the pages, per person for
/link) instead of giving an attacker one each; the count expires with the minute, and
without Redis (or while it does not answer) each process counts in its own memory."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from bot.application.web_participants import participant_key
from bot.config import Settings
from bot.factory import create_dispatcher
from bot.recent_tries import RECOVERY_TRIES, SharedTries, Tries, recovery_tries
from bot.web.participant_pages import ParticipantPages, add_participant_routes
from tests.conftest import REDIS_URL
from tests.publicity_chat import Chat, chat
from tests.test_web_participants import FORM_TOKEN

__all__ = ["chat"]  # the fixture


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
def prefix() -> str:
    """Keys of this test only: tests may share the Redis database."""
    return f"test:recovery-tries:{uuid.uuid4().hex}"


async def test_two_processes_share_one_budget_per_key(redis: Redis, prefix: str) -> None:
    first, second = SharedTries(redis, prefix=prefix), SharedTries(redis, prefix=prefix)
    allowed = [await first.allow("address:198.51.100.7") for _ in range(3)]
    allowed += [await second.allow("address:198.51.100.7") for _ in range(2)]
    assert allowed == [True] * RECOVERY_TRIES
    assert not await second.allow("address:198.51.100.7")
    assert not await first.allow("address:198.51.100.7")
    assert await first.allow("address:198.51.100.8")  # another client has its own
    assert await second.allow("person:42")
    # A refused try is not counted: the set holds the five allowed ones.
    assert await redis.zcard(f"{prefix}:address:198.51.100.7") == RECOVERY_TRIES


async def test_the_count_expires_and_the_minute_slides(redis: Redis, prefix: str) -> None:
    tries = SharedTries(redis, prefix=prefix)
    key = f"{prefix}:address:203.0.113.5"
    for _ in range(RECOVERY_TRIES):
        assert await tries.allow("address:203.0.113.5")
    assert not await tries.allow("address:203.0.113.5")
    assert 0 < await redis.pttl(key) <= 60_000
    # A minute on: the tries are moved back by the window on Redis's clock (scores are µs).
    members = await redis.zrange(key, 0, -1, withscores=True)
    await redis.zadd(key, {member: score - 60_000_000 for member, score in members})
    assert await tries.allow("address:203.0.113.5")
    assert await redis.zcard(key) == 1  # the old ones are gone, the new one counted


async def test_without_redis_each_process_counts_alone(
    prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    gone = Redis.from_url("redis://127.0.0.1:1", socket_connect_timeout=0.2)
    now = [0.0]
    tries = SharedTries(gone, prefix=prefix, monotonic=lambda: now[0])
    try:
        with caplog.at_level(logging.WARNING, logger="bot.recent_tries"):
            allowed = [await tries.allow("person:7") for _ in range(RECOVERY_TRIES + 1)]
        assert allowed == [True] * RECOVERY_TRIES + [False]  # still limited, here
        assert len(caplog.records) == 1 and "counting in this process" in caplog.text
        now[0] += 61.0
        assert await tries.allow("person:7")  # the local minute slides too
    finally:
        await gone.aclose()
    assert isinstance(recovery_tries(None), Tries)


async def test_the_dispatcher_shares_the_fsm_redis_when_configured(redis: Redis) -> None:
    shared = create_dispatcher(
        Settings(bot_token="42:TEST-token", redis_url=REDIS_URL),
        session_factory=None,  # type: ignore[arg-type]
    )
    alone = create_dispatcher(Settings(bot_token="42:TEST-token"), session_factory=None)  # type: ignore[arg-type]
    try:
        assert isinstance(shared["recovery_tries"], SharedTries)
        assert shared["recovery_tries"].prefix == "pufa:recovery-tries:42"
        assert isinstance(alone["recovery_tries"], Tries)
    finally:
        await shared.storage.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no database rule here
async def test_two_page_servers_refuse_the_sixth_guess_from_one_address(
    chat: Chat, redis: Redis, prefix: str
) -> None:
    def process() -> TestClient:
        settings = chat.context.settings
        app = web.Application()
        add_participant_routes(
            app,
            ParticipantPages(
                chat.session_factory,
                chat.context.translator,
                participant_key(settings.token),
                settings.zone,
                recovery_tries=SharedTries(redis, prefix=prefix),
            ),
        )
        return TestClient(TestServer(app))

    async with process() as first, process() as second:

        async def guess(client: TestClient) -> int:
            page = await client.get("/m/recover")
            token = FORM_TOKEN.search(await page.text())
            assert token is not None
            response = await client.post(
                "/m/recover",
                data={"code": "ZZZZZZ", "form_token": token.group(1)},
                headers={"X-Forwarded-For": "198.51.100.7"},  # the same phone via nginx
            )
            return response.status

        statuses = [await guess(first) for _ in range(3)]
        statuses += [await guess(second) for _ in range(2)]
        assert statuses == [400] * 5
        assert await guess(first) == 429 and await guess(second) == 429
