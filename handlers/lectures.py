"""Online lectures in chat: the check-in button, /lectures, ``/stats lecture ID``."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from bot.config import Settings
from bot.i18n import Gettext
from bot.lectures import when_text
from handlers.publicity_keyboards import CheckinCb
from quizzes.lectures import CHECKIN_EARLY, CHECKIN_LATE
from quizzes.participants import Participant
from quizzes.permissions import Permissions
from storage.models import utcnow
from storage.publicity import LectureRepository
from storage.repositories import Repositories


async def check_in(
    callback: CallbackQuery,
    callback_data: CheckinCb,
    participant: Participant,
    repo: Repositories,
    settings: Settings,
    _: Gettext,
) -> None:
    lectures = LectureRepository(repo.session)
    lecture = await lectures.get(callback_data.lecture)
    if lecture is None:
        await callback.answer(_.plain("errors.stale_button"))
        return
    now = utcnow()
    problem = lecture.checkin_problem(now)
    if problem is not None:
        opens = (lecture.starts_at - CHECKIN_EARLY).astimezone(settings.zone)
        closes = (lecture.ends_at + CHECKIN_LATE).astimezone(settings.zone)
        await callback.answer(
            _.plain(
                f"lecture.checkin_{problem.value}",
                opens=f"{opens:%m-%d %H:%M}",
                closes=f"{closes:%m-%d %H:%M}",
            ),
            show_alert=True,
        )
        return
    first = await lectures.check_in(lecture.id, participant.id, now)
    await repo.commit()
    key = "lecture.checked_in" if first else "lecture.already_checked_in"
    await callback.answer(_.plain(key, title=lecture.title))


async def list_lectures(
    message: Message, repo: Repositories, settings: Settings, _: Gettext
) -> None:
    lectures = await LectureRepository(repo.session).upcoming(utcnow())
    if not lectures:
        await message.answer(_("lecture.none"))
        return
    lines = [_("lecture.list")]
    for lecture in lectures:
        lines.append(
            _(
                "lecture.item",
                title=lecture.title,
                speaker=lecture.speaker,
                when=when_text(lecture, settings.zone),
            )
        )
    await message.answer("\n".join(lines))


async def lecture_stats(
    message: Message,
    command: CommandObject,
    permissions: Permissions,
    repo: Repositories,
    _: Gettext,
) -> None:
    if not permissions.is_admin:
        await message.answer(_("errors.admins_only"))
        return
    parts = (command.args or "").split()
    if len(parts) != 2 or not parts[1].isdigit():
        await message.answer(_("lecture.stats_usage"))
        return
    lectures = LectureRepository(repo.session)
    lecture = await lectures.get(int(parts[1]))
    if lecture is None:
        await message.answer(_("lecture.unknown", id=parts[1]))
        return
    rows = await lectures.attendance(lecture.id)
    lines = [_("lecture.stats_title", id=lecture.id, title=lecture.title)]
    for row in rows:
        school = row.school_name or _.plain("lecture.no_school")
        role = _.plain(f"role.{row.role}") if row.role else "-"
        lines.append(_("lecture.stats_row", school=school, role=role, count=row.count))
    lines.append(_("lecture.stats_total", count=sum(row.count for row in rows)))
    await message.answer("\n".join(lines))


def create_router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(check_in, CheckinCb.filter())
    router.message.register(list_lectures, Command("lectures"))
    router.message.register(
        lecture_stats, Command("stats"), F.text.regexp(r"^/stats(@\w+)?\s+lecture\b")
    )
    return router
