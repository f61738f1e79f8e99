"""Scheduled reports: compiled on ``PUFA_REPORT_CRON``, kept, and sent to the admins.

Each crontab expression becomes one job. The period it reports follows from the
expression: a day of the month given (``0 8 1 * *``) reports the previous calendar
month, a day of the week given (``0 8 * * 1``) the previous seven days, neither the
previous day. The whole tree is reported, once per language the admins use; each
version is stored (``report_versions``) so that ``/reports`` can fetch it again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramForbiddenError
from aiogram.types import BufferedInputFile

from bot.reports.compile import REPORT_DOCX, XLSX, compile_report
from bot.scheduler import Scheduler
from bot.services import ServiceContext
from quizzes.reports import Trigger
from quizzes.statistics import Period
from storage.reports import ReportRepository
from storage.repositories import ParticipantRepository
from storage.statistics import StatisticsRepository

log = logging.getLogger(__name__)

PERIODS = ("day", "week", "month")


def period_kind(expression: str) -> str:
    fields = expression.split()
    if fields[2] != "*":
        return "month"
    if fields[4] != "*":
        return "week"
    return "day"


def period_for(kind: str, today: datetime) -> Period:
    day = today.date()
    if kind == "month":
        return Period.previous_month(day)
    return Period.previous_days(day, 7 if kind == "week" else 1)


def file_name(name: str, period: Period) -> str:
    stem, _, suffix = name.rpartition(".")
    return f"{stem}-{period.start:%Y%m%d}-{period.end:%Y%m%d}.{suffix}"


async def plan_reports(scheduler: Scheduler) -> None:
    """One cron job per ``PUFA_REPORT_CRON`` expression."""
    for number, expression in enumerate(scheduler.context.settings.report_cron, start=1):
        kind = period_kind(expression)
        scheduler.cron(
            f"report-{number}-{kind}", expression, compile_scheduled_report, period=kind
        )


async def send_files(
    bot: Bot, chat_id: int, files: Mapping[str, bytes], period: Period, caption: str
) -> None:
    """Send the files as documents, the caption on the first."""
    for index, (name, content) in enumerate(files.items()):
        await bot.send_document(
            chat_id,
            BufferedInputFile(content, filename=file_name(name, period)),
            caption=caption if index == 0 else None,
        )


async def compile_scheduled_report(context: ServiceContext, *, period: str) -> None:
    settings = context.settings
    zone = settings.zone
    covered = period_for(period if period in PERIODS else "week", datetime.now(zone))
    async with context.session_factory() as session:
        root = await StatisticsRepository(session).root()
        recipients = await ReportRepository(session).admin_recipients(
            settings.admin_ids, settings.default_locale
        )
    if root is None:
        log.warning("scheduled report skipped: the unit tree has no single root")
        return
    for locale in sorted({recipient.locale for recipient in recipients}):
        report = await compile_report(
            context.session_factory,
            root,
            covered,
            zone=zone,
            locale=locale,
            translator=context.translator,
        )
        async with context.session_factory() as session:
            repo = ReportRepository(session)
            version = await repo.save(
                root,
                covered,
                locale=locale,
                trigger=Trigger.SCHEDULED,
                compiled_by=None,
                compiled_at=report.compiled_at,
                files=report.files,
            )
            await repo.commit()
        _ = context.translator.bind(locale)
        caption = _(
            "report.chat.scheduled_caption",
            scope=root.name,
            start=str(covered.start),
            end=str(covered.end),
        )
        documents = {name: report.files[name] for name in (REPORT_DOCX, XLSX)}
        for recipient in recipients:
            if recipient.locale != locale:
                continue
            try:
                await send_files(context.bot, recipient.telegram_id, documents, covered, caption)
            except TelegramForbiddenError:
                async with context.session_factory() as session:
                    await ParticipantRepository(session).set_blocked(
                        recipient.telegram_id, datetime.now(zone)
                    )
                    await session.commit()
                log.info("report %s: admin %s blocked the bot", version.id, recipient.telegram_id)
            except TelegramAPIError as error:
                log.warning(
                    "report %s not sent to %s: %s", version.id, recipient.telegram_id, error
                )
        log.info("report %s (%s, %s) compiled and sent", version.id, locale, covered)
