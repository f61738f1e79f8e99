"""Personal data, in chat and at the terminal, on SQLite and PostgreSQL.

- A student under 14 gets their real name on a certificate only once a teacher of their
  class (or a coordinator of their school) has confirmed a guardian's consent with the
  student's one-time code; teachers are adults and give their own name.
- /forgetme and ``pufa participant erase`` remove everything that says who a person was,
  and leave every figure of the report as it was.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiogram import Dispatcher
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.methods import SendDocument
from click.testing import CliRunner
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.factory import create_dispatcher
from handlers.certificates import AgeCb, CertificateCb, DisplayNameCb
from handlers.privacy import ForgetMeCb
from quizzes.engine import Feedback
from quizzes.participants import GrantKind, Role
from quizzes.statistics import Period, Statistics
from storage.database import create_engine, create_session_factory
from storage.models import GrantRow, ParticipantRow
from storage.models_privacy import GuardianConsentCodeRow
from storage.models_publicity import BroadcastRow, LectureRow
from storage.models_quiz import CampaignRow, CertificateNameRow, ShortlistRow
from storage.repositories import Repositories
from storage.schema import metadata
from storage.statistics import StatisticsRepository
from tests.factories import World, build_world
from tests.mocked_bot import MockedBot, callback_update, text_update, user
from tests.quiz_world import open_campaign, registered
from tests.report_world import SHANGHAI, Expected, build_history
from tests.test_quiz import answer_all, attempt_row, start

T = TypeVar("T")
CODE = re.compile(r"<code>([A-Z0-9]{6})</code>")


@pytest.fixture
async def world(session_factory: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(session_factory)


@pytest.fixture
def dp(session_factory: async_sessionmaker[AsyncSession]) -> Dispatcher:
    settings = Settings(bot_token="42:TEST-token")
    return create_dispatcher(
        settings, session_factory, storage=MemoryStorage(), events_isolation=SimpleEventIsolation()
    )


@pytest.fixture
def bot() -> MockedBot:
    return MockedBot()


@pytest.fixture
async def history(session_factory: async_sessionmaker[AsyncSession]) -> Expected:
    return await build_history(session_factory)


def documents(bot: MockedBot, chat_id: int) -> list[SendDocument]:
    return [
        m for m in bot.recorder.requests if isinstance(m, SendDocument) and m.chat_id == chat_id
    ]


async def passed(
    dp: Dispatcher,
    bot: MockedBot,
    session_factory: async_sessionmaker[AsyncSession],
    campaign_id: int,
    telegram_id: int,
    unit_id: int,
    *,
    role: Role = Role.STUDENT,
    name: str = "小华",
) -> tuple[int, int]:
    """A participant who has passed the quiz in chat: (participant id, attempt id)."""
    participant = await registered(session_factory, telegram_id, unit_id, role=role, name=name)
    await start(dp, bot, telegram_id, campaign_id)
    attempt = await attempt_row(session_factory, participant.id)
    await answer_all(dp, bot, session_factory, telegram_id, attempt.id, 2)
    assert (await attempt_row(session_factory, participant.id)).passed
    return participant.id, attempt.id


async def name_row(
    session_factory: async_sessionmaker[AsyncSession], participant_id: int
) -> CertificateNameRow | None:
    async with session_factory() as session:
        return await session.get(CertificateNameRow, participant_id)


async def test_a_student_under_14_gets_the_real_name_only_once_a_teacher_confirms_consent(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    campaign = await open_campaign(session_factory, questions=2, feedback=Feedback.END)
    class_1 = world.classes["七年级1班"].id
    student_id, attempt_id = await passed(dp, bot, session_factory, campaign.id, 331, class_1)
    teacher = await registered(session_factory, 332, class_1, role=Role.TEACHER, name="王老师")
    other_class = world.classes["七年级2班"].id
    await registered(session_factory, 333, other_class, role=Role.TEACHER, name="赵老师")
    await registered(session_factory, 334, class_1, name="同桌")

    await dp.feed_update(bot, text_update(user(331), "/certificate"))
    await dp.feed_update(bot, callback_update(user(331), CertificateCb(attempt=attempt_id).pack()))
    # The age is asked before any name.
    assert "满 14 周岁" in bot.sent_texts(331)[-1]
    assert AgeCb(attempt=attempt_id, under_14=True).pack() in bot.last_markup_data()
    await dp.feed_update(
        bot, callback_update(user(331), AgeCb(attempt=attempt_id, under_14=True).pack())
    )
    told = bot.sent_texts(331)[-1]
    assert "监护人同意" in told and "/forgetname" in told and "/forgetme" in told
    match = CODE.search(told)
    assert match is not None
    code = match.group(1)
    # Nothing is stored yet, and typing a name now does not store it either.
    await dp.feed_update(bot, text_update(user(331), "李小华"))
    assert await name_row(session_factory, student_id) is None
    assert documents(bot, 331) == []
    # Meanwhile, a certificate with the display name.
    await dp.feed_update(bot, callback_update(user(331), DisplayNameCb(attempt=attempt_id).pack()))
    assert len(documents(bot, 331)) == 1

    # Neither a teacher of another class nor a classmate may confirm.
    await dp.feed_update(bot, text_update(user(333), f"/consent {code} 李小华"))
    assert "只有这名学生所在班级的老师" in bot.sent_texts(333)[-1]
    await dp.feed_update(bot, text_update(user(334), f"/consent {code} 李小华"))
    assert "只有这名学生所在班级的老师" in bot.sent_texts(334)[-1]
    assert await name_row(session_factory, student_id) is None

    # The class teacher sees whose code it is, then confirms with the name.
    await dp.feed_update(bot, text_update(user(332), "/consent"))
    assert "用法" in bot.sent_texts(332)[-1]
    await dp.feed_update(bot, text_update(user(332), f"/consent {code.lower()}"))
    assert "七年级1班" in bot.sent_texts(332)[-1] and "小华" in bot.sent_texts(332)[-1]
    assert await name_row(session_factory, student_id) is None
    await dp.feed_update(bot, text_update(user(332), f"/consent {code} 李小华"))
    assert "李小华" in bot.sent_texts(332)[-1]
    row = await name_row(session_factory, student_id)
    assert row is not None and row.real_name == "李小华" and row.confirmed_by == teacher.id
    # The student is told and gets the certificate of the attempt they asked for.
    assert "李小华" in bot.sent_texts(331)[-1]
    assert len(documents(bot, 331)) == 2
    # The code was good once.
    await dp.feed_update(bot, text_update(user(332), f"/consent {code} 别的名字"))
    assert "已经使用" in bot.sent_texts(332)[-1]
    # The next certificate asks nothing.
    await dp.feed_update(bot, callback_update(user(331), CertificateCb(attempt=attempt_id).pack()))
    assert len(documents(bot, 331)) == 3


async def test_a_coordinator_confirms_and_an_old_code_is_refused(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    campaign = await open_campaign(session_factory, questions=2, feedback=Feedback.END)
    class_1 = world.classes["七年级1班"].id
    student_id, attempt_id = await passed(dp, bot, session_factory, campaign.id, 341, class_1)
    school = world.schools["胡杨河市第一中学"]
    coordinator = await registered(session_factory, 342, school.id, role=Role.TEACHER)
    async with session_factory() as session:
        await Repositories.over(session).grants.grant(
            coordinator.id, GrantKind.COORDINATOR, school.id, granted_by=9000
        )
        await session.commit()

    await dp.feed_update(
        bot, callback_update(user(341), AgeCb(attempt=attempt_id, under_14=True).pack())
    )
    match = CODE.search(bot.sent_texts(341)[-1])
    assert match is not None
    # Fifteen days later the code is no longer good.
    async with session_factory() as session:
        await session.execute(
            update(GuardianConsentCodeRow).values(
                created_at=datetime.now(UTC) - timedelta(days=15)
            )
        )
        await session.commit()
    await dp.feed_update(bot, text_update(user(342), f"/consent {match.group(1)} 李小华"))
    assert "已过期" in bot.sent_texts(342)[-1]
    assert await name_row(session_factory, student_id) is None

    # Asking again gives a new code, which the school's coordinator may confirm.
    await dp.feed_update(
        bot, callback_update(user(341), AgeCb(attempt=attempt_id, under_14=True).pack())
    )
    renewed = CODE.search(bot.sent_texts(341)[-1])
    assert renewed is not None and renewed.group(1) != match.group(1)
    await dp.feed_update(bot, text_update(user(342), f"/consent {renewed.group(1)} 李小华"))
    row = await name_row(session_factory, student_id)
    assert row is not None and row.confirmed_by == coordinator.id


async def test_a_student_of_14_types_the_name_and_may_cancel_instead(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    campaign = await open_campaign(session_factory, questions=2, feedback=Feedback.END)
    class_1 = world.classes["七年级1班"].id
    student_id, attempt_id = await passed(dp, bot, session_factory, campaign.id, 351, class_1)
    adult = AgeCb(attempt=attempt_id, under_14=False).pack()

    await dp.feed_update(bot, callback_update(user(351), adult))
    asked = bot.sent_texts(351)[-1]
    assert "真实姓名" in asked and "/cancel" in asked and "/forgetname" in asked
    await dp.feed_update(bot, text_update(user(351), "/cancel"))
    assert "没有保存姓名" in bot.sent_texts(351)[-1]
    await dp.feed_update(bot, text_update(user(351), "李华"))
    assert await name_row(session_factory, student_id) is None

    await dp.feed_update(bot, callback_update(user(351), adult))
    await dp.feed_update(bot, text_update(user(351), "李华"))
    row = await name_row(session_factory, student_id)
    assert row is not None and row.real_name == "李华" and row.confirmed_by is None
    assert len(documents(bot, 351)) == 1


async def test_a_teacher_is_not_asked_for_a_guardian(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    campaign = await open_campaign(session_factory, questions=2, feedback=Feedback.END)
    class_1 = world.classes["七年级1班"].id
    teacher_id, attempt_id = await passed(
        dp, bot, session_factory, campaign.id, 361, class_1, role=Role.TEACHER, name="王老师"
    )

    await dp.feed_update(bot, callback_update(user(361), CertificateCb(attempt=attempt_id).pack()))
    assert "请输入姓名" in bot.sent_texts(361)[-1]
    assert not any(data.startswith("cta:") for data in bot.last_markup_data())
    await dp.feed_update(bot, text_update(user(361), "王芳"))
    row = await name_row(session_factory, teacher_id)
    assert row is not None and row.real_name == "王芳"
    assert len(documents(bot, 361)) == 1


async def test_forgetme_asks_first_then_erases_and_the_account_starts_afresh(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    campaign = await open_campaign(session_factory, questions=2, feedback=Feedback.END)
    class_1 = world.classes["七年级1班"].id
    student_id, attempt_id = await passed(
        dp, bot, session_factory, campaign.id, 371, class_1, name="小华华"
    )
    adult = AgeCb(attempt=attempt_id, under_14=False).pack()
    await dp.feed_update(bot, callback_update(user(371), adult))
    await dp.feed_update(bot, text_update(user(371), "李华华"))
    assert await name_row(session_factory, student_id) is not None
    # A dialogue left open: asked for the name again after /forgetname.
    await dp.feed_update(bot, text_update(user(371), "/forgetname"))
    await dp.feed_update(bot, callback_update(user(371), adult))
    await dp.feed_update(bot, text_update(user(371), "李华华"))
    await dp.feed_update(bot, callback_update(user(371), adult))

    await dp.feed_update(bot, text_update(user(371), "/forgetme"))
    assert "无法恢复" in bot.sent_texts(371)[-1]
    assert ForgetMeCb(erase=True).pack() in bot.last_markup_data()
    await dp.feed_update(bot, callback_update(user(371), ForgetMeCb(erase=False).pack()))
    assert "没有删除" in bot.sent_texts(371)[-1]
    async with session_factory() as session:
        row = await session.get(ParticipantRow, student_id)
        assert row is not None and row.telegram_id == 371 and row.erased_at is None

    await dp.feed_update(bot, text_update(user(371), "/forgetme"))
    await dp.feed_update(bot, callback_update(user(371), ForgetMeCb(erase=True).pack()))
    assert "已删除" in bot.sent_texts(371)[-1]
    async with session_factory() as session:
        row = await session.get(ParticipantRow, student_id)
        assert row is not None and row.erased_at is not None
        assert row.telegram_id != 371 and row.display_name is None
        # What the report counts is still there.
        assert (row.role, row.unit_id, row.joined_at is not None) == ("student", class_1, True)
        assert await session.get(CertificateNameRow, student_id) is None
    # The open dialogue went too: the name typed next is not kept for anyone.
    await dp.feed_update(bot, text_update(user(371), "李华华"))
    async with session_factory() as session:
        assert (await session.scalars(select(CertificateNameRow))).all() == []

    # The same account starts afresh, as a new participant.
    await dp.feed_update(bot, text_update(user(371), "/start"))
    async with session_factory() as session:
        fresh = await Repositories.over(session).participants.by_telegram_id(371)
    assert fresh is not None and fresh.id != student_id and fresh.display_name is None


# ---- The report before and after, and a dump of every table ----------------------------

ERASED = range(10_040, 10_060)  # a third of the history's participants
PERIOD = Period(date(2022, 1, 1), date(2022, 12, 31))
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def real_name(telegram_id: int) -> str:
    return f"阿卜杜热合曼·测试{telegram_id}"


def in_database(database_url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in a session of its own engine (the test itself is not async: the CLI
    runs its own event loop)."""

    async def run() -> T:
        engine = create_engine(database_url)
        try:
            async with create_session_factory(engine)() as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


async def give_personal_data(session: AsyncSession) -> None:
    """What the erased people hold besides the history: real names, a pending consent
    code, a grant, and the Telegram id of whoever created a campaign, article, lecture."""
    ids = dict(
        (await session.execute(select(ParticipantRow.telegram_id, ParticipantRow.id))).all()
    )
    for telegram_id in ERASED:
        session.add(
            CertificateNameRow(
                participant_id=ids[telegram_id],
                real_name=real_name(telegram_id),
                consented_at=NOW,
                confirmed_by=ids[10_000],
            )
        )
    session.add(GuardianConsentCodeRow(code="ABC234", participant_id=ids[10_045], created_at=NOW))
    schools = await StatisticsRepository(session).units_matching("胡杨河市第一中学")
    session.add(
        GrantRow(
            participant_id=ids[10_046], kind="coordinator", unit_id=schools[0].id, granted_by=1
        )
    )
    # Someone who stays was made coordinator by someone who goes.
    session.add(
        GrantRow(
            participant_id=ids[10_000],
            kind="coordinator",
            unit_id=schools[0].id,
            granted_by=10_047,
        )
    )
    await session.execute(update(BroadcastRow).values(created_by=10_041, progress_chat_id=10_041))
    await session.execute(update(LectureRow).values(created_by=10_042))
    await session.execute(update(CampaignRow).values(created_by=10_043))
    await session.execute(update(ShortlistRow).values(created_by=10_048, confirmed_by=10_048))
    await session.commit()


async def statistics(session: AsyncSession) -> Statistics:
    repo = StatisticsRepository(session)
    root = await repo.root()
    assert root is not None
    return await repo.compile(root, PERIOD, SHANGHAI, now=NOW)


async def dump(session: AsyncSession) -> list[tuple[str, str, Any]]:
    """Every text and integer value of every table: (table, column, value)."""
    values = []
    for table in metadata.sorted_tables:
        for row in (await session.execute(select(table))).mappings():
            for column, value in row.items():
                if isinstance(value, str | int) and not isinstance(value, bool):
                    values.append((table.name, str(column), value))
    return values


def traces(values: list[tuple[str, str, Any]], telegram_id: int) -> list[tuple[str, str, Any]]:
    """Where the person still shows: their Telegram id, display name or real name."""
    words = (str(telegram_id), f"实名测试{telegram_id - 10_000}", real_name(telegram_id))
    return [
        (table, column, value)
        for table, column, value in values
        if value == telegram_id or (isinstance(value, str) and any(w in value for w in words))
    ]


def report_files(database_url: str, out: Path) -> dict[str, str]:
    from tests.test_reports import run_report

    run_report(database_url, out, "--unit", "ROOT")
    md = (out / "report.md").read_text(encoding="utf-8")
    # The one line that says when the report was compiled.
    md = "\n".join(line for line in md.splitlines() if "统计生成" not in line)
    return {"report.md": md, "participation.csv": (out / "participation.csv").read_text()}


def test_erasure_keeps_every_report_figure_and_leaves_no_trace_of_the_person(
    database_url: str, history: Expected, tmp_path: Path
) -> None:
    in_database(database_url, give_personal_data)
    before = in_database(database_url, statistics)
    files_before = report_files(database_url, tmp_path / "before")
    values = in_database(database_url, dump)
    assert all(traces(values, telegram_id) for telegram_id in ERASED)

    # One at the terminal, as staff would for a request; the rest as /forgetme does.
    from bot.cli import main

    result = CliRunner().invoke(
        main,
        ["participant", "erase", str(ERASED[0]), "--yes"],
        env={"PUFA_DATABASE_URL": database_url, "PUFA_REDIS_URL": ""},
    )
    assert result.exit_code == 0, result.output
    assert "统计报表中的数字不变" in result.output

    async def erase_the_rest(session: AsyncSession) -> None:
        repo = Repositories.over(session)
        for telegram_id in ERASED[1:]:
            found = await repo.participants.by_telegram_id(telegram_id)
            assert found is not None
            assert await repo.erasure.erase(found.id, NOW) is not None
        await session.commit()

    in_database(database_url, erase_the_rest)

    assert in_database(database_url, statistics) == before
    assert report_files(database_url, tmp_path / "after") == files_before
    values = in_database(database_url, dump)
    for telegram_id in ERASED:
        assert traces(values, telegram_id) == []
    # Those who stay keep what is theirs.
    assert traces(values, 10_000)

    # Erasing again finds nobody; the account may join afresh.
    again = CliRunner().invoke(
        main,
        ["participant", "erase", str(ERASED[0]), "--yes"],
        env={"PUFA_DATABASE_URL": database_url, "PUFA_REDIS_URL": ""},
    )
    assert again.exit_code != 0 and "没有 Telegram id" in again.output

    async def rejoin(session: AsyncSession) -> int:
        repo = Repositories.over(session)
        fresh = await repo.participants.get_or_create(ERASED[0], "zh-CN")
        await session.commit()
        return fresh.id

    assert in_database(database_url, rejoin) not in {p.id for p in history.people}


def test_every_column_that_may_hold_a_telegram_id_is_cleared_on_erasure() -> None:
    """A new ``*_by``, ``*chat_id`` or ``author_id`` column must be named in
    storage.erasure, or here with the reason it holds no person's Telegram id."""
    from storage.erasure import ACTOR_COLUMNS, OWN_CHAT_COLUMNS

    not_a_person = {
        "participants.telegram_id",  # replaced with the placeholder by the erasure itself
        "live_quizzes.chat_id",  # a class group
        "certificate_names.confirmed_by",  # a participant id, which stays anonymous
        "activities.recorded_by",  # participant ids too
        "activities.reviewed_by",
        "class_reminders.sent_by",  # a participant id: who pressed the class's reminder
        "dashboard_jobs.requested_by",  # participant ids: who started a report or an import
        "roster_uploads.uploaded_by",
        "staff_accounts.created_by",  # a participant id: the admin who opened the account
        "read_reminders.sent_by",  # a participant id: who asked for a reminder to read
    }
    handled = {str(column.expression) for column in (*ACTOR_COLUMNS, *OWN_CHAT_COLUMNS)}
    suspects = {
        f"{table.name}.{column.name}"
        for table in metadata.sorted_tables
        for column in table.columns
        if column.type.python_type is int
        and (column.name.endswith(("_by", "chat_id", "author_id")) or "telegram" in column.name)
    }
    assert suspects - handled - not_a_person == set()
