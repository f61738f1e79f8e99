"""Key-date reminders: seven days before each date of :mod:`quizzes.calendar`, the
bureau's admins get a message with buttons to post an article or open a campaign.

The planner schedules each date's next reminder from the clock alone, so a restart
plans the same; the scheduler claims every firing once across processes.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from aiogram.exceptions import TelegramAPIError, TelegramForbiddenError

from bot.services import ServiceContext
from bot.views.calendar import reminder_keyboard, reminder_text
from quizzes.calendar import key_date, next_reminders, reminder_for
from storage.reports import ReportRepository
from storage.repositories import ParticipantRepository

if TYPE_CHECKING:
    from bot.scheduler import Scheduler

__all__ = ["plan_calendar", "remind_key_date"]

log = logging.getLogger(__name__)


async def plan_calendar(scheduler: Scheduler) -> None:
    settings = scheduler.context.settings
    grace = timedelta(seconds=settings.scheduler_grace_s)
    for reminder in next_reminders(scheduler.now(), settings.zone, grace=grace):
        scheduler.at(
            reminder.job_id,
            reminder.remind_at,
            remind_key_date,
            code=reminder.key_date.code,
            year=reminder.held_on.year,
        )


async def remind_key_date(context: ServiceContext, *, code: str, year: int) -> None:
    key = key_date(code)
    if key is None:  # a date since removed from the calendar
        return
    settings = context.settings
    reminder = reminder_for(key, year, settings.zone)
    async with context.session_factory() as session:
        recipients = await ReportRepository(session).admin_recipients(
            settings.admin_ids, settings.default_locale
        )
    for recipient in recipients:
        _ = context.translator.bind(recipient.locale)
        try:
            await context.bot.send_message(
                recipient.telegram_id,
                reminder_text(reminder, _),
                reply_markup=reminder_keyboard(reminder, _),
            )
        except TelegramForbiddenError:
            async with context.session_factory() as session:
                when = reminder.remind_at
                await ParticipantRepository(session).set_blocked(recipient.telegram_id, when)
                await session.commit()
        except TelegramAPIError as error:
            log.warning("key-date reminder %s-%s not sent: %s", code, year, error.message)
