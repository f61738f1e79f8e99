"""A day before a campaign closes, those in its audience who have not finished are reminded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from aiogram.methods import SendMessage
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.campaign_jobs import plan_campaigns, remind_campaign
from bot.config import Settings
from bot.i18n import Translator
from bot.scheduler import Scheduler
from bot.services import ServiceContext
from quizzes.attempts import AttemptStatus
from quizzes.campaigns import Audience, Campaign, CampaignStatus, Rules
from quizzes.participants import Participant, Role
from storage.models_quiz import AttemptRow, CampaignRow
from storage.models_scheduler import JobRunRow
from storage.repositories import Repositories
from tests.factories import World, build_world
from tests.mocked_bot import MockedBot
from tests.quiz_world import SMALL_BANK, open_campaign, registered

REMINDER = "你还没有完成答题"


@pytest.fixture
async def world(session_factory: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(session_factory)


@pytest.fixture
def settings() -> Settings:
    return Settings(bot_token="42:TEST-token")


@pytest.fixture
def bot() -> MockedBot:
    return MockedBot()


@pytest.fixture
def context(
    session_factory: async_sessionmaker[AsyncSession], settings: Settings, bot: MockedBot
) -> ServiceContext:
    return ServiceContext(settings, session_factory, bot, Translator.load())


async def add_campaign(
    session_factory: async_sessionmaker[AsyncSession],
    name: str,
    opens_at: datetime,
    closes_at: datetime,
    status: CampaignStatus = CampaignStatus.SCHEDULED,
) -> Campaign:
    async with session_factory() as session:
        repo = Repositories.over(session)
        bank = await repo.banks.by_name(SMALL_BANK.name)
        if bank is None:
            bank = (
                await repo.banks.import_bank(
                    SMALL_BANK, source_filename="small.yaml", content_sha256="x", imported_by=None
                )
            ).bank
        campaign = await repo.campaigns.create(
            name=name,
            bank_ids=[bank.id],
            rules=Rules(questions=3),
            opens_at=opens_at,
            closes_at=closes_at,
            audience=Audience(),
            created_by=None,
            draft=status is CampaignStatus.DRAFT,
        )
        if status not in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED):
            await repo.campaigns.set_status(campaign.id, status)
        await session.commit()
    return campaign


async def add_attempt(
    session_factory: async_sessionmaker[AsyncSession],
    campaign: Campaign,
    participant: Participant,
    status: AttemptStatus,
    number: int = 1,
) -> None:
    now = datetime.now(UTC)
    async with session_factory() as session:
        session.add(
            AttemptRow(
                campaign_id=campaign.id,
                participant_id=participant.id,
                number=number,
                status=status.value,
                started_at=now - timedelta(minutes=10),
                finished_at=now if status is AttemptStatus.FINISHED else None,
                question_count=3,
                chat_id=participant.telegram_id,
            )
        )
        await session.commit()


def reminded(bot: MockedBot) -> dict[int, int]:
    """Chat id -> reminders it got."""
    counts: dict[int, int] = {}
    for method in bot.recorder.requests:
        if isinstance(method, SendMessage) and REMINDER in method.text:
            counts[int(method.chat_id)] = counts.get(int(method.chat_id), 0) + 1
    return counts


async def test_the_planner_plans_a_reminder_a_day_before_the_close(
    world: World, session_factory: async_sessionmaker[AsyncSession], context: ServiceContext
) -> None:
    now = datetime.now(UTC)
    week = await add_campaign(
        session_factory, "一周", now + timedelta(days=1), now + timedelta(days=8)
    )
    short = await add_campaign(
        session_factory, "半天", now + timedelta(hours=1), now + timedelta(hours=13)
    )
    day = await add_campaign(  # the reminder would follow the opening within 6 hours
        session_factory, "一天半", now + timedelta(hours=1), now + timedelta(hours=31)
    )
    draft = await add_campaign(
        session_factory,
        "草稿",
        now + timedelta(days=1),
        now + timedelta(days=8),
        CampaignStatus.DRAFT,
    )
    missed = await add_campaign(  # the reminder was due two hours ago: too late now
        session_factory,
        "错过",
        now - timedelta(days=3),
        now + timedelta(hours=22),
        CampaignStatus.OPEN,
    )
    just_due = await add_campaign(  # due ten minutes ago: still within the stale rule
        session_factory,
        "刚到",
        now - timedelta(days=3),
        now + timedelta(hours=24, minutes=-10),
        CampaignStatus.OPEN,
    )
    scheduler = Scheduler(context, replan_every=timedelta(0))
    scheduler.add_planner(plan_campaigns)
    assert await scheduler.plan()
    planned = {job_id: when for job_id, when in scheduler.upcoming()}
    assert planned[f"campaign-{week.id}-remind"] == week.closes_at - timedelta(days=1)
    assert planned[f"campaign-{week.id}-open"] == week.opens_at
    assert f"campaign-{short.id}-remind" not in planned and scheduler.scheduled(
        f"campaign-{short.id}-close"
    )
    assert f"campaign-{day.id}-remind" not in planned
    assert not any(job_id.startswith(f"campaign-{draft.id}-") for job_id in planned)
    assert not scheduler.scheduled(f"campaign-{missed.id}-remind")
    assert scheduler.scheduled(f"campaign-{just_due.id}-remind")
    # Closed: the planner drops the reminder with the rest.
    async with session_factory() as session:
        await Repositories.over(session).campaigns.set_status(week.id, CampaignStatus.CLOSED)
        await session.commit()
    assert await scheduler.plan()
    assert not scheduler.scheduled(f"campaign-{week.id}-remind")


async def test_only_the_audience_without_a_finished_attempt_is_reminded(
    world: World,
    session_factory: async_sessionmaker[AsyncSession],
    context: ServiceContext,
    bot: MockedBot,
) -> None:
    school = world.schools["胡杨河市第一中学"]
    campaign = await open_campaign(session_factory, unit_ids=(school.id,), name="宪法周")
    finished = await registered(session_factory, 501, world.classes["七年级1班"].id)
    started = await registered(session_factory, 502, world.classes["七年级2班"].id)
    untouched = await registered(session_factory, 503, school.id, Role.TEACHER)
    elsewhere = await registered(session_factory, 504, world.classes["三年级1班"].id)
    again = await registered(session_factory, 505, world.classes["七年级1班"].id)
    await add_attempt(session_factory, campaign, finished, AttemptStatus.FINISHED)
    await add_attempt(session_factory, campaign, started, AttemptStatus.ACTIVE)
    await add_attempt(session_factory, campaign, again, AttemptStatus.FINISHED)
    await add_attempt(session_factory, campaign, again, AttemptStatus.ACTIVE, number=2)
    # A finished attempt in another campaign does not count for this one.
    other = await open_campaign(session_factory, name="别的活动")
    await add_attempt(session_factory, other, untouched, AttemptStatus.FINISHED)

    await remind_campaign(context, campaign_id=campaign.id)

    assert reminded(bot) == {started.telegram_id: 1, untouched.telegram_id: 1}
    [text] = bot.sent_texts(untouched.telegram_id)
    assert "<b>宪法周</b>" in text and "/quiz" in text
    assert elsewhere.telegram_id not in reminded(bot)


async def test_a_closed_or_not_yet_open_campaign_reminds_nobody(
    world: World,
    session_factory: async_sessionmaker[AsyncSession],
    context: ServiceContext,
    bot: MockedBot,
) -> None:
    await registered(session_factory, 601, world.classes["七年级1班"].id)
    now = datetime.now(UTC)
    closed = await open_campaign(session_factory, name="已结束")
    async with session_factory() as session:
        await Repositories.over(session).campaigns.set_status(closed.id, CampaignStatus.CLOSED)
        await session.commit()
    later = await add_campaign(
        session_factory, "未开始", now + timedelta(days=1), now + timedelta(days=3)
    )
    await remind_campaign(context, campaign_id=closed.id)
    await remind_campaign(context, campaign_id=later.id)
    await remind_campaign(context, campaign_id=9999)
    assert bot.sent_texts() == []


async def test_a_firing_delivered_twice_reminds_once(
    world: World,
    session_factory: async_sessionmaker[AsyncSession],
    context: ServiceContext,
    bot: MockedBot,
) -> None:
    """Two processes (or a restart) plan the same overdue reminder; one claim wins."""
    people = [
        await registered(session_factory, 700 + n, world.classes["七年级1班"].id) for n in range(3)
    ]
    now = datetime.now(UTC)
    campaign = await add_campaign(
        session_factory,
        "两次",
        now - timedelta(days=2),
        now + timedelta(hours=24, minutes=-5),
        CampaignStatus.OPEN,
    )
    for _process in range(2):
        scheduler = Scheduler(context, replan_every=timedelta(0))
        scheduler.add_planner(plan_campaigns)
        await scheduler.start()
        await scheduler.wait_idle(10)
        await scheduler.stop()
    assert reminded(bot) == {person.telegram_id: 1 for person in people}
    async with session_factory() as session:
        runs = await session.scalar(
            select(func.count())
            .select_from(JobRunRow)
            .where(JobRunRow.job_id == f"campaign-{campaign.id}-remind")
        )
        status = await session.scalar(
            select(CampaignRow.status).where(CampaignRow.id == campaign.id)
        )
    assert runs == 1 and status == "open"
