"""A quiz press's own statements on PostgreSQL, run on the driver.

Pressing an answer is the bot's busiest path: a whole school answering at once is 140
presses a second, and each press is one snapshot read and one conditional write (see
:class:`storage.quiz.AttemptRepository`). Through SQLAlchemy's session, connection and
result layers those two statements cost about as much of the bot's CPU as everything
else the press does (``docs/PERFORMANCE.md``). Here the same statements, compiled once by
SQLAlchemy from the same Core constructs, run on a small asyncpg pool of their own.

Only these statements, and only outside a transaction: everything else, and these too
when the unit of work has begun one (``AttemptStore.together()``), goes through the
session. Each runs on its own in autocommit, exactly as the session runs them outside a
transaction, so either path stores the same thing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from storage.database import behind_pgbouncer
from storage.models import UTCDateTime

# Connect arguments SQLAlchemy's asyncpg dialect takes for itself.
_DIALECT_ONLY = ("prepared_statement_cache_size", "prepared_statement_name_func")
# As long as the engine's pool waits for a connection (its pool_timeout), and as long as
# a closing pool waits for statements in flight.
_WAIT_S = 30.0


@dataclass(frozen=True, slots=True)
class DriverStatement:
    """A statement as asyncpg runs it: SQL with ``$n``, and the bind names in order."""

    sql: str
    names: tuple[str, ...]
    fixed: Mapping[str, Any]  # values the statement binds itself (e.g. ``timed_out=False``)

    @classmethod
    def of(cls, statement: ClauseElement, dialect: Dialect) -> DriverStatement:
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        names = tuple(compiled.positiontup or ())
        fixed = {
            name: value
            for name, value in compiled.params.items()
            if not compiled.binds[name].required
        }
        return cls(compiled.string, names, fixed)

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        """The values in ``$n`` order; a missing one is an error, as in the session."""
        arguments = []
        for name in self.names:
            if name in values:
                arguments.append(_bound(values[name]))
            elif name in self.fixed:
                arguments.append(self.fixed[name])
            else:
                raise KeyError(f"a value is required for bind parameter {name!r}")
        return arguments


_TIMES = UTCDateTime()


def _bound(value: Any) -> Any:
    """As the column types bind it through the session (``UTCDateTime`` for times)."""
    if isinstance(value, datetime):
        return _TIMES.process_bind_param(value, None)
    return value


def _encode_json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _decode_json(value: bytes) -> Any:
    return json.loads(value.decode())


def _encode_jsonb(value: Any) -> bytes:
    return b"\x01" + _encode_json(value)  # jsonb's binary format starts with its version


def _decode_jsonb(value: bytes) -> Any:
    return _decode_json(value[1:])


async def _setup(connection: asyncpg.Connection) -> None:
    """JSON in and out as SQLAlchemy's asyncpg dialect does it."""
    await connection.set_type_codec(
        "json", encoder=_encode_json, decoder=_decode_json, schema="pg_catalog", format="binary"
    )
    await connection.set_type_codec(
        "jsonb", encoder=_encode_jsonb, decoder=_decode_jsonb, schema="pg_catalog", format="binary"
    )


async def _keep(connection: asyncpg.Connection) -> None:
    """Release without asyncpg's reset query (a round trip): these statements leave no
    session state behind. (asyncpg itself ends a transaction a cancelled statement left
    open before it calls this.)"""


class DirectPresses:
    """Runs a press's statements on a pool of driver connections (PostgreSQL only)."""

    def __init__(self, pool: asyncpg.Pool, dialect: Dialect) -> None:
        self.pool = pool
        self.dialect = dialect
        self._compiled: dict[ClauseElement, DriverStatement] = {}

    @classmethod
    async def connect(cls, engine: AsyncEngine, size: int = 10) -> DirectPresses | None:
        """A pool on the engine's database with the engine's connect arguments; None
        where the engine is not PostgreSQL (SQLite runs everything through the session).
        Connections are opened as presses need them, as the engine's are."""
        if engine.dialect.name != "postgresql" or behind_pgbouncer(engine.sync_engine):
            return None  # behind PgBouncer every statement goes through the session
        args, options = engine.dialect.create_connect_args(engine.url)
        for key in _DIALECT_ONLY:
            options.pop(key, None)
        pool = await asyncpg.create_pool(
            *args, min_size=0, max_size=size, init=_setup, reset=_keep, **options
        )
        return cls(pool, engine.dialect)

    def compiled(self, statement: ClauseElement) -> DriverStatement:
        """``statement`` compiled once: the press's statements are built once, and each is
        kept here with its SQL."""
        found = self._compiled.get(statement)
        if found is None:
            found = self._compiled[statement] = DriverStatement.of(statement, self.dialect)
        return found

    async def fetch_row(
        self, statement: ClauseElement, values: Mapping[str, Any]
    ) -> Sequence[Any] | None:
        compiled = self.compiled(statement)
        arguments = compiled.arguments(values)
        async with self.pool.acquire(timeout=_WAIT_S) as connection:
            row = await connection.fetchrow(compiled.sql, *arguments)
        return tuple(row) if row is not None else None

    async def execute(self, statement: ClauseElement, values: Mapping[str, Any]) -> int:
        """Run ``statement``; the number of rows it changed."""
        compiled = self.compiled(statement)
        arguments = compiled.arguments(values)
        async with self.pool.acquire(timeout=_WAIT_S) as connection:
            status = await connection.execute(compiled.sql, *arguments)
        return int(status.rsplit(" ", 1)[-1]) if status[-1:].isdigit() else 0

    async def close(self) -> None:
        """Close the pool; presses still running get a while, then their connections go."""
        try:
            await asyncio.wait_for(self.pool.close(), _WAIT_S)
        except TimeoutError:
            self.pool.terminate()
