"""Prometheus metrics of one bot process, served at ``/metrics``.

One :class:`Metrics` per process, built with the :class:`bot.app.BotApp`, holding a
registry of its own rather than prometheus-client's global one: a test (or the demo) may
run several bots in one interpreter, and each must count only what it did.

Labels name kinds of things only (update types, handler names, job functions, broadcast
ids while a broadcast is active): never a Telegram id, a chat, a name or a text.

Who counts what:

- updates by type and each handler's latency: two middlewares put on the Dispatcher by
  :func:`bot.factory.create_dispatcher` (:meth:`Metrics.update_middleware`,
  :meth:`Metrics.handler_middleware`);
- messages sent, 429s and 403s: a request middleware on the handlers' Bot
  (:class:`CountedRequests`), and the broadcaster for its own sends;
- scheduler job runs and misses: the scheduler;
- outbox depth per broadcast and the database pool: read when Prometheus scrapes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.dispatcher.event.handler import HandlerObject
from aiogram.exceptions import TelegramForbiddenError, TelegramRetryAfter
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import TelegramObject, Update
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.log_limits import LogLimit, left_out_note

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]

# Handler latency: a press is tens of milliseconds, a report seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# The handlers that answer a quiz question (a press in a campaign, a vote in a live quiz).
ANSWER_HANDLERS = {
    "handlers.quiz.press_option": "quiz",
    "handlers.quiz.submit_multiple": "quiz",
    "handlers.livequiz.answer_poll": "live",
}
# Bot API methods that put a message in a chat.
_SENDING = ("Send", "Copy", "Forward")
# Pending deliveries of the broadcasts still running or paused: one indexed count each.
_OUTBOX_DEPTH = text(
    "SELECT d.broadcast_id, b.state, count(*) FROM deliveries d"
    " JOIN broadcasts b ON b.id = d.broadcast_id"
    " WHERE b.state IN ('running', 'paused') AND d.status IN ('pending', 'sending')"
    " GROUP BY d.broadcast_id, b.state"
)
SCRAPE_QUERY_TIMEOUT_S = 2.0


def handler_name(handler: HandlerObject | None) -> str:
    """``module.function`` of the handler's callback: code, never data."""
    if handler is None:
        return "none"
    callback = handler.callback
    module = getattr(callback, "__module__", None) or "?"
    name = getattr(callback, "__qualname__", None) or type(callback).__name__
    return f"{module}.{name}"


class Metrics:
    """The process's metrics and its registry (see the module docstring)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)  # CPU, memory, open files of this process
        self.ready = Gauge(
            "pufa_ready",
            "1 when the database and Redis answer, as /readyz asks (at scrape time)",
            registry=r,
        )
        self.updates = Counter(
            "pufa_updates", "Telegram updates received, by type", ["type"], registry=r
        )
        self.handler_seconds = Histogram(
            "pufa_handler_seconds",
            "Time a handler took, with the participant look-up before it",
            ["router", "handler"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.handler_errors = Counter(
            "pufa_handler_errors", "Handlers that raised", ["router", "handler"], registry=r
        )
        self.quiz_answers = Counter(
            "pufa_quiz_answers",
            "Quiz answer presses and live-quiz votes handled to the end",
            ["kind"],
            registry=r,
        )
        self.messages_sent = Counter(
            "pufa_messages_sent",
            "Messages Telegram accepted, by who sent them (bot: replies and announcements)",
            ["source"],
            registry=r,
        )
        self.telegram_429 = Counter(
            "pufa_telegram_429", "Bot API answers 429 Too Many Requests", ["source"], registry=r
        )
        self.telegram_403 = Counter(
            "pufa_telegram_403",
            "Bot API answers 403 Forbidden (a user blocked the bot)",
            ["source"],
            registry=r,
        )
        self.job_runs = Counter(
            "pufa_scheduler_job_runs",
            "Scheduled job firings this process claimed and ran, by job and outcome",
            ["job", "outcome"],
            registry=r,
        )
        self.job_misses = Counter(
            "pufa_scheduler_job_misses",
            "Scheduled firings skipped because they were later than the grace",
            ["job"],
            registry=r,
        )
        self.outbox_depth = Gauge(
            "pufa_outbox_depth",
            "Deliveries still to send, per running or paused broadcast (read at scrape time)",
            ["broadcast", "state"],
            registry=r,
        )
        self.db_pool_in_use = Gauge(
            "pufa_db_pool_in_use", "Database connections checked out of the pool", registry=r
        )
        self.db_pool_size = Gauge(
            "pufa_db_pool_size", "Connections the database pool keeps open", registry=r
        )
        self._log_limit = LogLimit()

    # -- what the bot's parts call ---------------------------------------------------------

    def sent(self, source: str) -> None:
        self.messages_sent.labels(source).inc()

    def refused(self, status: int, source: str) -> None:
        """A 429 or 403 from the Bot API."""
        (self.telegram_429 if status == 429 else self.telegram_403).labels(source).inc()

    def job_ran(self, func: Callable[..., object], failed: bool) -> None:
        self.job_runs.labels(_job_name(func), "failed" if failed else "ok").inc()

    def job_missed(self, func: Callable[..., object]) -> None:
        self.job_misses.labels(_job_name(func)).inc()

    def attach(self, *services: object) -> None:
        """Hand these metrics to the services that count something (those with a
        ``metrics`` attribute: the scheduler, the broadcaster)."""
        for service in services:
            if hasattr(service, "metrics"):
                setattr(service, "metrics", self)  # noqa: B010

    def watch_pool(self, engine: AsyncEngine) -> None:
        pool = engine.sync_engine.pool
        self.db_pool_in_use.set_function(lambda: float(getattr(pool, "checkedout", _zero)()))
        self.db_pool_size.set_function(lambda: float(getattr(pool, "size", _zero)()))

    # -- middlewares -----------------------------------------------------------------------

    def update_middleware(self) -> BaseMiddleware:
        return _CountUpdates(self)

    def handler_middleware(self) -> BaseMiddleware:
        return _TimeHandlers(self)

    def request_middleware(self, source: str = "bot") -> BaseRequestMiddleware:
        return CountedRequests(self, source)

    # -- at scrape time --------------------------------------------------------------------

    async def collect_outbox(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        """Read the outbox depth of the active broadcasts; finished ones lose their label."""
        try:
            async with asyncio.timeout(SCRAPE_QUERY_TIMEOUT_S), session_factory() as session:
                rows = (await session.execute(_OUTBOX_DEPTH)).all()
        except Exception as error:
            self.outbox_depth.clear()
            if (left_out := self._log_limit.allow(type(error).__name__)) is not None:
                log.warning(
                    "metrics: outbox depth not read (%s)%s",
                    type(error).__name__,
                    left_out_note(left_out),
                )
            return
        self.outbox_depth.clear()
        for broadcast_id, state, depth in rows:
            self.outbox_depth.labels(str(broadcast_id), state).set(depth)


def _zero() -> int:
    return 0


def _job_name(func: Callable[..., object]) -> str:
    return f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', '?')}"


class _CountUpdates(BaseMiddleware):
    """Outer middleware on ``update``: counts every update by its type."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        kind = event.event_type if isinstance(event, Update) else type(event).__name__
        self.metrics.updates.labels(kind).inc()
        return await handler(event, data)


class _TimeHandlers(BaseMiddleware):
    """Inner middleware on every event type: times the handler chosen for the event."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        name = handler_name(data.get("handler"))
        router = getattr(data.get("event_router"), "name", None) or "?"
        started = time.perf_counter()
        try:
            result = await handler(event, data)
        except Exception:
            self.metrics.handler_errors.labels(router, name).inc()
            raise
        finally:
            self.metrics.handler_seconds.labels(router, name).observe(
                time.perf_counter() - started
            )
        if name in ANSWER_HANDLERS:
            self.metrics.quiz_answers.labels(ANSWER_HANDLERS[name]).inc()
        return result


class CountedRequests(BaseRequestMiddleware):
    """Counts what the Bot API answers this Bot: messages accepted, 429s, 403s.

    Put after :class:`bot.retry.RetryMiddleware`, it sees every attempt, so a 429 that
    was waited out and retried still counts once per answer.
    """

    def __init__(self, metrics: Metrics, source: str) -> None:
        self.metrics = metrics
        self.source = source

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        try:
            response = await make_request(bot, method)
        except TelegramRetryAfter:
            self.metrics.refused(429, self.source)
            raise
        except TelegramForbiddenError:
            self.metrics.refused(403, self.source)
            raise
        if type(method).__name__.startswith(_SENDING):
            self.metrics.sent(self.source)
        return response


NO_METRICS = Metrics()
"""What the scheduler and the broadcaster count into until a bot app hands them its own
(:meth:`Metrics.attach`): never served, so tests that build them alone need nothing."""
