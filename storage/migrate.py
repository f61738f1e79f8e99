"""Apply Alembic migrations programmatically (``pufa db upgrade``, tests, the demo)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def upgrade(engine: AsyncEngine, revision: str = "heads") -> None:
    """Upgrade the database behind ``engine`` to ``revision`` in its own transaction.

    ``heads``: features add their tables in migrations of their own, each branching from
    the revision it needs, so there may be more than one head; all are applied.
    """
    config = alembic_config(engine.url.render_as_string(hide_password=False))

    def _upgrade(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    await _migrate(engine, _upgrade)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False))

    def _downgrade(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    await _migrate(engine, _downgrade)


class ForeignKeyViolation(RuntimeError):
    """A migration left rows pointing at rows that are gone; it was rolled back."""


async def _migrate(engine: AsyncEngine, step: Callable[[Connection], None]) -> None:
    """Run ``step`` in one transaction; on SQLite with foreign keys off meanwhile.

    SQLite alters most things by rebuilding a table (``batch_alter_table``): the old
    table is dropped, and with foreign keys on, dropping it deletes every row of every
    table that references it ``ON DELETE CASCADE`` (or refuses to). SQLite's own recipe
    for schema changes is to switch the checks off around them (the pragma is ignored
    inside a transaction), then verify with ``foreign_key_check`` before committing.
    """
    async with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await connection.commit()
        try:
            async with connection.begin():
                await connection.run_sync(step)
                if sqlite:
                    broken = (await connection.exec_driver_sql("PRAGMA foreign_key_check")).all()
                    if broken:
                        tables = sorted({str(row[0]) for row in broken})
                        raise ForeignKeyViolation(
                            f"the migration would leave {len(broken)} rows of "
                            f"{', '.join(tables)} pointing at rows that are gone"
                        )
        finally:
            if sqlite:
                await connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                await connection.commit()


# Any constant works; it only has to be the same in every bot process.
_MIGRATION_LOCK = 0x70756661


async def prepare_database(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision; on PostgreSQL one process at a time."""
    if engine.dialect.name != "postgresql":
        await upgrade(engine)
        return
    async with engine.connect() as connection:
        await connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK})
        try:
            await upgrade(engine)
        finally:
            await connection.execute(
                text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK}
            )
