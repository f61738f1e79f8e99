"""An update is handled once, however many times Telegram delivers it and to whom.

Telegram delivers at least once: a webhook update answered with an error or too late
comes again with the same ``update_id``, and behind a load balancer the copy may reach
another process. Here two dispatchers sharing Redis get the same update; the sandbox
re-delivers through a proxy that loses the bot's first answer (a 500) or holds it past
the sandbox's time-out; and a claim store that cannot be reached lets updates through.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.types import Update
from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import running_bot
from bot.config import Settings
from bot.dedupe import Claim, MemoryClaims, RedisClaims, UpdateDedupe, create_dedupe
from bot.factory import create_dispatcher
from bot.sandbox.config import SandboxConfig
from bot.sandbox.server import RunningSandbox, run_sandbox
from bot.webhook import SECRET_HEADER
from quizzes.participants import Role
from storage.models import ParticipantRow
from tests.conftest import REDIS_URL
from tests.factories import World, build_world
from tests.mocked_bot import MockedBot, text_update, user
from tests.test_end_to_end import free_port, settings_for

TOKEN = "42:TEST-token"


@pytest.fixture
async def world(session_factory: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(session_factory)


def someone() -> int:
    """A Telegram id no earlier run left state for in the shared Redis."""
    return 10**9 + secrets.randbelow(10**9)


def fresh(update: Update) -> Update:
    """The same update under an id no earlier run has claimed in the shared Redis."""
    return update.model_copy(update={"update_id": 10**9 + secrets.randbelow(10**9)})


async def people(session_factory: async_sessionmaker[AsyncSession], telegram_id: int) -> int:
    async with session_factory() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(ParticipantRow)
            .where(
                ParticipantRow.telegram_id == telegram_id, ParticipantRow.joined_at.is_not(None)
            )
        )
    return count or 0


# ---------------------------------------------------------------- two processes, one Redis


async def test_two_dispatchers_sharing_redis_handle_an_update_once(
    session_factory: async_sessionmaker[AsyncSession], world: World
) -> None:
    """Both "processes" get every update at the same moment; each runs in one of them."""
    settings = Settings(bot_token=TOKEN, redis_url=REDIS_URL)
    first = create_dispatcher(settings, session_factory)
    second = create_dispatcher(settings, session_factory)
    bot = MockedBot()
    student = user(someone(), first_name="李华")
    code = world.codes[("七年级1班", Role.STUDENT)]
    joining, naming = (
        fresh(text_update(student, f"/start {code}")),
        fresh(text_update(student, "李同学")),
    )
    try:
        for update in (joining, naming):
            await asyncio.gather(first.feed_update(bot, update), second.feed_update(bot, update))
    finally:
        for dp in (first, second):
            await dp.storage.close()
            await dp.fsm.events_isolation.close()
    texts = bot.sent_texts(student.id)
    assert len(texts) == 3, texts  # joined, "your name?", registered: each once
    assert "你已加入" in texts[0] and "注册完成" in texts[2]
    assert await people(session_factory, student.id) == 1


async def test_a_copy_is_ignored_by_the_same_process_without_redis(
    session_factory: async_sessionmaker[AsyncSession], world: World
) -> None:
    """Without Redis the claims are in memory: one process, and a copy comes back to it."""
    dp = create_dispatcher(
        Settings(bot_token=TOKEN),
        session_factory,
        storage=MemoryStorage(),
        events_isolation=SimpleEventIsolation(),
    )
    bot = MockedBot()
    student = user(someone())
    joining = text_update(student, f"/start {world.codes[('七年级1班', Role.STUDENT)]}")
    await dp.feed_update(bot, joining)
    await dp.feed_update(bot, joining)
    assert len(bot.sent_texts(student.id)) == 2  # joined, "your name?"; not "already joined"


# ---------------------------------------------------------------- through the sandbox


class LossyProxy:
    """Between the sandbox and the bot: passes each update on, but while ``losing``, the
    bot's answer to an update's first copy is lost, as behind a load balancer whose
    upstream answered too late: ``500`` answers the sandbox instead, or nothing until the
    sandbox has given up (``timeout``)."""

    def __init__(self, target: str, how: str) -> None:
        self.target = target
        self.how = how
        self.losing = True
        self.seen: dict[int, int] = {}
        self.release = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        update_id = (await request.json())["update_id"]
        self.seen[update_id] = self.seen.get(update_id, 0) + 1
        # Decided on receipt: the bot answers once it has handled the update, and by then
        # the test may have seen its replies and stopped losing.
        lose = self.losing and self.seen[update_id] == 1
        if self._session is None:
            self._session = aiohttp.ClientSession()
        headers = {SECRET_HEADER: request.headers.get(SECRET_HEADER, "")}
        headers["Content-Type"] = "application/json"
        async with self._session.post(self.target, data=body, headers=headers) as answer:
            status, text = answer.status, await answer.text()
        if lose:
            if self.how == "timeout":
                await self.release.wait()  # the sandbox stopped waiting long ago
            return web.Response(status=500, text="upstream answer lost")
        return web.Response(status=status, text=text, content_type="application/json")

    async def close(self) -> None:
        self.release.set()
        if self._session is not None:
            await self._session.close()


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    # Short waits, so the copies come quickly; limits off, nothing here is about them.
    config = SandboxConfig(enforce_limits=False, webhook_timeout_s=0.5, webhook_retry_max_s=0.2)
    async with run_sandbox(config) as running:
        yield running


@pytest.mark.parametrize(("how", "store"), [("500", "memory"), ("timeout", "redis")])
async def test_a_webhook_update_delivered_again_takes_effect_once(
    how: str,
    store: str,
    sandbox: RunningSandbox,
    database_url: str,
    world: World,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    bot_port, proxy_port = free_port(), free_port()
    settings = settings_for(
        sandbox,
        database_url,
        webhook_url=f"http://127.0.0.1:{proxy_port}",
        listen_port=bot_port,
        redis_url=REDIS_URL if store == "redis" else None,
    )
    proxy = LossyProxy(f"http://127.0.0.1:{bot_port}{settings.webhook_path}", how)
    proxy_app = web.Application()
    proxy_app.router.add_post(settings.webhook_path, proxy.handle)
    runner = web.AppRunner(proxy_app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", proxy_port).start()
    client, student = sandbox.client, someone()
    try:
        async with running_bot(settings, migrate=False):
            code = world.codes[("七年级1班", Role.STUDENT)]
            await client.send_text(student, f"/start {code}", first_name="李华")
            await client.wait_for_messages(student, 2)
            await client.send_text(student, "李同学", first_name="李华")
            await client.wait_for_messages(student, 3)
            proxy.losing = False
            # Updates of one chat are delivered in order, each after the one before was
            # taken, and handled in order: once /help is answered, both copies of each
            # update before it have been handled or ignored.
            await client.send_text(student, "/help", first_name="李华")
            messages = await client.wait_for_messages(student, 4)
            stats = await client.stats()
    finally:
        await proxy.close()
        await runner.cleanup()
    texts = [message["text"] for message in messages]
    assert len(texts) == 4, texts  # joined, "your name?", registered, help: each once
    assert "你已加入" in texts[0] and "注册完成" in texts[2]
    assert not any("无需重复加入" in text for text in texts)
    joined_id, named_id, _help_id = sorted(proxy.seen)
    assert proxy.seen[joined_id] >= 2 and proxy.seen[named_id] >= 2  # each came again
    assert stats["webhook_redeliveries"] >= 2 and stats["webhook_dropped"] == 0
    assert await people(session_factory, student) == 1


async def test_the_sandbox_gives_an_update_up_after_its_last_attempt() -> None:
    """Like Telegram, the sandbox does not retry for ever: after ``webhook_max_attempts``
    posts answered with errors the update is dropped, and counted."""
    posts: list[int] = []

    async def failing(request: web.Request) -> web.Response:
        posts.append((await request.json())["update_id"])
        return web.Response(status=502)

    app = web.Application()
    app.router.add_post("/hook", failing)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    config = SandboxConfig(webhook_max_attempts=3, webhook_retry_initial_s=0.01)
    try:
        async with run_sandbox(config) as running:
            api = TelegramAPIServer.from_base(running.url)
            bot = Bot(running.config.token, session=AiohttpSession(api=api))
            try:
                await bot.set_webhook(f"http://127.0.0.1:{port}/hook")
                sent = await running.client.send_text(someone(), "hello")
                for _ in range(500):
                    stats = await running.client.stats()
                    if stats["webhook_dropped"]:
                        break
                    await asyncio.sleep(0.01)
                info = await bot.get_webhook_info()
            finally:
                await bot.session.close()
    finally:
        await runner.cleanup()
    assert posts == [sent.update_id] * 3
    assert stats["webhook_posts"] == 3 and stats["webhook_redeliveries"] == 2
    assert stats["webhook_dropped"] == 1 and info.pending_update_count == 0
    assert info.last_error_message is not None and "502" in info.last_error_message


# ---------------------------------------------------------------- the store unavailable


async def test_with_the_claims_unreachable_updates_are_handled_and_said_once(
    session_factory: async_sessionmaker[AsyncSession],
    world: World,
    caplog: pytest.LogCaptureFixture,
) -> None:
    gone = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    dedupe = UpdateDedupe(RedisClaims(gone, timeout_s=2.0), retry_s=0.0)
    dp = create_dispatcher(
        Settings(bot_token=TOKEN),
        session_factory,
        storage=MemoryStorage(),
        events_isolation=SimpleEventIsolation(),
        dedupe=dedupe,
    )
    bot = MockedBot()
    student = user(someone())
    caplog.set_level(logging.WARNING, logger="bot.dedupe")
    try:
        await dp.feed_update(
            bot, text_update(student, f"/start {world.codes[('七年级1班', Role.STUDENT)]}")
        )
        await dp.feed_update(bot, text_update(student, "李同学"))
    finally:
        await dedupe.close()
    texts = bot.sent_texts(student.id)
    assert len(texts) == 3 and "注册完成" in texts[2]  # handled, not dropped
    assert await people(session_factory, student.id) == 1
    warnings = [r for r in caplog.records if r.name == "bot.dedupe"]
    assert len(warnings) == 1 and "handling updates without it" in warnings[0].getMessage()


# ---------------------------------------------------------------- a copy meets a claim in progress


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


def dispatcher_with(
    session_factory: async_sessionmaker[AsyncSession], dedupe: UpdateDedupe
) -> Dispatcher:
    return create_dispatcher(
        Settings(bot_token=TOKEN),
        session_factory,
        storage=MemoryStorage(),
        events_isolation=SimpleEventIsolation(),
        dedupe=dedupe,
    )


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(1000):  # 10 s at most
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("never came true")


async def test_a_copy_waits_for_the_handler_in_progress_and_is_ignored_when_it_is_done(
    session_factory: async_sessionmaker[AsyncSession], world: World, redis: Redis
) -> None:
    other_process = RedisClaims(redis, owns_client=False)
    dedupe = UpdateDedupe(RedisClaims(redis, owns_client=False), wait_s=0.02)
    dp, bot, student = dispatcher_with(session_factory, dedupe), MockedBot(), user(someone())
    update = fresh(text_update(student, f"/start {world.codes[('七年级1班', Role.STUDENT)]}"))
    assert await other_process.claim(bot.id, update.update_id) is Claim.NEW
    copy = asyncio.create_task(dp.feed_update(bot, update))
    await until(lambda: dedupe.waiting == 1)
    await other_process.finish(bot.id, update.update_id)
    await copy
    assert bot.sent_texts(student.id) == [] and dedupe.ignored == 1


async def test_a_copy_takes_over_when_the_handler_in_progress_died(
    session_factory: async_sessionmaker[AsyncSession], world: World, redis: Redis
) -> None:
    """The process that claimed the update was killed: its lease runs out, and the copy
    (re-sent because that process never answered) is handled."""
    died = RedisClaims(redis, lease_s=0.3, owns_client=False)
    dedupe = UpdateDedupe(RedisClaims(redis, owns_client=False), wait_s=0.02)
    dp, bot, student = dispatcher_with(session_factory, dedupe), MockedBot(), user(someone())
    update = fresh(text_update(student, f"/start {world.codes[('七年级1班', Role.STUDENT)]}"))
    assert await died.claim(bot.id, update.update_id) is Claim.NEW
    await dp.feed_update(bot, update)
    assert len(bot.sent_texts(student.id)) == 2 and dedupe.ignored == 0
    assert await died.claim(bot.id, update.update_id) is Claim.DONE


# ---------------------------------------------------------------- the middleware alone


class Flaky:
    """A handler that fails the first time."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, event: Any, data: dict[str, Any]) -> str:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("the database went away")
        return "done"


async def test_a_failed_update_is_given_back_so_a_copy_can_succeed() -> None:
    dedupe = UpdateDedupe(MemoryClaims())
    handler, update, data = Flaky(), text_update(user(5), "hi"), {"bot": MockedBot()}
    with pytest.raises(RuntimeError):
        await dedupe(handler, update, data)
    assert await dedupe(handler, update, data) == "done"
    assert await dedupe(handler, update, data) is UNHANDLED
    assert handler.calls == 2 and dedupe.ignored == 1


async def test_memory_claims_lease_then_remember_then_forget() -> None:
    now = [0.0]
    claims = MemoryClaims(ttl_s=600, lease_s=60, max_ids=3, monotonic=lambda: now[0])
    new, busy, done = Claim.NEW, Claim.BUSY, Claim.DONE
    assert [await claims.claim(1, n) for n in (1, 2, 1)] == [new, new, busy]
    assert await claims.claim(2, 1) is new  # another bot's update 1
    await claims.finish(1, 1)
    now[0] = 61.0
    assert await claims.claim(1, 1) is done
    assert await claims.claim(1, 2) is new  # its handler's lease ran out: taken over
    now[0] = 700.0
    assert await claims.claim(1, 1) is new  # forgotten after the lifetime
    for n in (10, 11, 12):
        assert await claims.claim(1, n) is new
    await claims.finish(1, 12)
    assert await claims.claim(1, 12) is done
    await claims.finish(1, 13)
    assert await claims.claim(1, 1) is new  # pushed out by newer ones


def test_no_claims_when_turned_off() -> None:
    assert create_dedupe(REDIS_URL, 0) is None
    made = create_dedupe(None, 60)
    assert made is not None and isinstance(made.store, MemoryClaims)
