"""Long-lived services of one bot process (scheduler, broadcaster...).

Each is built once in :func:`create_services`, handed to handlers as a Dispatcher keyword
argument under its name, started after the bot is up and stopped before it closes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from aiogram import Bot
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.i18n import Translator
from bot.pacing import SendLimiter, SharedRate


class Service(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True)
class ServiceContext:
    """What a service may need; services reload everything else from the database."""

    settings: Settings
    session_factory: async_sessionmaker[AsyncSession]
    bot: Bot
    translator: Translator
    # Everything the process sends paces through this one limiter; with Redis configured,
    # its overall rate is shared with the other processes that send with this token.
    limiter: SendLimiter = field(init=False)

    def __post_init__(self) -> None:
        shared = None
        if self.settings.redis_url:  # several processes may send with this token
            from redis.asyncio import Redis

            redis = Redis.from_url(self.settings.redis_url)
            shared = SharedRate(redis, key=f"pufa:send-rate:{self.bot.id}")
        limiter = SendLimiter(self.settings.broadcast_rate, shared=shared)
        object.__setattr__(self, "limiter", limiter)


def create_services(context: ServiceContext) -> dict[str, Service]:
    """Name -> service; the name is the handler parameter that receives it."""
    from bot.scheduler import Scheduler

    scheduler = Scheduler(context)
    from bot.campaign_jobs import plan_campaigns

    scheduler.add_planner(plan_campaigns)
    services: dict[str, Service] = {"scheduler": scheduler}
    from bot.quiz_clock import QuizClock

    services["quiz_clock"] = QuizClock(context)
    from bot.broadcaster import Broadcaster
    from bot.publicity_jobs import plan_articles

    scheduler.add_planner(plan_articles)
    services["broadcaster"] = Broadcaster(context, publish_fallback_s=60.0)
    from bot.reports.jobs import plan_reports

    scheduler.add_planner(plan_reports)
    from bot.calendar_jobs import plan_calendar

    scheduler.add_planner(plan_calendar)
    from bot.retention_jobs import plan_retention

    scheduler.add_planner(plan_retention)
    return services
