"""Running the bot: long polling by default, a webhook server when a URL is configured."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import setup_application
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.application.dashboard import login_key
from bot.application.live_figures import FigureSource, LiveFigures, fresh
from bot.application.web_participants import participant_key
from bot.config import Settings
from bot.factory import create_bot, create_dispatcher, set_commands
from bot.health import Health, redis_of, serve_while_starting
from bot.i18n import Translator
from bot.links import add_publicity_routes
from bot.log_limits import limit_logger
from bot.metrics import Metrics
from bot.pacing import PacedSends, SendLimiter
from bot.services import Service, ServiceContext, create_services
from bot.verification import add_verification_routes
from bot.web import Dashboard, add_dashboard_routes
from bot.web.mini_app import add_mini_app_routes
from bot.web.participant_pages import ParticipantPages, add_participant_routes
from bot.webhook import MAX_UPDATE_BYTES, WebhookEndpoint
from storage.database import (
    create_engine,
    create_reading_session_factory,
    create_session_factory,
)
from storage.migrate import prepare_database
from storage.presses import DirectPresses
from storage.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


@dataclass
class BotApp:
    """Everything one bot process holds, built once by the factories."""

    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    bot: Bot
    dp: Dispatcher
    translator: Translator
    services: dict[str, Service]
    limiter: SendLimiter
    presses: DirectPresses | None
    metrics: Metrics = field(default_factory=Metrics)

    @classmethod
    async def create(cls, settings: Settings, *, migrate: bool = True) -> BotApp:
        # While the database or Redis is down every update fails alike: a traceback a
        # minute says so, not one per update.
        for name in ("aiogram.event", "handlers.errors"):
            limit_logger(name)
        engine = create_engine(settings.database_url)
        if migrate:
            await prepare_database(engine)
        session_factory = create_session_factory(engine)
        metrics = Metrics()  # this process's own registry, served at /metrics
        metrics.watch_pool(engine)
        translator = Translator.load(settings.default_locale)
        bot = create_bot(settings)
        presses = await DirectPresses.connect(engine)
        dp = create_dispatcher(
            settings, session_factory, translator=translator, presses=presses, metrics=metrics
        )
        context = ServiceContext(settings, session_factory, bot, translator)
        # Whatever the bot sends shares the process's limiter with the broadcaster.
        bot.session.middleware(PacedSends(context.limiter))
        bot.session.middleware(metrics.request_middleware())
        services = create_services(context)
        metrics.attach(*services.values())
        for name, service in services.items():
            dp[name] = service
        return cls(
            settings,
            engine,
            session_factory,
            bot,
            dp,
            translator,
            services,
            context.limiter,
            presses,
            metrics,
        )

    async def start_services(self) -> None:
        for service in self.services.values():
            await service.start()

    async def stop_services(self) -> None:
        for service in reversed(list(self.services.values())):
            await service.stop()

    async def close(self) -> None:
        try:
            await self.dp.storage.close()
            await self.dp.fsm.events_isolation.close()
            await self.bot.session.close()
            await self.limiter.close()
        finally:  # the database's connections go whatever failed above
            if self.presses is not None:
                await self.presses.close()
            await self.engine.dispose()

    def _dashboard_figures(self) -> FigureSource:
        """The figures the dashboard's pages share (PUFA_DASHBOARD_REFRESH_S), or figures
        computed for each page when it is 0."""
        refresh = self.settings.dashboard_refresh_s
        if refresh == 0:
            return fresh

        @contextlib.asynccontextmanager
        async def open_uow() -> AsyncIterator[UnitOfWork]:
            async with self.session_factory() as session:
                yield UnitOfWork.over(session)

        return LiveFigures(open_uow, max_age=timedelta(seconds=refresh))

    def web_app(self) -> web.Application:
        """The aiohttp app: the webhook endpoint when configured, tracked links, and the
        health and metrics endpoints (:mod:`bot.health`)."""
        app = web.Application(client_max_size=MAX_UPDATE_BYTES)
        token = self.settings.metrics_token
        Health(
            self.engine,
            redis_of(self.dp.storage),
            metrics=self.metrics,
            session_factory=self.session_factory,
            metrics_token=token.get_secret_value() if token else None,
        ).add_routes(app)
        if self.settings.uses_webhook:
            WebhookEndpoint(self.dp, self.bot, self.settings.webhook_secret_token).register(
                app, self.settings.webhook_path
            )
            setup_application(app, self.dp, bot=self.bot)
        add_publicity_routes(app, self.session_factory)
        add_verification_routes(
            app,
            self.session_factory,
            self.translator.bind(self.settings.default_locale),
            self.settings.zone,
        )
        figures = self._dashboard_figures()
        if isinstance(figures, LiveFigures):

            async def settle(_app: web.Application) -> None:
                await figures.settle()  # a refresh under way ends before the database closes

            app.on_shutdown.append(settle)
        add_dashboard_routes(  # the staff dashboard (bot.web), in every mode
            app,
            Dashboard(
                self.session_factory,
                self.translator,
                self.settings.admin_ids,
                self.settings.admin_path,
                login_key(self.settings.token),
                self.settings.zone,
                secure=self.settings.link_base.startswith("https://"),
                figures=figures,
                reading_sessions=create_reading_session_factory(self.engine),
            ),
        )
        pages = ParticipantPages(
            self.session_factory,
            self.translator,
            participant_key(self.settings.token),
            self.settings.zone,
            secure=self.settings.link_base.startswith("https://"),
            issuer=self.settings.issuer,
            public_url=self.settings.public_url,
            presses=self.presses,
            recovery_tries=self.dp["recovery_tries"],
        )
        add_participant_routes(app, pages)  # the participant pages for phones without Telegram
        add_mini_app_routes(app, pages, self.settings.token)  # the same, inside Telegram
        return app

    async def run_polling(self) -> None:
        await self.bot.delete_webhook(drop_pending_updates=False)
        await self.dp.start_polling(
            self.bot,
            allowed_updates=self.dp.resolve_used_update_types(),
            handle_signals=False,
            close_bot_session=False,
            # Past this, updates wait in Telegram's queue instead of piling up here until
            # the connection pool times them out: slower under overload, but none lost.
            tasks_concurrency_limit=self.settings.max_concurrent_updates,
        )

    async def stop(self) -> None:
        with contextlib.suppress(RuntimeError):  # not polling: nothing to stop
            await self.dp.stop_polling()


@contextlib.asynccontextmanager
async def running_bot(settings: Settings, *, migrate: bool = True) -> AsyncIterator[BotApp]:
    """Start the bot in this event loop (polling or webhook, or only its web pages when
    ``receive_updates`` is off) and stop it on exit."""
    starting = contextlib.AsyncExitStack()
    if migrate:  # alive but not ready while migrating: /healthz 200, /readyz 503
        await starting.enter_async_context(
            serve_while_starting(settings.listen_host, settings.listen_port)
        )
    try:
        app = await BotApp.create(settings, migrate=migrate)
    except BaseException:
        await starting.aclose()
        raise
    runner: web.AppRunner | None = None
    polling: asyncio.Task[None] | None = None
    try:
        if settings.receive_updates:
            await set_commands(app.bot, app.translator)
        await starting.aclose()  # the full web server takes the port over
        runner = web.AppRunner(app.web_app())
        await runner.setup()
        site = web.TCPSite(runner, settings.listen_host, settings.listen_port)
        polls = settings.receive_updates and not settings.uses_webhook
        if not polls:  # webhooks arrive through it, or it is the pages' own process
            await site.start()
            if settings.receive_updates:
                await app.bot.set_webhook(
                    f"{settings.webhook_url}{settings.webhook_path}",
                    secret_token=settings.webhook_secret_token,
                    allowed_updates=app.dp.resolve_used_update_types(),
                )
        else:
            # Tracked links are served in polling mode too; the chat works without them.
            try:
                await site.start()
            except OSError as error:
                log.error(
                    "web server not started on %s:%s (%s): tracked links will not open",
                    settings.listen_host,
                    settings.listen_port,
                    error,
                )
            started = asyncio.Event()
            app.dp.startup.register(started.set)
            polling = asyncio.create_task(app.run_polling())
            waiting = asyncio.create_task(started.wait())
            await asyncio.wait({polling, waiting}, return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            if polling.done():
                polling.result()  # polling died before it began: say why
        await app.start_services()
        _freeze_startup_heap()
        yield app
    finally:
        await starting.aclose()
        await app.stop_services()
        if polling is not None:
            await app.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await polling
        if runner is not None:
            await runner.cleanup()
        await app.close()


@functools.cache  # once per process
def _freeze_startup_heap() -> None:
    """What is alive once the bot has started (modules, routers, models, templates) lives
    as long as the process: take it out of the cyclic collector's sight, so that a full
    collection walks only what serving creates. A full collection over the startup heap
    stalled every answer and page for 0.2-0.3 s, every few seconds under load
    (docs/PERFORMANCE.md)."""
    gc.collect()
    gc.freeze()


async def until_stopped() -> None:
    """Wait for Ctrl+C or SIGTERM (what ``systemctl stop`` and ``docker stop`` send); the
    caller then shuts down in order: updates in hand are finished, then the database and
    Redis are closed."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


async def serve(settings: Settings) -> None:
    """``pufa run``: serve until stopped (Ctrl+C or SIGTERM), then stop in order."""
    async with running_bot(settings):
        mode = "webhook" if settings.uses_webhook else "long polling"
        if not settings.receive_updates:
            mode = "web pages only, no updates"
        log.info("Pufa Bot is running (%s); press Ctrl+C to stop", mode)
        await until_stopped()
        log.info("Pufa Bot is stopping")
