"""``/top`` and the selection it can become: looking at a ranking selects nobody; staff
confirm a list with the button under it, and the report counts confirmed students once.

Regression tests for "入选学生 counts teachers" and "遴选优秀学生N名 is inflated by looking".
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiogram import Dispatcher
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.methods import AnswerCallbackQuery, SendDocument
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.factory import create_dispatcher
from handlers.shortlist import ConfirmShortlistCb
from quizzes.campaigns import Campaign
from quizzes.participants import GrantKind, Role
from quizzes.statistics import Period
from storage.database import create_engine, create_session_factory
from storage.models_quiz import AttemptRow, ShortlistRow
from storage.repositories import Repositories
from storage.statistics import StatisticsRepository
from tests.factories import World, build_world
from tests.mocked_bot import MockedBot, callback_update, text_update, user
from tests.quiz_world import open_campaign, registered

SHANGHAI = ZoneInfo("Asia/Shanghai")
ADMIN = 9300
COORDINATOR = 9301  # of 胡杨河市第一中学
OTHER_COORDINATOR = 9302  # of 一三一团中学
FIRST = "胡杨河市第一中学"
SECOND = "一三一团中学"


@dataclass
class Contest:
    world: World
    campaign: Campaign
    ids: dict[str, int]  # display name -> participant id


async def finished(
    session_factory: async_sessionmaker[AsyncSession],
    campaign: Campaign,
    participant_id: int,
    points: float,
    seconds: int,
) -> None:
    started = datetime.now(UTC) - timedelta(hours=1)
    async with session_factory() as session:
        session.add(
            AttemptRow(
                campaign_id=campaign.id,
                participant_id=participant_id,
                number=1,
                status="finished",
                started_at=started,
                finished_at=started + timedelta(seconds=seconds),
                question_count=campaign.rules.questions,
                points=points,
                passed=points / campaign.rules.questions >= 0.6,
                total_ms=seconds * 1000,
                chat_id=participant_id,
            )
        )
        await session.commit()


@pytest.fixture
async def contest(session_factory: async_sessionmaker[AsyncSession]) -> Contest:
    world = await build_world(session_factory)
    campaign = await open_campaign(session_factory, questions=5)  # pass mark 60%
    first_class = world.classes["七年级1班"].id
    people = [
        # name, telegram id, unit, role, points of 5, seconds
        ("满分学生", 20001, first_class, Role.STUDENT, 5.0, 60),
        ("四分学生", 20002, first_class, Role.STUDENT, 4.0, 50),
        ("满分老师", 20003, world.schools[FIRST].id, Role.TEACHER, 5.0, 30),
        ("零分学生", 20004, first_class, Role.STUDENT, 0.0, 20),
        ("两分学生", 20005, first_class, Role.STUDENT, 2.0, 40),
        # 3.125 of 5 is 62.5%: shown as it is, never rounded to 63% or 62%.
        ("外校学生", 20006, world.schools[SECOND].id, Role.STUDENT, 3.125, 70),
    ]
    ids = {}
    for name, telegram_id, unit_id, role, points, seconds in people:
        person = await registered(session_factory, telegram_id, unit_id, role, name=name)
        ids[name] = person.id
        await finished(session_factory, campaign, person.id, points, seconds)
    async with session_factory() as session:
        repo = Repositories.over(session)
        for telegram_id, school in ((COORDINATOR, FIRST), (OTHER_COORDINATOR, SECOND)):
            coordinator = await repo.participants.get_or_create(telegram_id, "zh-CN")
            await repo.grants.grant(
                coordinator.id, GrantKind.COORDINATOR, world.schools[school].id, granted_by=1
            )
        await session.commit()
    return Contest(world, campaign, ids)


@pytest.fixture
def dp(session_factory: async_sessionmaker[AsyncSession]) -> Dispatcher:
    settings = Settings(bot_token="42:TEST-token", admin_ids=frozenset({ADMIN}))
    return create_dispatcher(
        settings, session_factory, storage=MemoryStorage(), events_isolation=SimpleEventIsolation()
    )


async def selected_students(session_factory: async_sessionmaker[AsyncSession]) -> int:
    """入选学生 as the report counts it, for today."""
    today = datetime.now(SHANGHAI).date()
    async with session_factory() as session:
        repo = StatisticsRepository(session)
        root = await repo.root()
        assert root is not None
        stats = await repo.compile(root, Period(today - timedelta(days=1), today), SHANGHAI)
    return stats.total.shortlisted


async def kept(session_factory: async_sessionmaker[AsyncSession]) -> list[ShortlistRow]:
    async with session_factory() as session:
        return list(await session.scalars(select(ShortlistRow).order_by(ShortlistRow.id)))


def alerts(bot: MockedBot) -> list[str]:
    return [
        m.text or ""
        for m in bot.recorder.requests
        if isinstance(m, AnswerCallbackQuery) and m.show_alert
    ]


def spreadsheets(bot: MockedBot) -> list[bytes]:
    return [
        m.document.data  # type: ignore[union-attr]
        for m in bot.recorder.requests
        if isinstance(m, SendDocument)
    ]


@pytest.mark.parametrize("args", ["abc", "0", "9 abc", "1 2 3", "201", "五"])
async def test_top_with_junk_arguments_answers_with_the_usage(
    dp: Dispatcher,
    contest: Contest,
    session_factory: async_sessionmaker[AsyncSession],
    args: str,
) -> None:
    bot = MockedBot()
    await dp.feed_update(bot, text_update(user(ADMIN), f"/top {args}"))
    (reply,) = bot.sent_texts(ADMIN)
    assert reply.startswith("用法：/top")
    assert spreadsheets(bot) == [] and await kept(session_factory) == []


async def test_top_unknown_campaign_says_so(dp: Dispatcher, contest: Contest) -> None:
    bot = MockedBot()
    await dp.feed_update(bot, text_update(user(ADMIN), f"/top 9 {contest.campaign.id + 50}"))
    assert bot.sent_texts(ADMIN) == [f"没有编号为 {contest.campaign.id + 50} 的答题活动。"]


async def test_looking_selects_nobody_and_a_confirmed_list_counts_students_once(
    dp: Dispatcher, contest: Contest, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    bot = MockedBot()
    admin = user(ADMIN)
    await dp.feed_update(bot, text_update(admin, "/top"))
    listing = bot.sent_texts(ADMIN)[-1]
    # Students who passed only: not the teacher with full marks, not 0% nor 40%.
    assert "1. 满分学生" in listing and "2. 四分学生" in listing and "3. 外校学生" in listing
    assert "满分老师" not in listing and "零分学生" not in listing and "两分学生" not in listing
    assert "外校学生（一三一团中学）62.5%" in listing  # a score is whole only when it is
    (view,) = await kept(session_factory)
    assert view.confirmed_at is None and view.roles == "student"
    assert bot.last_markup_data() == [ConfirmShortlistCb(id=view.id).pack()]
    # Looking, however often, selects nobody.
    await dp.feed_update(bot, text_update(admin, "/top 2"))
    assert await selected_students(session_factory) == 0

    # The spreadsheet: every column has a header, the title says whose list it is.
    book = load_workbook(io.BytesIO(spreadsheets(bot)[0]))
    sheet = book.active
    assert sheet is not None
    title = str(sheet["A1"].value)
    assert contest.campaign.name in title and "全体" in title
    header = [cell.value for cell in sheet[2]]
    widest = max(len(row) for row in sheet.iter_rows(min_row=3, values_only=True))
    assert len(header) == widest and all(header), header
    assert header[-1] == "过快作答（题）"
    percents = [row[5] for row in sheet.iter_rows(min_row=3, values_only=True)]
    assert percents == [100.0, 80.0, 62.5]

    # A coordinator of another school may not confirm the admin's list.
    bot.clear()
    button = ConfirmShortlistCb(id=view.id).pack()
    await dp.feed_update(bot, callback_update(user(OTHER_COORDINATOR), button))
    assert alerts(bot) == ["这份名单已不存在，或者你没有确认它的权限。"]
    assert await selected_students(session_factory) == 0

    bot.clear()
    await dp.feed_update(bot, callback_update(admin, button))
    assert bot.sent_texts(ADMIN) == [
        f"已确认推荐名单（编号 {view.id}）：共 3 名学生，计入工作报告的“入选学生”。"
    ]
    assert await selected_students(session_factory) == 3
    (confirmed, _second_view) = await kept(session_factory)
    assert confirmed.confirmed_by == ADMIN and confirmed.confirmed_at is not None

    # A second press, and the same students confirmed again, count once.
    bot.clear()
    await dp.feed_update(bot, callback_update(admin, button))
    assert alerts(bot) == ["这份名单已经确认过了。"]
    await dp.feed_update(bot, text_update(admin, "/top 3"))
    again = bot.last_markup_data()
    await dp.feed_update(bot, callback_update(admin, again[0]))
    assert await selected_students(session_factory) == 3


async def test_a_list_that_changed_since_it_was_shown_is_not_confirmed(
    dp: Dispatcher, contest: Contest, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    bot = MockedBot()
    await dp.feed_update(bot, text_update(user(ADMIN), "/top 3"))
    button = bot.last_markup_data()[0]
    # Someone finishes with full marks and a better time after the list was shown.
    late = await registered(
        session_factory, 20007, contest.world.classes["七年级2班"].id, name="后来的学生"
    )
    await finished(session_factory, contest.campaign, late.id, 5.0, 10)
    bot.clear()
    await dp.feed_update(bot, callback_update(user(ADMIN), button))
    assert alerts(bot) == [
        "你查看之后排名有了变化，这份名单已经不是最新的。请重新发送 /top 查看，再确认。"
    ]
    assert all(row.confirmed_at is None for row in await kept(session_factory))
    assert await selected_students(session_factory) == 0


async def test_a_coordinator_ranks_and_selects_in_their_own_school(
    dp: Dispatcher, contest: Contest, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    bot = MockedBot()
    await dp.feed_update(bot, text_update(user(COORDINATOR), "/top"))
    listing = bot.sent_texts(COORDINATOR)[-1]
    assert "满分学生" in listing and "四分学生" in listing and "外校学生" not in listing
    sheet = load_workbook(io.BytesIO(spreadsheets(bot)[0])).active
    assert sheet is not None and FIRST in str(sheet["A1"].value)
    await dp.feed_update(bot, callback_update(user(COORDINATOR), bot.last_markup_data()[0]))
    assert "共 2 名学生" in bot.sent_texts(COORDINATOR)[-1]
    assert await selected_students(session_factory) == 2


async def test_students_may_not_look_or_confirm(
    dp: Dispatcher, contest: Contest, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    bot = MockedBot()
    await dp.feed_update(bot, text_update(user(ADMIN), "/top"))
    button = bot.last_markup_data()[0]
    await dp.feed_update(bot, text_update(user(20001), "/top"))
    assert "只有学校联络员和管理员" in bot.sent_texts(20001)[-1]
    await dp.feed_update(bot, callback_update(user(20001), button))
    assert alerts(bot)[-1] == "这份名单已不存在，或者你没有确认它的权限。"
    assert await selected_students(session_factory) == 0


def _cli(database_url: str, *args: str) -> str:
    from bot.cli import main

    result = CliRunner().invoke(
        main, ["campaign", "shortlist", *args], env={"PUFA_DATABASE_URL": database_url}
    )
    assert result.exit_code == 0, result.output
    return result.output


def _kept_rows(database_url: str) -> list[tuple[str | None, bool]]:
    async def read() -> list[tuple[str | None, bool]]:
        engine = create_engine(database_url)
        try:
            async with create_session_factory(engine)() as session:
                rows = await session.execute(
                    select(ShortlistRow.roles, ShortlistRow.confirmed_at).order_by(ShortlistRow.id)
                )
                return [(roles, confirmed is not None) for roles, confirmed in rows]
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_the_command_line_records_a_selection_only_when_asked(
    database_url: str, contest: Contest, tmp_path: Path
) -> None:
    campaign = str(contest.campaign.id)
    out = str(tmp_path / "list.xlsx")
    looked = _cli(database_url, campaign, "--out", out)
    assert "满分学生" in looked and "满分老师" not in looked and "未记为推荐名单" in looked
    assert _kept_rows(database_url) == []

    widened = _cli(database_url, campaign, "--roles", "student,teacher", "--out", out)
    assert "1. 满分老师" in widened
    assert _kept_rows(database_url) == []

    recorded = _cli(database_url, campaign, "--record", "--out", out)
    assert "已记为推荐名单" in recorded
    assert _kept_rows(database_url) == [("student", True)]

    from bot.cli import main

    wrong = CliRunner().invoke(
        main,
        ["campaign", "shortlist", campaign, "--roles", "principal"],
        env={"PUFA_DATABASE_URL": database_url},
    )
    assert wrong.exit_code != 0 and "principal" in wrong.output


async def test_nobody_passed_means_nothing_to_confirm(
    dp: Dispatcher, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(session_factory)
    campaign = await open_campaign(session_factory, questions=5, name="无人合格")
    person = await registered(session_factory, 20010, world.classes["七年级1班"].id)
    await finished(session_factory, campaign, person.id, 1.0, 30)
    bot = MockedBot()
    await dp.feed_update(bot, text_update(user(ADMIN), "/top"))
    assert bot.sent_texts(ADMIN) == ["“无人合格”还没有成绩合格的学生。"]
    assert bot.last_markup_data() == [] and await kept(session_factory) == []
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(ShortlistRow)) == 0


async def test_lists_kept_before_the_upgrade_stay_selections(tmp_path: Path) -> None:
    """Every list kept before confirmation existed was kept as a selection: after the
    upgrade the report counts its students as it did, on the day the list was drawn."""
    from sqlalchemy import text

    from storage.migrate import upgrade
    from storage.repositories import UnitRepository

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    try:
        await upgrade(engine, "0018")
        drawn = "2022-03-04 05:06:07.000000"
        async with engine.begin() as connection:
            for statement in (
                "INSERT INTO units (id, kind, name, path, students_enrolled, teachers_enrolled,"
                " created_at, updated_at) VALUES (1, 'division', '第七师', '/1/', 0, 0, :at, :at),"
                " (2, 'school', '一中', '/1/2/', 100, 10, :at, :at)",
                "INSERT INTO participants (id, telegram_id, role, unit_id, locale, subscribed,"
                " first_seen_at) VALUES (1, 501, 'student', 2, 'zh-CN', 1, :at),"
                " (2, 502, 'teacher', 2, 'zh-CN', 1, :at)",
                "INSERT INTO campaigns (id, name, status, bank_ids, questions, per_tag,"
                " attempts_allowed, pass_mark, feedback, partial_credit, certificate, opens_at,"
                " closes_at, audience_units, audience_roles, created_at) VALUES (1, '宪法卫士',"
                " 'closed', '[]', 5, '{}', 1, 60, 'each', 0, 1, :at, :closes, '[]', '[]', :at)",
                "INSERT INTO attempts (id, campaign_id, participant_id, number, status,"
                " started_at, current_seq, question_count, points, flagged, chat_id) VALUES"
                " (1, 1, 1, 1, 'finished', :at, 1, 5, 5, 0, 501),"
                " (2, 1, 2, 1, 'finished', :at, 1, 5, 5, 0, 502)",
                "INSERT INTO shortlists (id, campaign_id, top_n, created_by, created_at)"
                " VALUES (1, 1, 9, 77, :at)",
                "INSERT INTO shortlist_entries (shortlist_id, rank, participant_id, attempt_id,"
                " points, total_ms, finished_at) VALUES (1, 1, 1, 1, 5, 1000, :at),"
                " (1, 2, 2, 2, 5, 2000, :at)",
            ):
                await connection.execute(
                    text(statement), {"at": drawn, "closes": "2022-04-01 00:00:00.000000"}
                )
        await upgrade(engine)
        async with create_session_factory(engine)() as session:
            root = await UnitRepository(session).get(1)
            assert root is not None
            stats = await StatisticsRepository(session).compile(
                root, Period(datetime(2022, 1, 1).date(), datetime(2022, 12, 31).date()), SHANGHAI
            )
            kept_rows = list(await session.scalars(select(ShortlistRow)))
    finally:
        await engine.dispose()
    assert stats.total.shortlisted == 1  # the student; the teacher never counts now
    assert [(row.confirmed_by, row.confirmed_at == row.created_at) for row in kept_rows] == [
        (77, True)
    ]
