"""Scheduled work: APScheduler 3 in the bot's event loop, every firing claimed once.

How it fits together:

- A *job* is a module-level ``async def job(context: ServiceContext, **ids) -> None``;
  it receives ids only (``campaign_id=3``) and reloads what it needs from the database.
- ``scheduler.at(job_id, when, func, **ids)`` schedules a one-off firing,
  ``scheduler.cron(job_id, "0 8 * * 1", func, **ids)`` a repeating one (crontab read as
  ``crontab(5)`` reads it, in the settings' time zone). Job ids are fixed
  (``f"campaign-{id}-close"``): scheduling an id again replaces it.
- *Planners* (``async def planner(scheduler) -> None``, added with ``add_planner``)
  schedule jobs from the tables. They run at start-up and every
  ``PUFA_SCHEDULER_REPLAN_S`` seconds, so a restart (or another process) rebuilds the
  same plan: the tables are the source of truth, nothing lives only in memory. A job a
  planner scheduled before and no longer does is cancelled when the planners run again.
- Every firing first inserts ``(job_id, due_at)`` into ``job_runs``; the unique
  constraint lets one insert win, and only that process runs the job. Several bot
  processes on one PostgreSQL therefore fire each job once. The row records who ran it,
  when it finished and the traceback if it failed; a failing job never stops the
  scheduler.
- Missed firings: a one-off due while the bot was down fires at start-up when it is at
  most ``PUFA_SCHEDULER_GRACE_S`` late (beyond that it is skipped with a warning); for a
  cron job the latest fire time within the grace fires once. Fired twice it cannot be:
  the second claim is a no-op.

A firing runs at most once: a process that dies mid-job leaves its claim with
``finished_at`` NULL and the job does not run again for that due time. Jobs therefore
check the state they act on (an already closed campaign is left alone).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import secrets
import socket
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.crontab import crontab_trigger
from bot.metrics import NO_METRICS, Metrics
from bot.services import ServiceContext
from storage.scheduler import JobRunRepository

__all__ = ["JobFunc", "Planner", "Scheduler"]

log = logging.getLogger(__name__)

JobFunc = Callable[..., Awaitable[object]]
Planner = Callable[["Scheduler"], Awaitable[None]]
Id = int | str

_REPLAN_ID = "__replan__"
# The job ids the planner running in this task has scheduled (None: not a planner).
_PLANNING: contextvars.ContextVar[set[str] | None] = contextvars.ContextVar(
    "planning", default=None
)
_STOP_WAIT_S = 30.0
_ERROR_MAX = 8000


@dataclass(frozen=True, eq=False)
class _Job:
    job_id: str
    func: JobFunc
    ids: dict[str, Id]
    when: datetime | None = None
    trigger: CronTrigger | None = None
    expression: str | None = None
    planned: bool = field(default=False)

    def next_after(self, moment: datetime) -> datetime | None:
        """The first firing strictly after ``moment``."""
        if self.when is not None:
            return self.when if self.when > moment else None
        assert self.trigger is not None
        found: datetime | None = self.trigger.get_next_fire_time(
            None, moment + timedelta(microseconds=1)
        )
        return found

    def latest_within(self, start: datetime, end: datetime) -> datetime | None:
        """The last cron firing in ``[start, end]``."""
        assert self.trigger is not None
        latest = None
        moment = self.trigger.get_next_fire_time(None, start)
        while moment is not None and moment <= end:
            latest = moment
            moment = self.next_after(moment)
        return latest


def _check(job_id: str, func: JobFunc, ids: dict[str, Any]) -> dict[str, Id]:
    if not job_id or len(job_id) > 128:
        raise ValueError("a job id is 1 to 128 characters")
    if "<locals>" in func.__qualname__ or func.__name__ == "<lambda>":
        raise ValueError(f"{func.__qualname__}: jobs are module-level functions")
    if not asyncio.iscoroutinefunction(func):
        raise ValueError(f"{func.__qualname__}: jobs are async functions")
    for name, value in ids.items():
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"{job_id}: {name}={value!r}; jobs take ids (int or str) only")
    return dict(ids)


def _process_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"[:128]


class Scheduler:
    """The bot's scheduler service (``services["scheduler"]``)."""

    metrics: Metrics = NO_METRICS  # the bot app hands it the process's own

    def __init__(
        self,
        context: ServiceContext,
        *,
        grace: timedelta | None = None,
        replan_every: timedelta | None = None,
        clock: Callable[[], datetime] | None = None,
        process: str | None = None,
    ) -> None:
        settings = context.settings
        self.context = context
        self.zone = settings.zone
        self.grace = grace if grace is not None else timedelta(seconds=settings.scheduler_grace_s)
        self.replan_every = (
            replan_every
            if replan_every is not None
            else timedelta(seconds=settings.scheduler_replan_s)
        )
        self.process = process or _process_name()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._jobs: dict[str, _Job] = {}
        self._planners: list[Planner] = []
        self._aps: AsyncIOScheduler | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self._plan_lock = asyncio.Lock()
        self._starting = False
        self._warned: set[tuple[str, datetime]] = set()
        self._armed: dict[str, datetime] = {}

    @property
    def session_factory(self) -> async_sessionmaker[AsyncSession]:
        return self.context.session_factory

    @property
    def running(self) -> bool:
        return self._aps is not None

    def now(self) -> datetime:
        return self._clock()

    # -- the API features code against ---------------------------------------------------

    def at(self, job_id: str, when: datetime, func: JobFunc, **ids: Id) -> None:
        """Run ``func(context, **ids)`` once at ``when`` (aware); replaces ``job_id``."""
        if when.tzinfo is None:
            raise ValueError("give an aware datetime")
        job = _Job(job_id, func, _check(job_id, func, ids), when=when.astimezone(UTC))
        self._register(job)

    def cron(self, job_id: str, expression: str, func: JobFunc, **ids: Id) -> None:
        """Run ``func(context, **ids)`` on a 5-field crontab in the settings' time zone."""
        trigger = crontab_trigger(expression, self.zone)
        job = _Job(job_id, func, _check(job_id, func, ids), trigger=trigger, expression=expression)
        self._register(job)

    def cancel(self, job_id: str) -> bool:
        """Forget ``job_id``; ``False`` when it was not scheduled."""
        job = self._jobs.pop(job_id, None)
        self._unarm(job_id)
        return job is not None

    def upcoming(self) -> list[tuple[str, datetime]]:
        """``(job_id, next firing)`` in the settings' time zone, soonest first."""
        now = self.now()
        plan = []
        for job in self._jobs.values():
            moment = self._armed.get(job.job_id) if self.running else job.next_after(now)
            if moment is not None:
                plan.append((job.job_id, moment.astimezone(self.zone)))
        return sorted(plan, key=lambda item: (item[1], item[0]))

    def add_planner(self, planner: Planner) -> None:
        """Add ``async def planner(scheduler)``; it runs at start-up and on every replan."""
        self._planners.append(planner)
        if self.running:
            self._spawn(self._replan(), "planner")

    def scheduled(self, job_id: str) -> bool:
        return job_id in self._jobs

    async def plan(self) -> bool:
        """Run every planner; prune planned jobs no planner schedules any more.

        ``False`` when a planner failed (logged); nothing is pruned then. One plan at a
        time; jobs scheduled meanwhile by anyone else (a handler) are not "planned".
        """
        async with self._plan_lock:
            touched: set[str] = set()
            token = _PLANNING.set(touched)
            ok = True
            try:
                for planner in self._planners:
                    try:
                        await planner(self)
                    except Exception:
                        ok = False
                        name = getattr(planner, "__qualname__", planner)
                        log.exception("planner %s failed", name)
            finally:
                _PLANNING.reset(token)
            if ok:
                for job_id in [j.job_id for j in self._jobs.values() if j.planned]:
                    if job_id not in touched:
                        log.info("job %s is no longer planned; cancelled", job_id)
                        self.cancel(job_id)
            return ok

    # -- service life --------------------------------------------------------------------

    async def start(self) -> None:
        if self.running:
            return
        grace_s = max(1, int(self.grace.total_seconds()))
        self._aps = AsyncIOScheduler(
            timezone=self.zone,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": grace_s},
        )
        self._aps.start()
        self._starting = True
        try:
            for job in list(self._jobs.values()):
                self._arm(job)
            await self.plan()
        finally:
            self._starting = False
        if self.replan_every > timedelta(0):
            self._aps.add_job(
                self._launch_replan,
                IntervalTrigger(seconds=self.replan_every.total_seconds(), timezone=self.zone),
                id=_REPLAN_ID,
                replace_existing=True,
            )
        log.info("scheduler started (%s): %d jobs", self.process, len(self._jobs))

    async def stop(self) -> None:
        """Stop firing; give running jobs a while to finish, then cancel them."""
        if self._aps is not None:
            self._aps.shutdown(wait=False)
            self._aps = None
            self._armed.clear()
        with contextlib.suppress(TimeoutError):
            await self.wait_idle(_STOP_WAIT_S)
        for task in list(self._inflight):
            task.cancel()
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)

    async def wait_idle(self, timeout: float | None = None) -> None:
        """Wait until no job started by this scheduler is running (tests, shutdown)."""
        async with asyncio.timeout(timeout):
            while self._inflight:
                await asyncio.wait(set(self._inflight))

    # -- inside --------------------------------------------------------------------------

    def _register(self, job: _Job) -> None:
        planning = _PLANNING.get()
        if planning is not None:
            planning.add(job.job_id)
            job = _Job(job.job_id, job.func, job.ids, job.when, job.trigger, job.expression, True)
        self._jobs[job.job_id] = job
        if self.running:
            self._arm(job)

    def _arm(self, job: _Job) -> None:
        """Hand the job's next firing to APScheduler; fire now what is overdue."""
        now = self.now()
        if job.when is not None:
            if job.when > now:
                self._timer(job, job.when)
                return
            self._forget(job)
            if now - job.when <= self.grace:
                self._spawn(self._fire(job, job.when), job.job_id)
            elif (job.job_id, job.when) not in self._warned:
                self._warned.add((job.job_id, job.when))
                log.warning("job %s was due %s, beyond the grace: skipped", job.job_id, job.when)
                self.metrics.job_missed(job.func)
            return
        if self._starting:
            missed = job.latest_within(now - self.grace, now)
            if missed is not None:
                self._spawn(self._fire(job, missed), job.job_id)
        following = job.next_after(now)
        if following is not None:
            self._timer(job, following)

    def _timer(self, job: _Job, due_at: datetime) -> None:
        assert self._aps is not None
        self._armed[job.job_id] = due_at
        # A date trigger per firing, so the job knows the due time it claims: every
        # process computes the same one from the same plan.
        self._aps.add_job(
            self._launch,
            DateTrigger(run_date=due_at, timezone=self.zone),
            id=job.job_id,
            kwargs={"job": job, "due_at": due_at},
            replace_existing=True,
        )

    def _unarm(self, job_id: str) -> None:
        self._armed.pop(job_id, None)
        if self._aps is not None and self._aps.get_job(job_id) is not None:
            self._aps.remove_job(job_id)

    def _forget(self, job: _Job) -> None:
        if self._jobs.get(job.job_id) is job:
            del self._jobs[job.job_id]

    async def _launch(self, job: _Job, due_at: datetime) -> None:
        """Called by APScheduler: arm the next firing, run this one in a task of ours.

        The run is a task of our own so that shutting APScheduler down does not cancel
        a job half way; :meth:`stop` waits for it.
        """
        if self._jobs.get(job.job_id) is not job:  # replaced or cancelled meanwhile
            return
        if job.when is not None:
            self._forget(job)
            self._armed.pop(job.job_id, None)
        else:
            following = job.next_after(max(due_at, self.now()))
            if following is not None and self.running:
                self._timer(job, following)
        self._spawn(self._fire(job, due_at), job.job_id)

    async def _launch_replan(self) -> None:
        self._spawn(self._replan(), _REPLAN_ID)

    async def _replan(self) -> None:
        await self.plan()

    def _spawn(self, work: Awaitable[None], name: str) -> None:
        async def run() -> None:
            await work

        task = asyncio.get_running_loop().create_task(run(), name=f"job:{name}")
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _fire(self, job: _Job, due_at: datetime) -> None:
        """Claim ``(job_id, due_at)``; run the job only if this process won the claim."""
        try:
            async with self.session_factory() as session:
                claimed = await JobRunRepository(session).claim(job.job_id, due_at, self.process)
                await session.commit()
        except Exception:
            log.exception("job %s: could not claim the firing due %s", job.job_id, due_at)
            return
        if not claimed:
            log.debug("job %s due %s: run elsewhere", job.job_id, due_at)
            return
        error: str | None = None
        try:
            await job.func(self.context, **job.ids)
        except asyncio.CancelledError:
            await self._finish(job, due_at, "cancelled: the process stopped during the run")
            raise
        except Exception:
            error = traceback.format_exc()[-_ERROR_MAX:]
            log.exception("job %s due %s failed", job.job_id, due_at)
        self.metrics.job_ran(job.func, failed=error is not None)
        await self._finish(job, due_at, error)

    async def _finish(self, job: _Job, due_at: datetime, error: str | None) -> None:
        try:
            async with self.session_factory() as session:
                await JobRunRepository(session).finish(job.job_id, due_at, self.process, error)
                await session.commit()
        except Exception:
            log.exception("job %s due %s: could not record the outcome", job.job_id, due_at)


async def planned_jobs(settings: Settings) -> list[tuple[str, datetime]]:
    """The plan the bot would run (``pufa jobs``): the planners against the database."""
    from aiogram import Bot

    from bot.i18n import Translator
    from bot.services import create_services
    from storage.database import create_engine, create_session_factory

    engine = create_engine(settings.database_url)
    # The bot object is never used to call Telegram here; jobs do not run.
    token = settings.bot_token.get_secret_value() if settings.bot_token else "0:unused"
    bot = Bot(token)
    try:
        context = ServiceContext(
            settings, create_session_factory(engine), bot, Translator.load(settings.default_locale)
        )
        try:
            scheduler = create_services(context)["scheduler"]
            assert isinstance(scheduler, Scheduler)
            await scheduler.plan()
            return scheduler.upcoming()
        finally:
            await context.limiter.close()
    finally:
        await bot.session.close()
        await engine.dispose()
