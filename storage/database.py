"""Engine and session factory for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import uuid4

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, NullPool


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


class DatabaseUnavailable(Exception):
    """The database cannot be opened for a reason its URL already tells."""


# ``?pgbouncer=transaction`` on a PostgreSQL URL: the server is reached through PgBouncer
# in transaction pooling mode. Prepared statements then live only as long as a
# transaction, so the driver keeps none across transactions and names each one uniquely,
# SQLAlchemy keeps no pool of its own (PgBouncer is the pool), every statement runs in a
# transaction, and the quiz's driver path is off.
PGBOUNCER = "pgbouncer"


def behind_pgbouncer(bind: Any) -> bool:
    """Whether an engine (or a session's bind) reaches PostgreSQL through PgBouncer."""
    options = bind.get_execution_options() if hasattr(bind, "get_execution_options") else {}
    return bool(options.get(PGBOUNCER))


def create_engine(url: str, *, echo: bool = False, pool_size: int = 10) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.query.get(PGBOUNCER):
        if parsed.query[PGBOUNCER] != "transaction":
            raise DatabaseUnavailable("?pgbouncer= takes one value: transaction")
        return create_async_engine(
            parsed.difference_update_query([PGBOUNCER]),
            echo=echo,
            poolclass=NullPool,
            connect_args={
                "statement_cache_size": 0,
                "prepared_statement_cache_size": 0,
                "prepared_statement_name_func": lambda: f"__pufa_{uuid4().hex}__",
            },
            execution_options={PGBOUNCER: True},
        )
    if is_sqlite(url):
        path = make_url(url).database
        # Checked here: the driver's failure to open it leaves a thread behind that
        # writes a traceback after the command has already reported the error.
        if path and path != ":memory:" and not Path(path).parent.is_dir():
            raise DatabaseUnavailable(
                f"cannot open the SQLite database {path}: no folder {Path(path).parent}"
            )
        engine = create_async_engine(
            url, echo=echo, connect_args={"timeout": 30}, pool_pre_ping=False
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # No pre-ping: it costs a round trip per checkout on the hot path. Connections are
    # recycled hourly, and one broken by a server restart fails that update, which the
    # user retries, rather than every update paying for the check.
    return create_async_engine(
        url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_recycle=3600
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # WAL lets readers work while one writer commits; foreign keys are off by default.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


async def read_outside_transaction(session: AsyncSession) -> None:
    """Let the session's next statements run without BEGIN and COMMIT (PostgreSQL).

    For a unit of work that only reads (or makes one self-contained write): each of
    BEGIN and COMMIT is a round trip of its own with asyncpg, which the middlewares
    would otherwise pay on every update. The session must not have begun yet; its
    ``commit()`` then releases the connection, and the pool restores the isolation level.
    SQLite's driver opens no transaction for a read, so there it changes nothing.
    """
    bind = session.get_bind()
    if session.in_transaction() or bind.dialect.name != "postgresql" or behind_pgbouncer(bind):
        # Behind PgBouncer a statement outside a transaction may run on another server
        # connection than the one that prepared it: there every statement has one.
        return
    await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


async def end_outside_transaction(session: AsyncSession) -> None:
    """End what :func:`read_outside_transaction` began, so that the session's next
    statements share one transaction again (they begin it on the next connection)."""
    if not session.in_transaction():
        return
    connection = (await session.connection()).sync_connection
    if connection and connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        await session.commit()


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def create_reading_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for requests that read, and write at most one self-contained statement at
    a time (a dashboard page touching its web session): on PostgreSQL every statement
    commits on its own, on every connection the session takes, so a page sends no BEGIN
    and no COMMIT (see :func:`read_outside_transaction`). On SQLite, and behind PgBouncer
    (where a statement outside a transaction may reach another server connection than
    the one that prepared it), the ordinary sessions."""
    if engine.dialect.name != "postgresql" or behind_pgbouncer(engine):
        return create_session_factory(engine)
    return create_session_factory(engine.execution_options(isolation_level="AUTOCOMMIT"))
