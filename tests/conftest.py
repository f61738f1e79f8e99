"""Fixtures: every storage and handler test runs on SQLite and on PostgreSQL.

PostgreSQL is required, not optional: the suite creates a database of its own on the
server named by ``PUFA_TEST_POSTGRES_URL`` and fails loudly if it cannot.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.database import create_engine, create_session_factory
from storage.migrate import upgrade
from storage.presses import DirectPresses
from storage.schema import metadata

POSTGRES_URL = os.environ.get(
    "PUFA_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def _redis_url() -> str:
    """The Redis database of this test process: with several processes (``pytest -n``)
    each has its own (15, 14, ...), since tests empty theirs."""
    url = make_url(os.environ.get("PUFA_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return url.render_as_string(hide_password=False)
    index = int(url.database or 0) - int(worker[2:])
    if index < 0:  # two processes would share a database, and empty each other's
        raise pytest.UsageError(
            f"too many test processes for Redis databases {url.database} down to 0:"
            " run fewer (-n) or set PUFA_TEST_REDIS_URL to a higher database"
        )
    return url.set(database=str(index)).render_as_string(hide_password=False)


REDIS_URL = _redis_url()
DATABASES = ("sqlite", "postgresql")


def _asyncpg_dsn(url: str) -> str:
    """The URL for asyncpg itself (``?pgbouncer=`` is the engine's, not the driver's)."""
    plain = make_url(url).set(drivername="postgresql").difference_update_query(["pgbouncer"])
    return plain.render_as_string(hide_password=False)


@pytest.fixture(autouse=True)
def no_scheduled_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    """No report jobs unless a test asks for them: on a Monday morning or the 1st of a
    month the default ones are due as a bot starts and would land in the admin's chat."""
    monkeypatch.setenv("PUFA_REPORT_CRON", "")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test instead of migrating again."""
    import asyncio

    path = tmp_path_factory.mktemp("template") / "template.db"

    async def build() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        await upgrade(engine)
        await engine.dispose()

    asyncio.run(build())
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, migrated once, dropped at the end."""
    import asyncio

    name = f"pufa_test_{uuid.uuid4().hex[:10]}"
    admin_dsn = _asyncpg_dsn(POSTGRES_URL)

    async def create() -> str:
        connection = await asyncpg.connect(admin_dsn)
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
        engine = create_engine(url)
        await upgrade(engine)
        await engine.dispose()
        return url

    async def drop() -> None:
        connection = await asyncpg.connect(admin_dsn)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()

    url = asyncio.run(create())
    yield url
    asyncio.run(drop())


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "pufa.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("postgres_database")
    return url


# Truncating every table costs about 120 ms a test (each TRUNCATE makes new files), while
# a test writes to a few: only the tables with rows are truncated, and only the id
# sequences that were used are restarted, in one round trip.
_EMPTY_USED_TABLES = """
DO $$
DECLARE
    name text;
    used text[] := '{}';
    has_rows boolean;
    sequence text;
BEGIN
    FOREACH name IN ARRAY ARRAY[%s]::text[] LOOP
        EXECUTE format('SELECT EXISTS (SELECT FROM %%I)', name) INTO has_rows;
        IF has_rows THEN
            used := used || name;
        END IF;
    END LOOP;
    IF cardinality(used) > 0 THEN
        EXECUTE 'TRUNCATE ' || (SELECT string_agg(format('%%I', u), ', ') FROM unnest(used) u)
            || ' CASCADE';
    END IF;
    FOR sequence IN
        SELECT format('%%I.%%I', schemaname, sequencename) FROM pg_sequences
        WHERE last_value IS NOT NULL
    LOOP
        EXECUTE 'ALTER SEQUENCE ' || sequence || ' RESTART';
    END LOOP;
END $$
"""


async def _empty_tables(engine: AsyncEngine) -> None:
    names = ", ".join(f"'{table.name}'" for table in metadata.sorted_tables)
    async with engine.begin() as connection:
        await connection.execute(text(_EMPTY_USED_TABLES % names))


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    if engine.dialect.name == "postgresql":
        await _empty_tables(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def presses(engine: AsyncEngine) -> AsyncIterator[DirectPresses | None]:
    """The driver path for a quiz press's statements, as the bot opens it (PostgreSQL;
    None on SQLite)."""
    presses = await DirectPresses.connect(engine)
    yield presses
    if presses is not None:
        await presses.close()


@pytest.fixture
def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_factory(engine)


@pytest.fixture
async def session(
    session_factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    async with session_factory() as session:
        yield session


# -- tiers -----------------------------------------------------------------------------
#
# Every test is put in one tier by what it uses, so a run can pick a tier
# (`pytest -m unit`, `make test-fast` for all but e2e) and the slow ones are easy to see:
#   e2e   - the bot and the Bot API emulator over real HTTP (or a browser, or LibreOffice)
#   chat  - the Dispatcher in-process, updates fed directly
#   db    - storage and use cases on both databases
#   unit  - the domain and pure functions
_E2E_MARKS = ("run_sandbox", "running_bot", "RunningSandbox", "soffice", "playwright")
_CHAT_MARKS = ("create_dispatcher", "feed_update", "tests.publicity_chat", "publicity_chat")
_TIER_OF_MODULE: dict[str, str] = {}


def _tier(item: pytest.Item) -> str:
    path = Path(str(item.fspath))
    if "sandbox" in path.parts:
        return "e2e"
    cached = _TIER_OF_MODULE.get(str(path))
    if cached is None:
        source = path.read_text(encoding="utf-8")
        if any(mark in source for mark in _E2E_MARKS):
            cached = "e2e"
        elif any(mark in source for mark in _CHAT_MARKS):
            cached = "chat"
        else:
            cached = ""
        _TIER_OF_MODULE[str(path)] = cached
    if cached:
        return cached
    fixtures = getattr(item, "fixturenames", ())
    return "db" if "database_url" in fixtures else "unit"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(getattr(pytest.mark, _tier(item)))
