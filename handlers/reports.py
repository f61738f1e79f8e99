"""Reports in chat: ``/report`` (DOCX and XLSX), ``/export`` (CSV), ``/reports`` (earlier ones).

Admins report on the whole tree; a school coordinator on their own school. Every figure
comes from :mod:`storage.statistics`, the same definitions the command line uses.
"""

from __future__ import annotations

import logging
from datetime import datetime

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.i18n import Gettext, Translator
from bot.reports import format as fmt
from bot.reports.compile import CSV, REPORT_DOCX, XLSX, ReportFiles, compile_report
from bot.reports.jobs import file_name, send_files
from bot.reports.tables import participation_csv
from quizzes.participants import Participant
from quizzes.permissions import Permissions
from quizzes.reports import ReportVersion, Trigger
from quizzes.statistics import Period, PeriodError, parse_period
from quizzes.units import Unit
from storage.reports import ReportRepository
from storage.repositories import Repositories
from storage.statistics import StatisticsRepository

log = logging.getLogger(__name__)


class ReportCb(CallbackData, prefix="rv"):
    """Fetch a stored report version again."""

    id: int


async def scopes_of(permissions: Permissions, repo: Repositories) -> list[Unit]:
    """The units this person may report on: the tree's root(s), or their own schools."""
    if permissions.is_admin:
        return await repo.units.roots()
    found = [await repo.units.get(unit_id) for unit_id in sorted(permissions.coordinator_of)]
    return [unit for unit in found if unit is not None]


async def _prepare(
    message: Message,
    command: CommandObject,
    permissions: Permissions,
    repo: Repositories,
    settings: Settings,
    _: Gettext,
) -> tuple[list[Unit], Period] | None:
    if not permissions.is_staff:  # the refusal names what the command does
        key = "report.chat.staff_only"
        if command.command == "export":
            key = "report.chat.export_staff_only"
        await message.answer(_(key))
        return None
    try:
        period = parse_period(command.args, datetime.now(settings.zone).date())
    except PeriodError as error:
        await message.answer(fmt.period_problem(error, _, _.locale, command=f"/{command.command}"))
        return None
    scopes = await scopes_of(permissions, repo)
    await repo.commit()
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
    repo: Repositories,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    translator: Translator,
    bot: Bot,
    _: Gettext,
) -> None:
    prepared = await _prepare(message, command, permissions, repo, settings, _)
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
        try:
            report = await compile_report(
                session_factory,
                scope,
                period,
                zone=settings.zone,
                locale=_.locale,
                translator=translator,
            )
        except Exception:
            log.exception("report for unit %s failed", scope.id)
            await message.answer(_("report.chat.failed"))
            return
        async with session_factory() as session:
            reports = ReportRepository(session)
            await reports.save(
                scope,
                period,
                locale=_.locale,
                trigger=Trigger.CHAT,
                compiled_by=participant.telegram_id,
                compiled_at=report.compiled_at,
                files=report.files,
            )
            await reports.commit()
        documents = {name: report.files[name] for name in (REPORT_DOCX, XLSX)}
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
    repo: Repositories,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    _: Gettext,
) -> None:
    prepared = await _prepare(message, command, permissions, repo, settings, _)
    if prepared is None:
        return
    scopes, period = prepared
    for scope in scopes:
        async with session_factory() as session:
            stats = await StatisticsRepository(session).compile(
                scope, period, settings.zone, total_name=_.plain("report.column.total")
            )
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


def _visible(version: ReportVersion, permissions: Permissions) -> bool:
    return permissions.is_admin or version.scope_unit_id in permissions.coordinator_of


async def reports_command(
    message: Message,
    permissions: Permissions,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    _: Gettext,
) -> None:
    if not permissions.is_staff:
        await message.answer(_("report.chat.reports_staff_only"))
        return
    async with session_factory() as session:
        versions = await ReportRepository(session).latest(
            None if permissions.is_admin else permissions.coordinator_of, limit=10
        )
    if not versions:
        await message.answer(_("report.chat.versions_empty"))
        return
    lines = [_("report.chat.versions_header")]
    for version in versions:
        lines.append(
            _(
                "report.chat.version_line",
                id=version.id,
                scope=version.scope_name,
                start=str(version.period.start),
                end=str(version.period.end),
                compiled_at=fmt.moment(version.compiled_at.astimezone(settings.zone), _.locale),
                trigger=_(f"report.trigger.{version.trigger.value}"),
            )
        )
    await message.answer("\n".join(lines), reply_markup=versions_keyboard(versions))


async def fetch_version(
    callback: CallbackQuery,
    callback_data: ReportCb,
    permissions: Permissions,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    bot: Bot,
    _: Gettext,
) -> None:
    async with session_factory() as session:
        repo = ReportRepository(session)
        version = await repo.get(callback_data.id)
        files = (
            await repo.files(version.id, (REPORT_DOCX, XLSX))
            if version is not None and _visible(version, permissions)
            else {}
        )
    if version is None or not files:
        await callback.answer(_.plain("report.chat.version_gone"), show_alert=True)
        return
    await callback.answer()
    caption = _(
        "report.chat.version_line",
        id=version.id,
        scope=version.scope_name,
        start=str(version.period.start),
        end=str(version.period.end),
        compiled_at=fmt.moment(version.compiled_at.astimezone(settings.zone), _.locale),
        trigger=_(f"report.trigger.{version.trigger.value}"),
    )
    ordered = {name: files[name] for name in (REPORT_DOCX, XLSX) if name in files}
    await send_files(bot, callback.from_user.id, ordered, version.period, caption)


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(report_command, Command("report"), F.chat.type == "private")
    router.message.register(export_command, Command("export"), F.chat.type == "private")
    router.message.register(reports_command, Command("reports"), F.chat.type == "private")
    router.callback_query.register(fetch_version, ReportCb.filter())
    return router
