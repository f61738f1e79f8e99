"""Retention: once a day, the personal data of people inactive for
``PUFA_RETENTION_YEARS`` years is erased as ``/forgetme`` erases it (docs/PRIVACY.md).
The report's past figures stay the same; without the setting nothing is erased.

Also once a day, with or without the setting, the refused dashboard logins that the
login's rate limit can no longer count are deleted."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from bot.application import UnitOfWork
from bot.application.staff_accounts import forget_old_refusals
from bot.services import ServiceContext
from storage.erasure import ParticipantErasure
from storage.retention import inactive_since

if TYPE_CHECKING:
    from bot.scheduler import Scheduler

__all__ = ["erase_inactive", "forget_login_refusals", "plan_retention", "years_before"]

log = logging.getLogger(__name__)
BATCH = 200  # erasures per transaction: short locks, and progress kept if stopped


def years_before(moment: datetime, years: int) -> datetime:
    """The same day and time ``years`` earlier (29 February: the 28th)."""
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:
        return moment.replace(year=moment.year - years, day=28)


async def plan_retention(scheduler: Scheduler) -> None:
    scheduler.cron("login-refusals-daily", "20 3 * * *", forget_login_refusals)
    if scheduler.context.settings.retention_years:
        scheduler.cron("retention-daily", "30 3 * * *", erase_inactive)


async def forget_login_refusals(context: ServiceContext, *, now: datetime | None = None) -> int:
    """Delete the refused logins older than the rate limit can count; how many went."""
    moment = now or datetime.now(context.settings.zone)
    async with context.session_factory() as session:
        forgotten = await forget_old_refusals(UnitOfWork.over(session), now=moment)
    if forgotten:
        log.info("retention: deleted %d refused dashboard logins", forgotten)
    return forgotten


async def erase_inactive(context: ServiceContext, *, now: datetime | None = None) -> int:
    """Erase everyone inactive for the configured years; how many were erased."""
    years = context.settings.retention_years
    if not years:
        return 0
    moment = now or datetime.now(context.settings.zone)
    cutoff = years_before(moment, years)
    async with context.session_factory() as session:
        ids = await inactive_since(session, cutoff)
        await session.commit()
    for start in range(0, len(ids), BATCH):
        async with context.session_factory() as session:
            erasure = ParticipantErasure(session)
            for participant_id in ids[start : start + BATCH]:
                await erasure.erase(participant_id, moment)
            await session.commit()
    if ids:
        log.info("retention: erased %d people inactive since %s", len(ids), cutoff.date())
    return len(ids)
