"""What every ``pufa`` command needs: settings (or one clear line), and terminal wording.

A setting that is missing or malformed, or a server that cannot be reached (the
database, Redis, the Bot API), ends a command with one line naming the setting and the
host and port, and a non-zero exit; ``pufa -v`` also prints the traceback.
"""

from __future__ import annotations

import errno
import socket
import sys
import traceback
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import click

from bot.config import Settings, SettingsError, load_settings
from bot.i18n import Translator

if TYPE_CHECKING:
    from storage.unit_of_work import UnitOfWork


def settings_or_exit() -> Settings:
    """The settings; a missing or malformed one ends the command with one line naming it."""
    try:
        return load_settings()
    except SettingsError as error:
        raise click.ClickException(str(error)) from None


def terminal_gettext(settings: Settings) -> Callable[..., str]:
    """Catalog wording for a terminal (no HTML escaping), in the default locale."""
    return Translator.load(settings.default_locale).bind(settings.default_locale).plain


def failure_line(error: BaseException) -> str | None:
    """One line for a failure the person running ``pufa`` can fix (a setting, a server
    that is down); ``None`` for anything else, which is a bug and keeps its traceback."""
    if isinstance(error, SettingsError):
        return str(error)
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    try:
        settings: Settings | None = load_settings()
    except SettingsError:
        settings = None
    # Only a command that talked to the Bot API has aiogram loaded; importing it here
    # would cost every other command seconds.
    telegram = sys.modules.get("aiogram.exceptions")
    if telegram is not None and isinstance(error, telegram.TelegramUnauthorizedError):
        return "PUFA_BOT_TOKEN: the Bot API refused this token (Unauthorized)"
    if telegram is not None and isinstance(error, telegram.TelegramNetworkError):
        where = settings.bot_api_url if settings else "the Bot API"
        return f"PUFA_BOT_API_URL: cannot reach {where}: {_reason(error)}"
    if isinstance(error, RedisConnectionError | RedisTimeoutError):
        return f"PUFA_REDIS_URL: cannot reach Redis{_redis_at(settings)}: {_reason(error)}"
    from storage.database import DatabaseUnavailable

    if isinstance(error, DatabaseUnavailable):
        return f"PUFA_DATABASE_URL: {error}"
    if _from_database(error):
        return f"PUFA_DATABASE_URL: {_database_at(settings)}: {_reason(error)}"
    return None


def _from_database(error: BaseException) -> bool:
    from sqlalchemy.exc import DBAPIError

    frames = traceback.extract_tb(error.__traceback__)
    if isinstance(error, DBAPIError):  # the driver refused to connect, or lost the line
        return error.connection_invalidated or any(
            frame.name == "__connect" and "/sqlalchemy/pool/" in frame.filename for frame in frames
        )
    # Raised while the driver connected: asyncpg's (or aiosqlite's) code is in the trace.
    return isinstance(error, OSError) and any(
        part in frame.filename for frame in frames for part in ("/asyncpg/", "/aiosqlite/")
    )


def _database_at(settings: Settings | None) -> str:
    if settings is None:
        return "cannot connect to the database"
    from sqlalchemy.engine import make_url

    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        return f"cannot open the SQLite database {url.database}"
    return f"cannot connect to PostgreSQL at {url.host or 'localhost'}:{url.port or 5432}"


def _redis_at(settings: Settings | None) -> str:
    if settings is None or not settings.redis_url:
        return ""
    from urllib.parse import urlsplit

    parts = urlsplit(settings.redis_url)
    if parts.scheme == "unix":
        return f" at {parts.path}"
    return f" at {parts.hostname or 'localhost'}:{parts.port or 6379}"


def _reason(error: BaseException) -> str:
    """What went wrong, in a few words, from the error or the one it wraps."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, socket.gaierror):
            return "host name not found"
        if isinstance(seen, ConnectionRefusedError) or getattr(seen, "errno", None) == (
            errno.ECONNREFUSED
        ):
            return "connection refused"
        if isinstance(seen, TimeoutError):
            return "timed out"
        seen = seen.__cause__ or seen.__context__
    from sqlalchemy.exc import DBAPIError

    if isinstance(error, DBAPIError):  # the driver's words, without SQLAlchemy's wrapping
        error = error.orig or error
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


@asynccontextmanager
async def unit_of_work(settings: Settings) -> AsyncIterator[UnitOfWork]:
    """A unit of work on the configured database (migrated first), for one command."""
    from storage.database import create_engine, create_session_factory
    from storage.migrate import prepare_database
    from storage.unit_of_work import UnitOfWork

    engine = create_engine(settings.database_url)
    try:
        await prepare_database(engine)
        async with create_session_factory(engine)() as session:
            yield UnitOfWork.over(session)
    finally:
        await engine.dispose()
