"""The scheduler: fire once across processes, survive restarts, crontab, failing jobs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.crontab import CrontabError, crontab_trigger
from bot.i18n import Translator
from bot.scheduler import Scheduler
from bot.services import ServiceContext
from quizzes.units import UnitKind
from storage.database import create_engine, create_session_factory
from storage.models_scheduler import JobRunRow
from storage.repositories import Repositories
from storage.scheduler import JobRunRepository
from tests.factories import build_world
from tests.mocked_bot import MockedBot

SHANGHAI = ZoneInfo("Asia/Shanghai")
RUNS: list[tuple[str, object]] = []


async def record_run(context: ServiceContext, *, key: str, n: int = 0) -> None:
    RUNS.append((key, n))


async def slow_run(context: ServiceContext, *, key: str) -> None:
    await asyncio.sleep(0.2)
    RUNS.append((key, 0))


async def failing_run(context: ServiceContext, *, key: str) -> None:
    raise RuntimeError(f"boom {key}")


async def greet(context: ServiceContext, *, chat_id: int) -> None:
    await context.bot.send_message(chat_id, "定时消息")


@pytest.fixture(autouse=True)
def _clear_runs() -> None:
    RUNS.clear()


def context_for(
    database_url: str, session_factory: async_sessionmaker[AsyncSession]
) -> ServiceContext:
    settings = Settings(bot_token="42:TEST-token", database_url=database_url)
    return ServiceContext(settings, session_factory, MockedBot(), Translator.load())


@pytest.fixture
async def process() -> AsyncIterator[Callable[..., Scheduler]]:
    """Build schedulers as separate bot processes would: each with an engine of its own."""
    engines = []
    schedulers: list[Scheduler] = []

    def build(database_url: str, **options: object) -> Scheduler:
        engine = create_engine(database_url)
        engines.append(engine)
        context = context_for(database_url, create_session_factory(engine))
        scheduler = Scheduler(context, replan_every=timedelta(0), **options)  # type: ignore[arg-type]
        schedulers.append(scheduler)
        return scheduler

    yield build
    for scheduler in schedulers:
        await scheduler.stop()
    for engine in engines:
        await engine.dispose()


async def settle(*schedulers: Scheduler, job_ids: list[str], timeout: float = 10) -> None:
    """Wait until none of ``job_ids`` is still scheduled and every started run finished."""
    async with asyncio.timeout(timeout):
        while True:
            if not any(s.scheduled(job_id) for s in schedulers for job_id in job_ids):
                break
            await asyncio.sleep(0.02)
        for scheduler in schedulers:
            await scheduler.wait_idle()


async def job_runs(session_factory: async_sessionmaker[AsyncSession]) -> list[JobRunRow]:
    async with session_factory() as session:
        return list(await session.scalars(select(JobRunRow).order_by(JobRunRow.job_id)))


async def test_two_processes_fire_each_job_once(
    database_url: str,
    session_factory: async_sessionmaker[AsyncSession],
    process: Callable[..., Scheduler],
) -> None:
    first, second = process(database_url), process(database_url)
    when = datetime.now(UTC) + timedelta(seconds=0.5)
    ids = [f"ping-{n}" for n in range(10)]
    for scheduler in (first, second):
        for n, job_id in enumerate(ids):
            scheduler.at(job_id, when, record_run, key=job_id, n=n)
        await scheduler.start()
    await settle(first, second, job_ids=ids)
    assert sorted(RUNS) == sorted((job_id, n) for n, job_id in enumerate(ids))
    rows = await job_runs(session_factory)
    assert [row.job_id for row in rows] == sorted(ids)
    assert {row.claimed_by for row in rows} <= {first.process, second.process}
    assert all(row.finished_at is not None and row.error is None for row in rows)
    assert all(row.due_at == when for row in rows)


async def test_cron_fires_once_across_processes_and_arms_the_next_one(
    database_url: str,
    session_factory: async_sessionmaker[AsyncSession],
    process: Callable[..., Scheduler],
) -> None:
    first, second = process(database_url), process(database_url)
    for scheduler in (first, second):
        await scheduler.start()
        # Added to a running scheduler: nothing is caught up.
        scheduler.cron("new-year", "0 0 1 1 *", record_run, key="new-year")
    (job_id, next_run), *_ = first.upcoming()
    assert job_id == "new-year" and next_run == datetime(next_run.year, 1, 1, tzinfo=SHANGHAI)
    # Fire the armed timer now instead of waiting for the new year.
    for scheduler in (first, second):
        aps = scheduler._aps
        assert aps is not None
        aps.modify_job("new-year", next_run_time=datetime.now(UTC))
        aps.wakeup()
    async with asyncio.timeout(10):
        while True:
            if RUNS and not first._inflight and not second._inflight:
                break
            await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)
    assert RUNS == [("new-year", 0)]
    rows = await job_runs(session_factory)
    assert len(rows) == 1 and rows[0].due_at == next_run
    # Both processes armed the following year.
    following = datetime(next_run.year + 1, 1, 1, tzinfo=SHANGHAI)
    assert first.upcoming() == second.upcoming() == [("new-year", following)]


async def test_a_job_due_while_the_bot_was_down_runs_once_after_restart(
    database_url: str,
    session_factory: async_sessionmaker[AsyncSession],
    process: Callable[..., Scheduler],
) -> None:
    """The plan comes from the tables: one job per school, due an hour ago, rebuilt at start."""
    world = await build_world(session_factory)
    due = datetime.now(UTC) - timedelta(hours=1)
    too_old = datetime.now(UTC) - timedelta(hours=7)

    async def planner(scheduler: Scheduler) -> None:
        async with scheduler.session_factory() as session:
            schools = await Repositories.over(session).units.of_kind(UnitKind.SCHOOL)
        for school in schools:
            scheduler.at(f"school-{school.id}-due", due, record_run, key="due", n=school.id)
            scheduler.at(f"school-{school.id}-old", too_old, record_run, key="old", n=school.id)

    expected = sorted(("due", school.id) for school in world.schools.values())
    for _restart in range(3):
        scheduler = process(database_url)
        scheduler.add_planner(planner)
        await scheduler.start()
        await scheduler.wait_idle(10)
        await scheduler.stop()
        assert sorted(RUNS) == expected  # after the first start, and never again
    rows = await job_runs(session_factory)
    assert len(rows) == len(expected) and all(row.job_id.endswith("-due") for row in rows)


async def test_a_missed_cron_firing_runs_once_when_within_the_grace(
    database_url: str,
    session_factory: async_sessionmaker[AsyncSession],
    process: Callable[..., Scheduler],
) -> None:
    # Monday 2030-03-04 09:30 in Shanghai: the 08:00 weekly firing was missed 90 minutes ago.
    monday = datetime(2030, 3, 4, 9, 30, tzinfo=SHANGHAI)

    async def planner(scheduler: Scheduler) -> None:
        scheduler.cron("weekly", "0 8 * * 1", record_run, key="weekly")

    short = process(database_url, clock=lambda: monday, grace=timedelta(minutes=30))
    short.add_planner(planner)
    await short.start()
    await short.wait_idle(10)
    await short.stop()
    assert RUNS == []  # 90 minutes late is beyond a 30-minute grace

    for _restart in range(2):
        scheduler = process(database_url, clock=lambda: monday)
        scheduler.add_planner(planner)
        await scheduler.start()
        await scheduler.wait_idle(10)
        assert scheduler.upcoming() == [("weekly", datetime(2030, 3, 11, 8, tzinfo=SHANGHAI))]
        await scheduler.stop()
    assert RUNS == [("weekly", 0)]
    async with session_factory() as session:
        (run,) = await JobRunRepository(session).of("weekly")
    assert run.due_at == datetime(2030, 3, 4, 8, tzinfo=SHANGHAI) and run.ok


async def test_a_failing_job_is_recorded_and_the_scheduler_goes_on(
    database_url: str,
    session_factory: async_sessionmaker[AsyncSession],
    process: Callable[..., Scheduler],
) -> None:
    scheduler = process(database_url)
    await scheduler.start()
    soon = datetime.now(UTC) + timedelta(seconds=0.2)
    scheduler.at("fails", soon, failing_run, key="x")
    scheduler.at("works", soon + timedelta(seconds=0.2), record_run, key="after")
    await settle(scheduler, job_ids=["fails", "works"])
    assert RUNS == [("after", 0)]
    assert scheduler.running
    failed, worked = await job_runs(session_factory)
    assert failed.job_id == "fails" and failed.error is not None
    assert "RuntimeError: boom x" in failed.error and failed.finished_at is not None
    assert worked.error is None and worked.finished_at is not None


async def test_stop_waits_for_a_running_job(
    database_url: str,
    session_factory: async_sessionmaker[AsyncSession],
    process: Callable[..., Scheduler],
) -> None:
    scheduler = process(database_url)
    await scheduler.start()
    scheduler.at("slow", datetime.now(UTC), slow_run, key="slow")
    await asyncio.sleep(0.05)
    await scheduler.stop()
    assert RUNS == [("slow", 0)]
    (row,) = await job_runs(session_factory)
    assert row.finished_at is not None


async def test_planners_rebuild_and_prune_the_plan(
    database_url: str, process: Callable[..., Scheduler]
) -> None:
    wanted = {"a", "b"}
    later = datetime.now(UTC) + timedelta(days=1)

    async def planner(scheduler: Scheduler) -> None:
        for name in sorted(wanted):
            scheduler.at(f"job-{name}", later, record_run, key=name)

    scheduler = process(database_url)
    scheduler.add_planner(planner)
    scheduler.cron("by-hand", "0 8 1 * *", record_run, key="by-hand")
    await scheduler.start()
    assert {job_id for job_id, _ in scheduler.upcoming()} == {"job-a", "job-b", "by-hand"}
    wanted.discard("a")
    await scheduler.plan()
    # Planned jobs follow the tables; one scheduled by hand stays until cancelled.
    assert {job_id for job_id, _ in scheduler.upcoming()} == {"job-b", "by-hand"}
    assert scheduler.cancel("by-hand") and not scheduler.cancel("by-hand")
    assert [job_id for job_id, _ in scheduler.upcoming()] == ["job-b"]


def test_upcoming_lists_cron_jobs_in_shanghai_time() -> None:
    settings = Settings(bot_token="42:TEST-token")
    engine = create_engine("sqlite+aiosqlite:///:memory:")
    context = ServiceContext(
        settings, create_session_factory(engine), MockedBot(), Translator.load()
    )
    monday_9am = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)
    scheduler = Scheduler(context, clock=lambda: monday_9am)
    scheduler.cron("weekly", "0 8 * * 1", record_run, key="w")
    scheduler.cron("monthly", "0 8 1 * *", record_run, key="m")
    scheduler.at("once", datetime(2026, 3, 5, 1, 0, tzinfo=UTC), record_run, key="o")
    scheduler.at("gone", datetime(2026, 3, 1, tzinfo=UTC), record_run, key="g")
    assert scheduler.upcoming() == [
        ("once", datetime(2026, 3, 5, 9, 0, tzinfo=SHANGHAI)),
        ("weekly", datetime(2026, 3, 9, 8, 0, tzinfo=SHANGHAI)),
        ("monthly", datetime(2026, 4, 1, 8, 0, tzinfo=SHANGHAI)),
    ]
    assert all(when.utcoffset() == timedelta(hours=8) for _, when in scheduler.upcoming())


@pytest.mark.parametrize(
    ("expression", "weekdays"),
    [
        ("0 8 * * 1", {0}),  # Monday, as crontab(5) reads it (APScheduler 3 alone: Tuesday)
        ("0 8 * * 0", {6}),
        ("0 8 * * 7", {6}),
        ("0 8 * * 1-5", {0, 1, 2, 3, 4}),
        ("0 8 * * 5-7", {4, 5, 6}),
        ("0 8 * * sat,sun", {5, 6}),
        ("0 8 * * */2", {6, 1, 3, 5}),  # Sunday, Tuesday, Thursday, Saturday
    ],
)
def test_crontab_weekdays_mean_what_crontab_means(expression: str, weekdays: set[int]) -> None:
    trigger = crontab_trigger(expression, SHANGHAI)
    moment = datetime(2026, 3, 1, tzinfo=SHANGHAI)
    seen = set()
    for _ in range(14):
        moment = trigger.get_next_fire_time(None, moment + timedelta(seconds=1))
        assert (moment.hour, moment.minute) == (8, 0)
        seen.add(moment.weekday())
    assert seen == weekdays


@pytest.mark.parametrize("expression", ["0 8 * *", "0 8 1 * 1", "0 25 * * *", "0 8 * * 8"])
def test_bad_crontab_is_rejected(expression: str) -> None:
    with pytest.raises(CrontabError):
        crontab_trigger(expression, SHANGHAI)


def test_jobs_must_be_module_level_and_take_ids_only() -> None:
    settings = Settings(bot_token="42:TEST-token")
    context = ServiceContext(
        settings,
        create_session_factory(create_engine("sqlite+aiosqlite:///:memory:")),
        MockedBot(),
        Translator.load(),
    )
    scheduler = Scheduler(context)

    async def local(context: ServiceContext) -> None:
        return None

    soon = datetime.now(UTC) + timedelta(hours=1)
    with pytest.raises(ValueError, match="module-level"):
        scheduler.at("x", soon, local)
    with pytest.raises(ValueError, match="ids"):
        scheduler.at("x", soon, record_run, key=["not", "an", "id"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="aware"):
        scheduler.at("x", datetime(2030, 1, 1), record_run, key="x")


def test_pufa_jobs_lists_the_plan(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.cli import main

    monkeypatch.setenv("PUFA_DATABASE_URL", database_url)
    monkeypatch.setenv("PUFA_REPORT_CRON", "0 8 * * 1;0 8 1 * *")
    result = CliRunner().invoke(main, ["jobs", "--runs", "5"])
    assert result.exit_code == 0, result.output
    assert "Asia/Shanghai" in result.output
    # The plan the bot would build: the report jobs, Monday and the 1st at 08:00.
    lines = {line.split()[-1]: line for line in result.output.splitlines() if "report-" in line}
    assert set(lines) == {"report-1-week", "report-2-month"}
    assert " 08:00:00 Mon " in lines["report-1-week"]


async def test_the_running_bot_runs_scheduled_jobs(
    database_url: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    from bot.app import running_bot
    from bot.sandbox.config import SandboxConfig
    from bot.sandbox.server import run_sandbox
    from tests.test_end_to_end import settings_for

    async with (
        run_sandbox(SandboxConfig()) as sandbox,
        running_bot(settings_for(sandbox, database_url), migrate=False) as app,
    ):
        scheduler = app.services["scheduler"]
        assert isinstance(scheduler, Scheduler) and scheduler.running
        assert app.dp["scheduler"] is scheduler
        await sandbox.client.send_text(777, "/help")
        await sandbox.client.wait_for_messages(777, 1)
        scheduler.at("greet-777", datetime.now(UTC), greet, chat_id=777)
        messages = await sandbox.client.wait_for_messages(777, 2)
        assert messages[-1]["text"] == "定时消息"
    async with session_factory() as session:
        # Only the greeting: the report jobs may also be due, depending on today's date.
        count = await session.scalar(
            select(func.count()).select_from(JobRunRow).where(JobRunRow.job_id == "greet-777")
        )
    assert count == 1
