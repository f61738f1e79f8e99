"""The quiz clock: questions whose time ran out unanswered move on by themselves, and
live quizzes in class groups step from one poll to the next.

Deadlines are rows in the database, so the clock needs no per-question timers, survives
a restart, and with several bot processes each overdue question is handled once (the
answer is recorded with a conditional update; whoever loses that race does nothing).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from aiogram.exceptions import TelegramAPIError

from bot.application.quiz import time_up
from bot.livequiz_steps import step_due
from bot.services import ServiceContext
from bot.views.quiz import show_next
from quizzes.clock import system_clock
from storage.repositories import Repositories
from storage.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


class QuizClock:
    def __init__(
        self, context: ServiceContext, *, interval_s: float = 1.0, concurrency: int = 10
    ) -> None:
        self.context = context
        self.interval_s = interval_s
        self.concurrency = concurrency
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="quiz-clock")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                while await self.tick() == 100:  # a full batch: there may be more
                    pass
                await step_due(self.context)
            except Exception:  # keep ticking: one bad attempt must not stop every timer
                log.exception("quiz clock tick failed")
            await asyncio.sleep(self.interval_s)

    async def tick(self, now: datetime | None = None) -> int:
        """Time out every overdue question once; returns how many were looked at."""
        now = now or datetime.now(UTC)
        async with self.context.session_factory() as session:
            overdue = await Repositories.over(session).attempts.overdue(now)
        # Side by side: a whole class timing out at once must not wait in one queue.
        gate = asyncio.Semaphore(self.concurrency)

        async def one(attempt_id: int, seq: int) -> None:
            async with gate:
                try:
                    await self._time_out(attempt_id, seq)
                except Exception:  # one bad attempt must not hold up the others
                    log.exception("timing out attempt %s question %s failed", attempt_id, seq)

        await asyncio.gather(*(one(attempt_id, seq) for _c, attempt_id, seq in overdue))
        return len(overdue)

    async def _time_out(self, attempt_id: int, seq: int) -> None:
        async with self.context.session_factory() as session:
            uow = UnitOfWork.over(session)
            assert isinstance(uow, UnitOfWork)  # ``over`` builds the class it is called on
            timed_out = await time_up(uow, attempt_id, seq, clock=system_clock)
            if timed_out is None:
                return
            step, attempt = timed_out.step, timed_out.step.attempt
            assert attempt is not None
            if attempt.chat_id is None:  # taken on the web pages: shown at its next request
                return
            _ = self.context.translator.bind(timed_out.locale)
            try:
                await show_next(
                    self.context.bot,
                    timed_out.campaign,
                    attempt,
                    step,
                    attempt.message_id,
                    uow,
                    _,
                    self.context.settings.zone,
                    system_clock(),
                )
            except TelegramAPIError as error:  # blocked, message deleted...: the answer stands
                log.info("could not show attempt %s after a timeout: %s", attempt_id, error)
