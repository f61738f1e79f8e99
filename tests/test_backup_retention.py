"""Backups (SQLite's online backup API; pg_dump's command line) and restores, and the
retention job that erases the personal data of people inactive for N years."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli import main
from bot.config import Settings
from bot.i18n import Translator
from bot.retention_jobs import erase_inactive, years_before
from bot.services import ServiceContext
from quizzes.publicity import Audience
from storage.models import ParticipantRow
from storage.models_publicity import ArticleReadRow
from storage.publicity import PublicityRepository
from tests.factories import build_world
from tests.mocked_bot import MockedBot
from tests.publicity_factories import add_people

NOW = datetime(2026, 12, 7, 3, 30, tzinfo=UTC)


def counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        return {
            table: int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            for table in ("units", "participants", "invite_codes", "alembic_version")
        }


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_sqlite_backup_is_a_consistent_copy_that_restores(
    session_factory: async_sessionmaker[AsyncSession], database_url: str, tmp_path: Path
) -> None:
    world = await build_world(session_factory)
    await add_people(session_factory, [5001, 5002], world.classes["七年级1班"].id)
    source = Path(database_url.split("///", 1)[1])
    before = counts(source)
    runner = CliRunner()
    env = {"PUFA_DATABASE_URL": database_url}
    backup = tmp_path / "backups" / "pufa-2026-12-07.db"
    made = runner.invoke(main, ["db", "backup", str(backup)], env=env)
    assert made.exit_code == 0, made.output
    assert "integrity checked" in made.output
    assert counts(backup) == before and before["participants"] == 2

    with sqlite3.connect(source) as db:  # a mistake after the backup
        db.execute("DELETE FROM participants")
    assert counts(source)["participants"] == 0
    refused = runner.invoke(main, ["db", "restore", str(backup)], env=env, input="n\n")
    assert refused.exit_code != 0 and counts(source)["participants"] == 0
    restored = runner.invoke(main, ["db", "restore", str(backup), "--yes"], env=env)
    assert restored.exit_code == 0, restored.output
    assert counts(source) == before


def test_a_postgresql_backup_is_pg_dump_without_the_password_on_the_line() -> None:
    env = {"PUFA_DATABASE_URL": "postgresql+asyncpg://pufa:s3cret@db.example.org:5433/pufa"}
    shown = CliRunner().invoke(main, ["db", "backup", "pufa.dump"], env=env)
    assert shown.exit_code == 0, shown.output
    line = shown.output.splitlines()[0]
    assert line == (
        "pg_dump --format=custom --no-owner --file pufa.dump --host db.example.org "
        "--port 5433 --username pufa --dbname pufa"
    )
    assert "s3cret" not in shown.output and "PGPASSWORD" in shown.output


def test_a_missing_sqlite_file_is_one_clear_line(tmp_path: Path) -> None:
    env = {"PUFA_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/none.db"}
    failed = CliRunner().invoke(main, ["db", "backup", str(tmp_path / "x.db")], env=env)
    assert failed.exit_code != 0 and "no database file" in failed.output


def test_years_before_keeps_the_day() -> None:
    assert years_before(NOW, 3) == datetime(2023, 12, 7, 3, 30, tzinfo=UTC)
    assert years_before(datetime(2028, 2, 29, tzinfo=UTC), 1) == datetime(2027, 2, 28, tzinfo=UTC)


async def test_retention_erases_only_those_inactive_for_the_years(
    session_factory: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    world = await build_world(session_factory)
    unit = world.classes["七年级1班"].id
    await add_people(session_factory, [6001, 6002, 6003], unit)
    long_ago = NOW - timedelta(days=4 * 365)
    async with session_factory() as session:
        await session.execute(
            update(ParticipantRow)
            .where(ParticipantRow.telegram_id.in_([6001, 6002]))
            .values(first_seen_at=long_ago, joined_at=long_ago)
        )
        # 6002 joined long ago but read an article last month: active.
        article = await PublicityRepository(session).create_article(
            title="宪法日", body="学宪法", author_id=1, audience=Audience()
        )
        reader = await session.scalar(
            select(ParticipantRow.id).where(ParticipantRow.telegram_id == 6002)
        )
        session.add(
            ArticleReadRow(
                article_id=article.id, participant_id=reader, read_at=NOW - timedelta(days=30)
            )
        )
        await session.commit()
    settings = Settings(bot_token="42:TEST-token", database_url=database_url, retention_years=3)
    context = ServiceContext(settings, session_factory, MockedBot(), Translator.load())
    assert await erase_inactive(context, now=NOW) == 1
    assert await erase_inactive(context, now=NOW) == 0  # once erased, left alone
    async with session_factory() as session:
        rows = {
            row.id: row
            for row in await session.scalars(select(ParticipantRow).order_by(ParticipantRow.id))
        }
    erased = [row for row in rows.values() if row.erased_at is not None]
    assert [(row.display_name, row.telegram_id < 0) for row in erased] == [(None, True)]
    kept = sorted(row.telegram_id for row in rows.values() if row.erased_at is None)
    assert kept == [6002, 6003]
    assert erased[0].unit_id == unit  # the report still counts them where they were

    off = Settings(bot_token="42:TEST-token", database_url=database_url)
    context = ServiceContext(off, session_factory, MockedBot(), Translator.load())
    assert await erase_inactive(context, now=NOW + timedelta(days=3650)) == 0
