"""Storage on SQLite and PostgreSQL: migrations, the unit tree, idempotent writes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings
from quizzes.participants import GrantKind, Role
from quizzes.roster import RosterRow, parse_roster
from quizzes.units import UnitKind
from storage.models import UnitRow
from storage.repositories import Repositories
from storage.roster_import import import_roster
from storage.schema import metadata
from tests.factories import SMALL_ROSTER


async def test_models_match_migrations(engine: AsyncEngine) -> None:
    def diff(connection: object) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})  # type: ignore[arg-type]
        return list(compare_metadata(context, metadata))

    async with engine.connect() as connection:
        assert await connection.run_sync(diff) == []


async def test_roster_import_builds_the_tree_and_updates_in_place(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        first = await import_roster(session, SMALL_ROSTER, "第七师")
        await session.commit()
    assert first.created[UnitKind.SCHOOL] == 3
    assert first.created[UnitKind.CLASS] == 3
    assert first.created[UnitKind.REGIMENT] == 3

    changed = [*SMALL_ROSTER[:-1], RosterRow(6, "137团", "一三七团第一小学", "三年级1班", 40, 3)]
    async with session_factory() as session:
        second = await import_roster(session, changed, "第七师")
        await session.commit()
        repo = Repositories.over(session)
        school = (await repo.units.find_school("一三七团第一小学"))[0]
        klass = (await repo.units.children(school.id))[0]
        label = await repo.units.label(klass)
    assert sum(second.created.values()) == 0
    assert (klass.students_enrolled, klass.teachers_enrolled) == (40, 3)
    # A school with only class rows is enrolled as the sum of its classes.
    assert school.students_enrolled == 40
    assert label.text() == "137团 · 一三七团第一小学 · 三年级1班"
    assert school.path.count("/") == 4 and klass.path.startswith(school.path)


async def test_sample_roster_imports(session_factory: async_sessionmaker[AsyncSession]) -> None:
    from pathlib import Path

    import bot

    path = Path(bot.__file__).parent / "data" / "sample_roster.csv"
    rows = parse_roster(path.read_bytes(), path.name)
    async with session_factory() as session:
        await import_roster(session, rows, "第七师")
        await session.commit()
        repo = Repositories.over(session)
        assert len(await repo.units.of_kind(UnitKind.SCHOOL)) == 15
        assert {u.name for u in await repo.units.of_kind(UnitKind.REGIMENT)} == {
            "129团",
            "131团",
            "137团",
        }


async def test_participant_get_or_create_is_idempotent_under_concurrency(
    session_factory: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    async def create() -> int:
        async with session_factory() as session:
            participant = await Repositories.over(session).participants.get_or_create(
                777000111222, "zh-CN"
            )
            await session.commit()
            return participant.id

    ids = await asyncio.gather(*(create() for _ in range(5)))
    assert len(set(ids)) == 1


async def test_telegram_ids_over_32_bits_fit(session: AsyncSession) -> None:
    repo = Repositories.over(session)
    big = 7_900_000_000
    participant = await repo.participants.get_or_create(big, "en")
    await session.commit()
    assert (await repo.participants.by_telegram_id(big)) == participant


async def test_unique_names_under_one_parent(session: AsyncSession) -> None:
    session.add(UnitRow(kind="division", name="第七师", path="/"))
    await session.commit()
    session.add(UnitRow(kind="division", name="第七师", path="/"))
    with pytest.raises(IntegrityError):
        await session.commit()


async def test_grants_are_unique(session: AsyncSession) -> None:
    repo = Repositories.over(session)
    await import_roster(session, SMALL_ROSTER, "第七师")
    school = (await repo.units.find_school("一三一团中学"))[0]
    someone = await repo.participants.get_or_create(1, "zh-CN")
    assert await repo.grants.grant(someone.id, GrantKind.ADMIN, None, granted_by=0)
    assert not await repo.grants.grant(someone.id, GrantKind.ADMIN, None, granted_by=0)
    assert await repo.grants.grant(someone.id, GrantKind.COORDINATOR, school.id, granted_by=0)
    assert not await repo.grants.grant(someone.id, GrantKind.COORDINATOR, school.id, granted_by=0)
    assert len(await repo.grants.of(someone.id)) == 2


async def test_invite_codes_are_stable_until_revoked(session: AsyncSession) -> None:
    repo = Repositories.over(session)
    await import_roster(session, SMALL_ROSTER, "第七师")
    school = (await repo.units.find_school("一三一团中学"))[0]
    first = await repo.invites.active_for(school.id, Role.TEACHER)
    assert (await repo.invites.active_for(school.id, Role.TEACHER)).code == first.code
    assert len(first.code) >= 12
    await repo.invites.revoke(first.code)
    renewed = await repo.invites.active_for(school.id, Role.TEACHER)
    assert renewed.code != first.code
    resolved = await repo.invites.resolve(first.code)
    assert resolved is not None and not resolved.active


async def test_timestamps_come_back_aware_in_utc(session: AsyncSession) -> None:
    repo = Repositories.over(session)
    participant = await repo.participants.get_or_create(5, "zh-CN")
    moment = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    await repo.participants.mark_joined(participant, moment)
    await session.commit()
    session.expunge_all()
    again = await repo.participants.by_telegram_id(5)
    assert again is not None and again.joined_at == moment
    assert again.joined_at.tzinfo is not None


async def test_registered_counted_per_school_including_classes(session: AsyncSession) -> None:
    repo = Repositories.over(session)
    await import_roster(session, SMALL_ROSTER, "第七师")
    school = (await repo.units.find_school("胡杨河市第一中学"))[0]
    klass = (await repo.units.children(school.id))[0]
    now = datetime.now(UTC)
    for telegram_id, unit in ((1, school), (2, klass), (3, klass)):
        p = await repo.participants.get_or_create(telegram_id, "zh-CN")
        await repo.participants.update(p, unit_id=unit.id, role=Role.STUDENT, display_name="x")
        await repo.participants.mark_joined(
            await repo.participants.by_telegram_id(telegram_id), now
        )  # type: ignore[arg-type]
    unjoined = await repo.participants.get_or_create(4, "zh-CN")
    await repo.participants.update(unjoined, unit_id=klass.id)
    await session.commit()
    counts = await repo.participants.count_registered_by_school()
    assert counts == {school.id: 3}
    rows = (await session.scalars(select(UnitRow).where(UnitRow.kind == "school"))).all()
    assert len(rows) == 3


def test_settings_report_each_bad_variable_on_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.config import SettingsError, load_settings

    monkeypatch.setenv("PUFA_BOT_TOKEN", "not-a-token")
    monkeypatch.setenv("PUFA_ADMIN_IDS", "12, abc")
    monkeypatch.setenv("PUFA_TIMEZONE", "Mars/Olympus")
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None)
    message = str(caught.value)
    assert "PUFA_BOT_TOKEN" in message and "PUFA_ADMIN_IDS" in message
    assert "PUFA_TIMEZONE" in message
    assert "not-a-token" not in message


def test_settings_never_show_the_token() -> None:
    settings = Settings(bot_token="123:SECRET-value")
    assert "SECRET" not in repr(settings) and "SECRET" not in str(settings.model_dump())
