"""Health, readiness, Prometheus metrics and JSON log lines.

Readiness is asked of a real database and Redis, and of a database on a port nobody
listens on; the metrics and logs come from a bot polling the sandbox, with users
writing to it over real HTTP.
"""

from __future__ import annotations

import asyncio
import importlib
import io
import json
import logging
import socket
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiogram.exceptions import TelegramForbiddenError, TelegramRetryAfter
from aiogram.methods import EditMessageText, Response, SendMessage
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import bot.app
from bot.app import running_bot
from bot.config import Settings
from bot.health import Health
from bot.i18n import Translator
from bot.logging_setup import JsonFormatter
from bot.metrics import ANSWER_HANDLERS, Metrics
from bot.sandbox.config import SandboxConfig
from bot.sandbox.server import RunningSandbox, run_sandbox
from bot.scheduler import Scheduler
from bot.services import ServiceContext
from storage.database import create_engine
from storage.models_publicity import BroadcastRow
from storage.publicity import PublicityRepository
from tests.conftest import REDIS_URL
from tests.mocked_bot import MockedBot
from tests.publicity_factories import add_people, make_article

# Telegram ids and a text no metric or log line may ever carry.
WRITERS = (7301234567, 7309876543)
SECRET_TEXT = "我的秘密是橘子汽水"
TOKEN = "scrape-me-7f3a"


def closed_port() -> int:
    """A port on which nothing listens (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    relaxed = {"per_chat_burst": 1000, "global_burst": 10000, "group_per_minute": 10000}
    async with run_sandbox(SandboxConfig(**relaxed)) as running:  # type: ignore[arg-type]
        yield running


async def ask(health: Health, path: str, **headers: str) -> tuple[int, Any]:
    app = web.Application()
    health.add_routes(app)
    async with TestClient(TestServer(app)) as client:
        response = await client.get(path, headers=headers)
        body = await response.read()
        if response.content_type == "application/json":
            return response.status, json.loads(body)
        return response.status, body.decode()


# -- readiness -------------------------------------------------------------------------


async def test_not_ready_when_the_database_is_unreachable() -> None:
    engine = create_engine(f"postgresql+asyncpg://pufa@127.0.0.1:{closed_port()}/pufa")
    try:
        health = Health(engine)
        status, body = await ask(health, "/readyz")
        assert status == 503
        assert body["status"] == "not ready"
        assert set(body["failed"]) == {"database"}
        assert "127.0.0.1" not in json.dumps(body)  # the kind of error, not its text
        # Alive all the same: restarting the process would not bring the database back.
        assert (await ask(health, "/healthz"))[0] == 200
    finally:
        await engine.dispose()


async def test_ready_when_the_database_and_redis_answer(database_url: str) -> None:
    engine = create_engine(database_url)
    redis = Redis.from_url(REDIS_URL)
    try:
        status, body = await ask(Health(engine, redis), "/readyz")
        assert (status, body) == (200, {"status": "ready"})
    finally:
        await redis.aclose()
        await engine.dispose()


async def test_not_ready_when_redis_is_unreachable(database_url: str) -> None:
    engine = create_engine(database_url)
    redis = Redis.from_url(f"redis://127.0.0.1:{closed_port()}/0")
    try:
        status, body = await ask(Health(engine, redis), "/readyz")
        assert status == 503
        assert set(body["failed"]) == {"redis"}
    finally:
        await redis.aclose()
        await engine.dispose()


def settings_for(sandbox: RunningSandbox, database_url: str, **extra: object) -> Settings:
    return Settings(
        bot_token=sandbox.config.token,
        bot_api_url=sandbox.url,
        database_url=database_url,
        redis_url=REDIS_URL,
        listen_port=closed_port(),
        **extra,  # type: ignore[arg-type]
    )


async def get(url: str, **headers: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
        return response.status, await response.text()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_alive_but_not_ready_while_migrating_then_ready_in_polling_mode(
    sandbox: RunningSandbox, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(sandbox, database_url)
    base = f"http://{settings.listen_host}:{settings.listen_port}"
    migrating, release = asyncio.Event(), asyncio.Event()
    migrate = bot.app.prepare_database

    async def slow_migration(engine: Any) -> None:
        migrating.set()
        await release.wait()
        await migrate(engine)

    monkeypatch.setattr(bot.app, "prepare_database", slow_migration)

    async def start_and_check() -> None:
        async with running_bot(settings, migrate=True):
            assert settings.uses_webhook is False  # long polling, web server all the same
            status, body = await get(f"{base}/readyz")
            assert status == 200, body
            assert json.loads(body) == {"status": "ready"}
            assert (await get(f"{base}/healthz"))[0] == 200

    starting = asyncio.create_task(start_and_check())
    try:
        async with asyncio.timeout(30):
            await migrating.wait()
        assert (await get(f"{base}/healthz"))[0] == 200
        status, body = await get(f"{base}/readyz")
        assert status == 503
        assert json.loads(body)["failed"] == {"migrations": "running"}
    finally:
        release.set()
        async with asyncio.timeout(60):
            await starting


# -- metrics and logs from a running bot -----------------------------------------------


@pytest.fixture
def json_log() -> Any:
    """Every log record at INFO and above, formatted as ``PUFA_LOG_FORMAT=json`` does."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_metrics_after_updates_carry_no_ids_and_need_the_token(
    sandbox: RunningSandbox, database_url: str, json_log: io.StringIO
) -> None:
    settings = settings_for(sandbox, database_url, metrics_token=TOKEN)
    metrics_url = f"http://{settings.listen_host}:{settings.listen_port}/metrics"
    async with running_bot(settings, migrate=False):
        for user in WRITERS:
            await sandbox.client.send_text(user, "/start", first_name="小明")
            await sandbox.client.wait_for_messages(user, 1)
            await sandbox.client.send_text(user, SECRET_TEXT, first_name="小明")
            await sandbox.client.send_text(user, "/help", first_name="小明")
            await sandbox.client.wait_for_messages(user, 3)
        assert (await get(metrics_url))[0] == 401
        assert (await get(metrics_url, Authorization="Bearer wrong"))[0] == 401
        assert (await get(metrics_url, Authorization=TOKEN))[0] == 401  # not a bearer
        status, exposition = await get(metrics_url, Authorization=f"Bearer {TOKEN}")
    assert status == 200
    samples = parse(exposition)
    assert samples[('pufa_updates_total{type="message"}')] >= 4
    started = (
        'pufa_handler_seconds_count{handler="handlers.start.start_plain",router="handlers.start"}'
    )
    assert samples.get(started, 0) >= 2, exposition
    assert any(name.startswith("pufa_handler_seconds_bucket{") for name in samples)
    assert samples['pufa_messages_sent_total{source="bot"}'] >= 4
    assert "pufa_db_pool_in_use" in samples
    assert samples["pufa_ready"] == 1
    for user in WRITERS:
        assert str(user) not in exposition
    assert SECRET_TEXT not in exposition

    lines = [line for line in json_log.getvalue().splitlines() if line]
    assert lines, "the bot logged nothing at INFO"
    for line in lines:
        record = json.loads(line)  # every line is one JSON object
        assert {"time", "level", "logger", "message"} <= set(record)
        assert SECRET_TEXT not in line
        assert "小明" not in line
        for user in WRITERS:
            assert str(user) not in line
    assert any(json.loads(line)["logger"] == "aiogram.event" for line in lines)


def parse(exposition: str) -> dict[str, float]:
    """``name{labels}`` -> value, labels in the order the client writes them (sorted)."""
    samples = {}
    for line in exposition.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


async def test_outbox_depth_per_active_broadcast_only(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await add_people(session_factory, [*WRITERS, 7305550001], unit_id=None)
    article = await make_article(session_factory)
    async with session_factory() as session:
        broadcast = await PublicityRepository(session).start_broadcast(
            article.id, created_by=1, locale="zh-CN", progress_chat_id=None
        )
        await session.commit()
    metrics = Metrics()
    await metrics.collect_outbox(session_factory)
    samples = parse(generate(metrics))
    assert samples[f'pufa_outbox_depth{{broadcast="{broadcast.id}",state="running"}}'] == 3
    assert not any(str(user) in name for name in samples for user in WRITERS)

    async with session_factory() as session:
        await session.execute(
            update(BroadcastRow).where(BroadcastRow.id == broadcast.id).values(state="done")
        )
        await session.commit()
    await metrics.collect_outbox(session_factory)
    assert not any(name.startswith("pufa_outbox_depth{") for name in parse(generate(metrics)))


def generate(metrics: Metrics) -> str:
    from prometheus_client import generate_latest

    return generate_latest(metrics.registry).decode()


# -- log lines -------------------------------------------------------------------------


def test_json_lines_carry_extra_fields_and_tracebacks() -> None:
    formatter = JsonFormatter()
    record = logging.LogRecord(
        "bot.broadcaster", logging.WARNING, __file__, 1, "broadcast %d paused", (7,), None
    )
    record.broadcast = 7
    line = json.loads(formatter.format(record))
    assert line["message"] == "broadcast 7 paused"
    assert (line["level"], line["logger"], line["broadcast"]) == ("WARNING", "bot.broadcaster", 7)
    assert line["time"].endswith("+00:00")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        failed = logging.LogRecord(
            "bot.x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    line = json.loads(formatter.format(failed))
    assert "RuntimeError: boom" in line["exception"]
    assert "\n" not in formatter.format(failed)  # one record, one line


# -- what the parts count --------------------------------------------------------------


async def a_job(context: ServiceContext, *, key: str) -> None:
    """A scheduled job that does nothing."""


async def a_failing_job(context: ServiceContext, *, key: str) -> None:
    raise RuntimeError(key)


async def test_scheduler_counts_runs_failures_and_misses(
    database_url: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    settings = Settings(bot_token="42:TEST-token", database_url=database_url)
    context = ServiceContext(settings, session_factory, MockedBot(), Translator.load())
    scheduler = Scheduler(context, grace=timedelta(hours=1), replan_every=timedelta(0))
    metrics = Metrics()
    metrics.attach(scheduler)
    now = datetime.now(UTC)
    scheduler.at("due", now - timedelta(minutes=1), a_job, key="due")
    scheduler.at("fails", now - timedelta(minutes=1), a_failing_job, key="fails")
    scheduler.at("too-late", now - timedelta(hours=2), a_job, key="too-late")
    await scheduler.start()
    try:
        await scheduler.wait_idle(30)
    finally:
        await scheduler.stop()
    samples = parse(generate(metrics))
    job = "tests.test_health_metrics.a_job"
    failing = "tests.test_health_metrics.a_failing_job"
    assert samples[f'pufa_scheduler_job_runs_total{{job="{job}",outcome="ok"}}'] == 1
    assert samples[f'pufa_scheduler_job_runs_total{{job="{failing}",outcome="failed"}}'] == 1
    assert samples[f'pufa_scheduler_job_misses_total{{job="{job}"}}'] == 1


async def test_requests_count_sends_429s_and_403s() -> None:
    metrics = Metrics()
    counted = metrics.request_middleware("bot")
    send = SendMessage(chat_id=WRITERS[0], text="hi")
    edit = EditMessageText(chat_id=WRITERS[0], message_id=1, text="hi")

    async def accepted(_bot: Any, _method: Any) -> Any:
        return Response[Any](ok=True, result=True)

    async def too_many(_bot: Any, method: Any) -> Any:
        raise TelegramRetryAfter(method, "Too Many Requests: retry after 3", 3)

    async def blocked(_bot: Any, method: Any) -> Any:
        raise TelegramForbiddenError(method, "Forbidden: bot was blocked by the user")

    bot = MockedBot()
    await counted(accepted, bot, send)
    await counted(accepted, bot, edit)  # an edit puts no new message in the chat
    with pytest.raises(TelegramRetryAfter):
        await counted(too_many, bot, send)
    with pytest.raises(TelegramForbiddenError):
        await counted(blocked, bot, send)
    samples = parse(generate(metrics))
    assert samples['pufa_messages_sent_total{source="bot"}'] == 1
    assert samples['pufa_telegram_429_total{source="bot"}'] == 1
    assert samples['pufa_telegram_403_total{source="bot"}'] == 1
    assert not any(str(WRITERS[0]) in name for name in samples)


def test_the_answer_handlers_counted_exist() -> None:
    for name in ANSWER_HANDLERS:
        module, _, function = name.rpartition(".")
        assert callable(getattr(importlib.import_module(module), function)), name
