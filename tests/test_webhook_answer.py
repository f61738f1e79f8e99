"""The webhook answers after the update was handled, so nothing Telegram sends is lost.

Regression: the endpoint answered 200 on receipt and handled the update in the
background; a process killed in between had told Telegram "done" for updates it never
handled, and a handler that failed was never tried again.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiogram import Dispatcher
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramNetworkError
from aiogram.methods import SendMessage
from aiogram.types import ErrorEvent, TelegramObject
from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import running_bot
from bot.config import Settings
from bot.dedupe import Claim, MemoryClaims, RedisClaims, UpdateDedupe
from bot.factory import create_bot, create_dispatcher
from bot.sandbox.config import SandboxConfig
from bot.sandbox.server import RunningSandbox, run_sandbox
from bot.webhook import Handling, WebhookEndpoint, _note_failure
from tests.conftest import REDIS_URL
from tests.mocked_bot import text_update, user
from tests.test_end_to_end import free_port, settings_for

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    # Quick re-deliveries; limits off, nothing here is about them.
    config = SandboxConfig(enforce_limits=False, webhook_retry_max_s=0.2)
    async with run_sandbox(config) as running:
        yield running


def someone() -> int:
    return 10**9 + secrets.randbelow(10**9)


class FailOnce:
    """A message middleware whose first call fails, as a database that went away would."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("the database went away")
        return await handler(event, data)


async def test_an_update_that_failed_is_answered_500_and_handled_once_when_it_comes_again(
    sandbox: RunningSandbox,
    database_url: str,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    port = free_port()
    settings = settings_for(
        sandbox, database_url, webhook_url=f"http://127.0.0.1:{port}", listen_port=port
    )
    client, student = sandbox.client, someone()
    async with running_bot(settings, migrate=False) as app:
        failing = FailOnce()
        app.dp.message.outer_middleware(failing)
        await client.send_text(student, "/help", first_name="李华")
        # The bot's error handler apologised, and the webhook answered 500: the copy
        # Telegram sends again is handled.
        await client.wait_for_messages(student, 2)
        await client.send_text(student, "/help", first_name="李华")
        messages = await client.wait_for_messages(student, 3)
        stats = await client.stats()
    texts = [message["text"] for message in messages]
    assert len(texts) == 3, texts
    apology, answer, again = texts
    assert answer == again != apology  # the first /help answered once, after the apology
    assert failing.calls == 3
    assert stats["webhook_redeliveries"] == 1 and stats["webhook_dropped"] == 0


class Stuck:
    """A message middleware that never returns: the process is "killed" while in it."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        self.entered.set()
        await asyncio.Event().wait()


async def serve(endpoint: WebhookEndpoint, port: int, path: str) -> web.AppRunner:
    app = web.Application()
    endpoint.register(app, path)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def test_an_update_whose_process_stopped_before_answering_is_handled_by_the_next(
    sandbox: RunningSandbox,
    database_url: str,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """The first process is stopped half-way through an update (its handling cancelled,
    no answer sent); the sandbox sends the update again, and the process started on the
    same port handles it, once. The claims are shared, as in Redis, with a lease far
    longer than the test: the copy goes through only because the stopped handler gave
    its claim back."""
    port = free_port()
    settings = settings_for(sandbox, database_url, webhook_url=f"http://127.0.0.1:{port}")
    claims = MemoryClaims(lease_s=3600)
    path = settings.webhook_path

    def process() -> tuple[Dispatcher, WebhookEndpoint]:
        dp = create_dispatcher(settings, session_factory, dedupe=UpdateDedupe(claims))
        bot = create_bot(settings)
        return dp, WebhookEndpoint(dp, bot, settings.webhook_secret_token)

    first_dp, first = process()
    stuck = Stuck()
    first_dp.message.outer_middleware(stuck)
    runner = await serve(first, port, path)
    await first.bot.set_webhook(f"{settings.webhook_url}{path}", secret_token=first.secret)
    client, student = sandbox.client, someone()
    second: WebhookEndpoint | None = None
    try:
        sent = await client.send_text(student, "/help", first_name="李华")
        await stuck.entered.wait()
        for task in list(first._tasks):  # the process dies before it answers
            task.cancel()
        await runner.cleanup()
        assert await client.messages(student) == []

        _dp, second = process()
        runner = await serve(second, port, path)
        messages = await client.wait_for_messages(student, 1)
        await client.send_text(student, "/help", first_name="李华")
        messages = await client.wait_for_messages(student, 2)
        stats = await client.stats()
    finally:
        for endpoint in (first, second):
            for task in list(endpoint._tasks) if endpoint is not None else ():
                task.cancel()  # a copy left waiting (when the claim was kept) ends too
        await runner.cleanup()
        for endpoint in (first, second):
            if endpoint is not None:
                await endpoint.bot.session.close()
    assert len(messages) == 2 and messages[0]["text"] == messages[1]["text"]
    assert stats["webhook_redeliveries"] >= 1 and stats["webhook_dropped"] == 0
    assert await claims.claim(sandbox.config.bot_id, sent.update_id) is Claim.DONE


# ---------------------------------------------------------------- the lease, renewed


class CountingClaims(MemoryClaims):
    renewals = 0

    async def renew(self, claims: Any) -> None:
        self.renewals += 1
        await super().renew(claims)


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("never came true")


async def test_a_long_handler_keeps_its_claim_past_the_lease() -> None:
    """A handler that takes longer than the lease is not taken over by a copy: its
    process renews the claim while it runs, and stops renewing when it is done."""
    claims = CountingClaims(lease_s=0.2)
    dedupe = UpdateDedupe(claims)
    release = asyncio.Event()

    async def slow(event: TelegramObject, data: dict[str, Any]) -> str:
        await release.wait()
        return "done"

    update = text_update(user(7), "hi")
    bot = create_bot(Settings(bot_token="42:TEST-token"))
    try:
        handling = asyncio.create_task(dedupe(slow, update, {"bot": bot}))
        await until(lambda: claims.renewals >= 5)  # 5 quarter leases: past the lease
        assert await claims.claim(bot.id, update.update_id) is Claim.BUSY
        release.set()
        assert await handling == "done"
        assert await claims.claim(bot.id, update.update_id) is Claim.DONE
        assert dedupe._renewal is None  # nothing in hand: no timer left behind
    finally:
        await bot.session.close()


async def test_redis_renews_busy_claims_only() -> None:
    redis = Redis.from_url(REDIS_URL)
    claims = RedisClaims(redis, lease_s=1.0, prefix=f"pufa:test:{someone()}")
    try:
        assert await claims.claim(1, 1) is Claim.NEW
        assert await claims.claim(1, 2) is Claim.NEW
        await claims.finish(1, 2)  # done for a day
        renewed = RedisClaims(redis, lease_s=50.0, prefix=claims.prefix, owns_client=False)
        await renewed.renew([(1, 1), (1, 2), (1, 3)])
        assert 1000 < await redis.pttl(claims.key(1, 1)) <= 50_000
        assert await redis.ttl(claims.key(1, 2)) > 3600
        assert not await redis.exists(claims.key(1, 3))  # never claimed: nothing made
    finally:
        await redis.delete(claims.key(1, 1), claims.key(1, 2))
        await claims.close()


async def test_an_update_finished_twice_is_counted() -> None:
    """Only a lease running out under a live handler lets two handlers finish one update;
    the second finish says so, and Redis keeps the count for every process."""
    redis = Redis.from_url(REDIS_URL)
    claims = RedisClaims(redis, prefix=f"pufa:test:{someone()}")
    memory = MemoryClaims()
    try:
        for store in (claims, memory):
            assert await store.claim(1, 5) is Claim.NEW
            assert await store.finish(1, 5) is False
            assert await store.finish(1, 5) is True
            assert await store.finish(1, 6) is False  # taken over after a lease: not done
        assert await claims.handled_twice(1) == 1 and await claims.handled_twice(2) == 0
    finally:
        await redis.delete(claims.key(1, 5), claims.key(1, 6), claims.twice_key(1))
        await claims.close()


@pytest.mark.parametrize(
    ("error", "failed"),
    [
        (RuntimeError("the database went away"), True),
        (TelegramNetworkError(SendMessage(chat_id=1, text="x"), "reset"), True),
        (TelegramBadRequest(SendMessage(chat_id=1, text="x"), "message is not modified"), False),
        (TelegramForbiddenError(SendMessage(chat_id=1, text="x"), "bot was blocked"), False),
    ],
)
async def test_only_a_failure_that_may_pass_next_time_asks_for_the_update_again(
    error: Exception, failed: bool
) -> None:
    """Telegram refusing the handler's own request (a blocked bot, a double press's "not
    modified") would refuse it again: answered 200, not sent again."""
    handling = Handling()
    event = ErrorEvent(update=text_update(user(5), "hi"), exception=error)
    with pytest.raises(SkipHandler):  # the bot's own error handlers run next
        await _note_failure(event, handling)
    assert handling.failed is failed
