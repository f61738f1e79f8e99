"""``/healthz``, ``/readyz`` and ``/metrics`` on the bot's own web server.

- ``/healthz`` (liveness): 200 whenever the event loop serves a request; nothing else
  is asked, so a database outage never gets a process restarted that would not help.
- ``/readyz`` (readiness): 200 when the database answers ``SELECT 1`` and Redis (when
  configured) ``PING``, each within :data:`CHECK_TIMEOUT_S`; otherwise 503 with a JSON
  body naming what failed. 503 too while the process is still migrating the database
  at start-up (:func:`serve_while_starting`). A load balancer sends work only to the
  processes that are ready.
- ``/metrics``: Prometheus' text format (:mod:`bot.metrics`); with
  ``PUFA_METRICS_TOKEN`` set only for ``Authorization: Bearer <token>``.

The bodies never carry an error's text (it may hold a host name or a password from a
URL): only the kind of error.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import AsyncIterator, Awaitable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.metrics import Metrics

log = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 2.0


class Health:
    """What the health endpoints ask: the database, Redis, and whether start-up is over."""

    def __init__(
        self,
        engine: AsyncEngine | None,
        redis: Redis | None = None,
        *,
        metrics: Metrics | None = None,
        session_factory: async_sessionmaker[AsyncSession] | None = None,
        metrics_token: str | None = None,
        timeout_s: float = CHECK_TIMEOUT_S,
    ) -> None:
        self.engine = engine
        self.redis = redis
        self.metrics = metrics
        self.session_factory = session_factory
        self._token = metrics_token.encode() if metrics_token else None
        self.timeout_s = timeout_s
        self.migrating = engine is None

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        if self.metrics is not None:
            app.router.add_get("/metrics", self.serve_metrics)

    async def healthz(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(self, _request: web.Request) -> web.Response:
        failed = await self.problems()
        if failed:
            return web.json_response({"status": "not ready", "failed": failed}, status=503)
        return web.json_response({"status": "ready"})

    async def problems(self) -> dict[str, str]:
        """What is not ready, by name (``database``, ``redis``, ``migrations``)."""
        if self.migrating or self.engine is None:
            return {"migrations": "running"}
        checks: dict[str, Awaitable[None]] = {"database": self._database(self.engine)}
        if self.redis is not None:
            checks["redis"] = self._redis(self.redis)
        outcomes = await asyncio.gather(*(self._within(check) for check in checks.values()))
        return {name: problem for name, problem in zip(checks, outcomes, strict=True) if problem}

    async def _within(self, check: Awaitable[None]) -> str | None:
        try:
            async with asyncio.timeout(self.timeout_s):
                await check
        except TimeoutError:
            return f"no answer within {self.timeout_s:g} s"
        except Exception as error:
            return type(error).__name__
        return None

    @staticmethod
    async def _database(engine: AsyncEngine) -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    @staticmethod
    async def _redis(redis: Redis) -> None:
        await redis.ping()

    async def serve_metrics(self, request: web.Request) -> web.Response:
        assert self.metrics is not None
        if self._token is not None:
            scheme, _, given = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                given.encode("utf-8", "surrogateescape"), self._token
            ):
                return web.Response(status=401, text="Unauthorized")
        self.metrics.ready.set(0 if await self.problems() else 1)
        if self.session_factory is not None:
            await self.metrics.collect_outbox(self.session_factory)
        body = generate_latest(self.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


@contextlib.asynccontextmanager
async def serve_while_starting(host: str, port: int) -> AsyncIterator[None]:
    """While the process migrates the database, answer ``/healthz`` (alive) and
    ``/readyz`` (503, migrations running) on the port the bot will serve on. The full web
    server takes the port over when start-up is done. A port already taken is no reason
    not to start: the full server reports it."""
    app = web.Application()
    Health(None).add_routes(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as error:
        log.debug("no health answers while starting on %s:%s (%s)", host, port, error)
    try:
        yield
    finally:
        await runner.cleanup()


def redis_of(storage: Any) -> Redis | None:
    """The Redis client of the FSM storage, when it is Redis."""
    redis = getattr(storage, "redis", None)
    return redis if isinstance(redis, Redis) else None
