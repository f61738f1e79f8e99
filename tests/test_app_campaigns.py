"""The quiz campaign use cases, with a real unit of work on SQLite and PostgreSQL: question
banks from an uploaded file, setting up a campaign, its per-question figures and the
shortlist. The chat flows over them are in the test_*_chat and dialogue tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.application import UnitOfWork
from bot.application.banks import (
    CheckedUpload,
    UploadRefusal,
    check_upload,
    content_hash,
    import_upload,
    list_banks,
)
from bot.application.campaign_setup import (
    BankChoice,
    CampaignNotCreated,
    SetupRefusal,
    answer_problems,
    audience_units,
    banks_on_offer,
    chosen_banks,
    create_from_answers,
)
from bot.application.results import (
    QuestionFigures,
    ResultsRefusal,
    chosen_campaign,
    question_figures,
)
from bot.application.shortlists import (
    Confirmation,
    ShortlistRefusal,
    TopStudents,
    confirm_shown_list,
    top_students,
)
from bot.config import Settings
from bot.i18n import Translator
from bot.scheduler import Scheduler
from bot.services import ServiceContext
from quizzes.bank import BankError, BankImport, ImportStatus
from quizzes.campaigns import Campaign
from quizzes.clock import fixed_clock
from quizzes.participants import Role
from quizzes.permissions import Permissions
from storage.models_quiz import AttemptRow, CampaignRow
from storage.models_quiz_bank import QuestionBankRow
from tests.factories import World, build_world
from tests.mocked_bot import MockedBot
from tests.quiz_world import SMALL_BANK, open_campaign, registered

SHANGHAI = ZoneInfo("Asia/Shanghai")
ADMIN = Permissions(is_admin=True)
NOBODY = Permissions()
GOOD_CSV = (
    "题型,题干,选项A,选项B,选项C,答案,解析,标签\n"
    "单选,我国的根本制度是？,社会主义制度,人民代表大会制度,民族区域自治制度,A,第一条,总纲\n"
    "多选,人民行使国家权力的机关是？,全国人大,地方各级人大,国务院,AB,第二条,总纲\n"
    "判断,宪法是国家的根本法。,,,,对,序言,序言\n"
).encode("utf-8-sig")
BAD_CSV = "题型,题干,选项A,答案\n单选,只有题干,,Z\n".encode()


def plain(key: str, **params: object) -> str:
    """A stand-in for the catalog: the key and its parameters, in a stable order."""
    return " ".join([key, *(f"{name}={params[name]}" for name in sorted(params))])


@pytest.fixture
async def uow(session_factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[UnitOfWork]:
    async with session_factory() as session:
        yield UnitOfWork.over(session)


async def count(session_factory: async_sessionmaker[AsyncSession], table: type[object]) -> int:
    async with session_factory() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


# ---------------------------------------------------------------------- banks


async def test_an_upload_is_checked_then_imported_and_the_same_file_again_changes_nothing(
    uow: UnitOfWork, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    checked = await check_upload(uow, GOOD_CSV, "宪法入门.csv")
    assert isinstance(checked, CheckedUpload)
    assert checked.bank.name == "宪法入门" and len(checked.bank.questions) == 3
    assert checked.existing is None and not checked.same_content
    assert await count(session_factory, QuestionBankRow) == 0  # checking imports nothing

    done = await import_upload(
        uow,
        GOOD_CSV,
        filename="宪法入门.csv",
        checked_sha256=checked.sha256,
        viewer=ADMIN,
        imported_by=7,
    )
    assert isinstance(done, BankImport) and done.status is ImportStatus.CREATED
    assert [(b.name, b.imported_by) for b in await list_banks(uow)] == [("宪法入门", 7)]

    again = await check_upload(uow, GOOD_CSV, "宪法入门.csv")
    assert isinstance(again, CheckedUpload) and again.same_content
    unchanged = await import_upload(
        uow,
        GOOD_CSV,
        filename="宪法入门.csv",
        checked_sha256=again.sha256,
        viewer=ADMIN,
        imported_by=7,
    )
    assert isinstance(unchanged, BankImport) and unchanged.status is ImportStatus.UNCHANGED


async def test_a_file_changed_since_it_was_checked_or_that_does_not_parse_is_not_imported(
    uow: UnitOfWork, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    checked = await check_upload(uow, GOOD_CSV, "宪法入门.csv")
    assert isinstance(checked, CheckedUpload)
    changed = GOOD_CSV.replace("总纲".encode(), "序言".encode())
    refused = await import_upload(
        uow,
        changed,
        filename="宪法入门.csv",
        checked_sha256=checked.sha256,
        viewer=ADMIN,
        imported_by=7,
    )
    assert refused is UploadRefusal.CHANGED
    not_admin = await import_upload(
        uow,
        GOOD_CSV,
        filename="宪法入门.csv",
        checked_sha256=checked.sha256,
        viewer=NOBODY,
        imported_by=7,
    )
    assert not_admin is UploadRefusal.NOT_ADMIN

    bad = await check_upload(uow, BAD_CSV, "坏题库.csv")
    assert isinstance(bad, BankError) and bad.problems
    still_bad = await import_upload(
        uow,
        BAD_CSV,
        filename="坏题库.csv",
        checked_sha256=content_hash(BAD_CSV),
        viewer=ADMIN,
        imported_by=7,
    )
    assert isinstance(still_bad, BankError)
    assert await count(session_factory, QuestionBankRow) == 0


# ---------------------------------------------------------------------- setting up


@pytest.fixture
async def world(session_factory: async_sessionmaker[AsyncSession]) -> World:
    world = await build_world(session_factory)
    async with session_factory() as session:
        made = UnitOfWork.over(session)
        await made.banks.import_bank(
            SMALL_BANK, source_filename="small.yaml", content_sha256="x", imported_by=None
        )
        await made.commit()
    return world


async def test_the_dialogue_offers_every_bank_and_the_regiments(
    world: World, uow: UnitOfWork
) -> None:
    assert [bank.name for bank in await banks_on_offer(uow)] == [SMALL_BANK.name]
    assert [unit.name for unit in await audience_units(uow)] == ["129团", "131团", "137团"]


async def test_chosen_banks_are_those_that_exist_with_their_pool(
    world: World, uow: UnitOfWork
) -> None:
    [bank] = await banks_on_offer(uow)
    assert await chosen_banks(uow, [bank.id + 1000]) == BankChoice([], 0)
    choice = await chosen_banks(uow, [bank.id, bank.id + 1000])
    assert [b.id for b in choice.banks] == [bank.id] and choice.pool == 5


NOW = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai


async def test_an_answer_is_checked_against_the_spec_the_database_and_the_clock(
    world: World, uow: UnitOfWork, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await open_campaign(session_factory, name="已有的竞赛")
    clock = fixed_clock(NOW)

    async def problems(key: str, value: object, pool: int = 5) -> list[str]:
        found = await answer_problems(
            uow, key, {key: value}, pool=pool, zone=SHANGHAI, clock=clock
        )
        return [problem.code for problem in found]

    assert await problems("name", "已有的竞赛") == ["taken"]
    assert await problems("name", "新竞赛") == []
    assert await problems("questions", 6) == ["pool_too_small"]
    assert await problems("questions", 5) == []
    assert await problems("questions", "五") != []  # the spec parser's own refusal
    assert await problems("opens", "2026-12-01 07:58") == ["past_time"]
    assert await problems("opens", "2026-12-01 07:59:30") == []  # a minute's slack
    assert await problems("closes", "2026-12-02 08:00") == []


def answers(opens: str, closes: str, name: str = "宪法卫士") -> dict[str, object]:
    return {
        "name": name,
        "banks": [SMALL_BANK.name],
        "questions": 5,
        "time_per_question": None,
        "time_per_attempt": None,
        "attempts": 2,
        "pass_mark": 60,
        "feedback": "each",
        "partial_credit": False,
        "opens": opens,
        "closes": closes,
        "audience": {"units": ["129团"], "roles": ["student"]},
        "certificate": True,
    }


@pytest.fixture
def scheduler(session_factory: async_sessionmaker[AsyncSession]) -> Scheduler:
    """Not started: the test reads what was scheduled."""
    settings = Settings(bot_token="42:TEST-token")
    return Scheduler(ServiceContext(settings, session_factory, MockedBot(), Translator.load()))


async def test_confirmed_answers_create_commit_and_schedule_the_campaign(
    world: World,
    uow: UnitOfWork,
    session_factory: async_sessionmaker[AsyncSession],
    scheduler: Scheduler,
) -> None:
    now = datetime.now(UTC)
    opens = f"{(now + timedelta(days=1)).astimezone(SHANGHAI):%Y-%m-%d %H:%M}"
    closes = f"{(now + timedelta(days=8)).astimezone(SHANGHAI):%Y-%m-%d %H:%M}"
    created = await create_from_answers(
        uow,
        answers(opens, closes),
        zone=SHANGHAI,
        viewer=ADMIN,
        created_by=1,
        clock=fixed_clock(now),
        scheduler=scheduler,
    )
    assert not isinstance(created, CampaignNotCreated | SetupRefusal)
    assert created.question_pool == 5 and created.campaign.name == "宪法卫士"
    assert await count(session_factory, CampaignRow) == 1  # committed: another session sees it
    jobs = {job_id for job_id, _ in scheduler.upcoming()}
    campaign_id = created.campaign.id
    assert {f"campaign-{campaign_id}-open", f"campaign-{campaign_id}-close"} <= jobs


async def test_answers_that_no_longer_hold_or_from_a_non_admin_create_nothing(
    world: World,
    uow: UnitOfWork,
    session_factory: async_sessionmaker[AsyncSession],
    scheduler: Scheduler,
) -> None:
    coordinator = Permissions(coordinator_of=frozenset({world.schools["胡杨河市第一中学"].id}))
    refused = await create_from_answers(
        uow,
        answers("2026-12-01 08:00", "2026-12-02 08:00"),
        viewer=coordinator,
        created_by=1,
        zone=SHANGHAI,
        clock=fixed_clock(NOW),
        scheduler=scheduler,
    )
    assert refused is SetupRefusal.NOT_ADMIN
    past = await create_from_answers(
        uow,
        answers("2026-12-01 08:00", "2026-12-02 08:00"),
        zone=SHANGHAI,
        viewer=ADMIN,
        created_by=1,
        clock=fixed_clock(datetime(2026, 12, 3, tzinfo=UTC)),
        scheduler=scheduler,
    )
    assert isinstance(past, CampaignNotCreated)
    assert [p.code for p in past.problems] == ["past_time"]

    await open_campaign(session_factory, name="宪法卫士")  # taken meanwhile
    taken = await create_from_answers(
        uow,
        answers("2026-12-01 08:00", "2026-12-02 08:00"),
        zone=SHANGHAI,
        viewer=ADMIN,
        created_by=1,
        clock=fixed_clock(NOW),
        scheduler=scheduler,
    )
    assert isinstance(taken, CampaignNotCreated)
    assert [p.code for p in taken.problems] == ["taken"]
    assert await count(session_factory, CampaignRow) == 1
    assert scheduler.upcoming() == []


# ---------------------------------------------------------------------- results


async def test_the_chosen_campaign_is_the_one_numbered_or_the_latest(
    world: World, uow: UnitOfWork, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    assert await chosen_campaign(uow, None) is None
    first = await open_campaign(session_factory, name="第一场")
    latest = await open_campaign(session_factory, name="第二场")
    assert await chosen_campaign(uow, None) == latest
    assert await chosen_campaign(uow, f"000{first.id}") == first
    assert await chosen_campaign(uow, "9" * 19) is None  # past every id


async def test_question_figures_are_for_teachers_and_staff(
    world: World, uow: UnitOfWork, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async def figures(
        number: str | None, viewer: Permissions = NOBODY, role: Role | None = Role.TEACHER
    ) -> QuestionFigures | ResultsRefusal:
        return await question_figures(uow, number, viewer=viewer, role=role, _=plain)

    assert await figures(None) is ResultsRefusal.NO_CAMPAIGN
    campaign = await open_campaign(session_factory)
    assert await figures(None, role=Role.STUDENT) is ResultsRefusal.NOT_ALLOWED
    assert await figures(str(campaign.id + 1)) is ResultsRefusal.UNKNOWN_CAMPAIGN
    shown = await figures(str(campaign.id), ADMIN, Role.STUDENT)
    assert isinstance(shown, QuestionFigures)
    assert shown.campaign == campaign and shown.lines == []  # nobody has answered yet


# ---------------------------------------------------------------------- shortlist


async def finished(
    session_factory: async_sessionmaker[AsyncSession],
    campaign: Campaign,
    participant_id: int,
    points: float,
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
                finished_at=started + timedelta(seconds=60),
                question_count=campaign.rules.questions,
                points=points,
                passed=True,
                total_ms=60_000,
                chat_id=participant_id,
            )
        )
        await session.commit()


async def test_staff_rank_within_their_reach_and_only_they_confirm_a_list(
    world: World, uow: UnitOfWork, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    campaign = await open_campaign(session_factory)
    first = world.schools["胡杨河市第一中学"]
    second = world.schools["一三一团中学"]
    for telegram_id, unit_id, points in (
        (30001, world.classes["七年级1班"].id, 5.0),
        (30002, second.id, 4.0),
    ):
        person = await registered(session_factory, telegram_id, unit_id, name=f"学生{points}")
        await finished(session_factory, campaign, person.id, points)
    settings = Settings(bot_token="42:TEST-token")

    async def top(viewer: Permissions) -> TopStudents | ShortlistRefusal:
        return await top_students(
            uow, 9, None, viewer=viewer, drawn_by=1, settings=settings, _=plain
        )

    assert await top(NOBODY) is ShortlistRefusal.NOT_STAFF
    assert (
        await top_students(
            uow, 9, campaign.id + 1, viewer=ADMIN, drawn_by=1, settings=settings, _=plain
        )
        is ShortlistRefusal.UNKNOWN_CAMPAIGN
    )
    coordinator = Permissions(coordinator_of=frozenset({first.id}))
    mine = await top(coordinator)
    assert isinstance(mine, TopStudents) and mine.scope == first
    assert [line.name for line in mine.result.lines] == ["学生5.0"]
    everyone = await top(ADMIN)
    assert isinstance(everyone, TopStudents) and everyone.scope is None
    assert [line.name for line in everyone.result.lines] == ["学生5.0", "学生4.0"]

    kept = mine.result.shortlist_id
    assert kept is not None
    other = Permissions(coordinator_of=frozenset({second.id}))
    assert await confirm_shown_list(uow, kept, viewer=other, confirmed_by=2) == (
        Confirmation.GONE,
        None,
    )
    outcome, _ = await confirm_shown_list(uow, kept, viewer=coordinator, confirmed_by=3)
    assert outcome is Confirmation.CONFIRMED
    again, _ = await confirm_shown_list(uow, kept, viewer=ADMIN, confirmed_by=1)
    assert again is Confirmation.ALREADY
