"""Reports in chat: ``/report`` (DOCX and XLSX), ``/export`` (CSV), ``/reports`` (earlier ones).

Admins report on the whole tree; a school coordinator on their own school. Every figure
comes from :mod:`storage.statistics`, the same definitions the command line uses.
"""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.application import Clock, UnitOfWork
from bot.application.reports import (
    ReportRefusal,
    compile_chat_report,
    participation_figures,
    report_scopes,
    stored_report,
    stored_reports,
)
from bot.config import Settings
from bot.i18n import Gettext, Translator
from bot.reports import format as fmt
from bot.reports.compile import CSV, REPORT_DOCX, XLSX, ReportFiles
from bot.reports.jobs import file_name, send_files
from bot.reports.tables import participation_csv
from quizzes.participants import Participant
from quizzes.permissions import Permissions
from quizzes.reports import ReportVersion
from quizzes.statistics import Period, PeriodError, parse_period
from quizzes.units import Unit

log = logging.getLogger(__name__)


class ReportCb(CallbackData, prefix="rv"):
    """Fetch a stored report version again."""

    id: int


CHAT_FILES = (REPORT_DOCX, XLSX)  # what the chat sends of a report; the rest is kept


async def _prepare(
    message: Message,
    command: CommandObject,
    permissions: Permissions,
    uow: UnitOfWork,
    settings: Settings,
    clock: Clock,
    _: Gettext,
) -> tuple[list[Unit], Period] | None:
    scopes = await report_scopes(uow, permissions)
    if isinstance(scopes, ReportRefusal):  # the refusal names what the command does
        key = "report.chat.staff_only"
        if command.command == "export":
            key = "report.chat.export_staff_only"
        await message.answer(_(key))
        return None
    try:
        period = parse_period(command.args, clock().astimezone(settings.zone).date())
    except PeriodError as error:
        await message.answer(fmt.period_problem(error, _, _.locale, command=f"/{command.command}"))
        return None
    if not scopes:
        await message.answer(_("report.chat.no_scope"))
        return None
    return scopes, period


def _caption(report: ReportFiles, _: Gettext) -> str:
    stats = report.statistics
    return _(
        "report.chat.caption",
        scope=stats.scope_name,
        start=str(stats.period.start),
        end=str(stats.period.end),
        took_part=fmt.number(stats.total.took_part.total, report.locale),
        covered=stats.schools_covered,
        rate=fmt.percent(stats.total.participation_rate),
        articles=fmt.number(stats.total.articles_published, report.locale),
        deliveries=fmt.number(stats.total.deliveries, report.locale),
        reached=fmt.number(stats.total.people_reached, report.locale),
        lectures=fmt.number(stats.lectures_held, report.locale),
        checkins=fmt.number(stats.total.lecture_checkins, report.locale),
    )


async def report_command(
    message: Message,
    command: CommandObject,
    participant: Participant,
    permissions: Permissions,
    uow: UnitOfWork,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    translator: Translator,
    clock: Clock,
    bot: Bot,
    _: Gettext,
) -> None:
    prepared = await _prepare(message, command, permissions, uow, settings, clock, _)
    if prepared is None:
        return
    scopes, period = prepared
    for scope in scopes:
        await message.answer(
            _(
                "report.chat.compiling",
                scope=scope.name,
                start=str(period.start),
                end=str(period.end),
            )
        )
        report = await compile_chat_report(
            session_factory,
            scope,
            period,
            viewer=permissions,
            compiled_by=participant.chat_id,
            now=clock(),
            zone=settings.zone,
            locale=_.locale,
            translator=translator,
        )
        if isinstance(report, ReportRefusal):
            await message.answer(_("report.chat.failed"))
            return
        documents = {name: report.files[name] for name in CHAT_FILES}
        try:
            await send_files(bot, message.chat.id, documents, period, _caption(report, _))
        except TelegramAPIError:  # the report is kept: /reports sends it again
            log.exception("report files for unit %s were not sent", scope.id)
            await message.answer(_("report.chat.send_failed"))
            return


async def export_command(
    message: Message,
    command: CommandObject,
    permissions: Permissions,
    uow: UnitOfWork,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    clock: Clock,
    _: Gettext,
) -> None:
    prepared = await _prepare(message, command, permissions, uow, settings, clock, _)
    if prepared is None:
        return
    scopes, period = prepared
    for scope in scopes:
        stats = await participation_figures(
            session_factory,
            scope,
            period,
            viewer=permissions,
            zone=settings.zone,
            total_name=_.plain("report.column.total"),
        )
        if isinstance(stats, ReportRefusal):  # not one of the viewer's scopes: never here
            continue
        content = participation_csv(stats, _.plain)
        await message.answer_document(
            BufferedInputFile(content, filename=file_name(CSV, period)),
            caption=_(
                "report.chat.export_caption",
                scope=scope.name,
                start=str(period.start),
                end=str(period.end),
            ),
        )


def versions_keyboard(versions: list[ReportVersion]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for version in versions:
        builder.button(
            text=f"#{version.id} {version.scope_name} {version.period.start}–{version.period.end}",
            callback_data=ReportCb(id=version.id),
        )
    builder.adjust(1)
    return builder.as_markup()


def _version_line(version: ReportVersion, settings: Settings, _: Gettext) -> str:
    return _(
        "report.chat.version_line",
        id=version.id,
        scope=version.scope_name,
        start=str(version.period.start),
        end=str(version.period.end),
        compiled_at=fmt.moment(version.compiled_at.astimezone(settings.zone), _.locale),
        trigger=_(f"report.trigger.{version.trigger.value}"),
    )


async def reports_command(
    message: Message,
    permissions: Permissions,
    uow: UnitOfWork,
    settings: Settings,
    _: Gettext,
) -> None:
    versions = await stored_reports(uow, permissions, limit=10)
    if isinstance(versions, ReportRefusal):
        await message.answer(_("report.chat.reports_staff_only"))
        return
    if not versions:
        await message.answer(_("report.chat.versions_empty"))
        return
    lines = [_("report.chat.versions_header")]
    lines += [_version_line(version, settings, _) for version in versions]
    await message.answer("\n".join(lines), reply_markup=versions_keyboard(versions))


async def fetch_version(
    callback: CallbackQuery,
    callback_data: ReportCb,
    permissions: Permissions,
    uow: UnitOfWork,
    settings: Settings,
    bot: Bot,
    _: Gettext,
) -> None:
    stored = await stored_report(uow, callback_data.id, CHAT_FILES, viewer=permissions)
    if stored is None:
        await callback.answer(_.plain("report.chat.version_gone"), show_alert=True)
        return
    await callback.answer()
    caption = _version_line(stored.version, settings, _)
    await send_files(bot, callback.from_user.id, stored.files, stored.version.period, caption)


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(report_command, Command("report"), F.chat.type == "private")
    router.message.register(export_command, Command("export"), F.chat.type == "private")
    router.message.register(reports_command, Command("reports"), F.chat.type == "private")
    router.callback_query.register(fetch_version, ReportCb.filter())
    return router
