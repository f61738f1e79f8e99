"""Factories: tests, the demo and production build the same Bot and Dispatcher."""

from __future__ import annotations

from typing import Any, ClassVar

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.fsm.storage.redis import RedisEventIsolation, RedisStorage
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import BotCommand
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import TELEGRAM_API_URL, Settings
from bot.dedupe import UpdateDedupe, create_dedupe
from bot.i18n import SUPPORTED_LOCALES, Translator
from bot.metrics import Metrics
from bot.middlewares import (
    DatabaseMiddleware,
    ParticipantMiddleware,
    PermissionsMiddleware,
    ThrottlingMiddleware,
)
from bot.recent_tries import recovery_tries
from bot.retry import ExpiredCallbackMiddleware, RetryMiddleware
from handlers import get_routers
from quizzes.clock import Clock, system_clock
from storage.presses import DirectPresses


class KeepResponseModels(BaseRequestMiddleware):
    """Keeps aiogram's ``Response[T]`` reply models alive for the life of the process.

    aiogram validates every Bot API reply with ``Response[method.__returning__]``, a
    pydantic generic model built on first use. pydantic caches those classes only weakly,
    so each garbage collection dropped them and the next reply built them again, about
    10 ms of CPU each: under load, a good share of the bot's time.
    """

    kept: ClassVar[dict[Any, type[Response[Any]]]] = {}

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        returning = method.__returning__
        if returning not in self.kept:
            self.kept[returning] = Response[returning]  # type: ignore[valid-type]
        return await make_request(bot, method)


def create_bot(settings: Settings) -> Bot:
    session = AiohttpSession()
    if settings.bot_api_url != TELEGRAM_API_URL:
        session = AiohttpSession(api=TelegramAPIServer.from_base(settings.bot_api_url))
    session.middleware(KeepResponseModels())
    session.middleware(RetryMiddleware())
    session.middleware(ExpiredCallbackMiddleware())
    return Bot(
        settings.token,
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


def create_fsm(settings: Settings) -> tuple[BaseStorage, BaseEventIsolation]:
    """Redis when configured (several bot processes share state), memory otherwise."""
    if settings.redis_url:
        storage = RedisStorage.from_url(settings.redis_url)
        return storage, RedisEventIsolation(storage.redis)
    return MemoryStorage(), SimpleEventIsolation()


def create_dispatcher(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    *,
    translator: Translator | None = None,
    storage: BaseStorage | None = None,
    events_isolation: BaseEventIsolation | None = None,
    presses: DirectPresses | None = None,
    clock: Clock = system_clock,
    metrics: Metrics | None = None,
    dedupe: UpdateDedupe | None = None,
) -> Dispatcher:
    """``clock`` is handed to every handler that takes it (tests pass a fixed one).
    ``metrics`` (the process's, :mod:`bot.metrics`) counts updates and times handlers.
    ``dedupe`` defaults to the claims the settings call for: in Redis (through the FSM
    storage's client when it is Redis too), else in memory."""
    if storage is None or events_isolation is None:
        default_storage, default_isolation = create_fsm(settings)
        storage = storage or default_storage
        events_isolation = events_isolation or default_isolation
    translator = translator or Translator.load(settings.default_locale)
    dp = Dispatcher(
        storage=storage,
        events_isolation=events_isolation,
        settings=settings,
        session_factory=session_factory,
        translator=translator,
        clock=clock,
    )
    # Recovery codes' guesses, counted across processes when they share Redis (/link, /m/).
    redis = storage.redis if isinstance(storage, RedisStorage) else None
    bot_id = settings.token.partition(":")[0] if settings.bot_token else None
    dp["recovery_tries"] = recovery_tries(redis, bot_id)
    if metrics is not None:  # first: every update received counts, copies too
        dp.update.outer_middleware(metrics.update_middleware())
    # First of the bot's own: a copy of an update already handled opens no session.
    dedupe = dedupe or create_dedupe(
        settings.redis_url,
        settings.update_dedupe_ttl_s,
        redis=storage.redis if isinstance(storage, RedisStorage) else None,
    )
    if dedupe is not None:
        dp.update.outer_middleware(dedupe)
    dp.update.outer_middleware(DatabaseMiddleware(session_factory, presses))
    participant = ParticipantMiddleware(translator)
    permissions = PermissionsMiddleware(settings.admin_ids)
    timing = metrics.handler_middleware() if metrics is not None else None
    for name, observer in dp.observers.items():
        if name not in ("update", "error"):  # inner middlewares reach the nested routers
            if timing is not None:
                observer.middleware(timing)
            observer.middleware(participant)
            observer.middleware(permissions)
    dp.message.outer_middleware(ThrottlingMiddleware())
    dp.include_routers(*get_routers())
    return dp


async def set_commands(bot: Bot, translator: Translator) -> None:
    """Register the command menu in every supported language (zh-CN is the default)."""
    names = ("quiz", "certificate", "articles", "lectures", "me", "help", "language", "start")
    for locale in SUPPORTED_LOCALES:
        commands = [
            BotCommand(command=name, description=translator.get(locale, f"commands.{name}"))
            for name in names
        ]
        language = None if locale == translator.default_locale else locale.split("-")[0]
        await bot.set_my_commands(commands, language_code=language)
