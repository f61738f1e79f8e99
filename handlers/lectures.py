"""Online lectures in chat: the check-in button, /lectures (with cancelling for staff),
``/stats lecture ID`` and scheduling one with /newlecture."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.config import Settings
from bot.i18n import Gettext, Translator
from bot.lectures import (
    after_cancel,
    cancel_lecture,
    plan_reminder,
    preview_announcement,
    schedule_lecture,
    when_text,
)
from bot.views.publicity import (
    ROLES,
    CheckinCb,
    article_markup,
    role_choice_keyboard,
)
from bot.when import minutes, short_when
from handlers.dialogue import leave_button, on_leaving, replier
from handlers.stats_command import StatsOf
from quizzes.lectures import (
    CHECKIN_EARLY,
    CHECKIN_LATE,
    MAX_MINUTES,
    SPEAKER_MAX,
    Lecture,
    LectureProblem,
    LectureStatus,
    clean_line,
    lecture_window,
    may_cancel,
    parse_minutes,
)
from quizzes.ordering import by_name
from quizzes.participants import Participant, Role
from quizzes.permissions import Permissions
from quizzes.publicity import (
    TIME_FORMAT,
    TITLE_MAX,
    Audience,
    AudienceError,
    check_audience,
    parse_publish_at,
    valid_link,
)
from quizzes.units import Unit, UnitKind
from storage.models import utcnow
from storage.publicity import LectureRepository, PublicityRepository
from storage.repositories import Repositories

if TYPE_CHECKING:
    from bot.broadcaster import Broadcaster
    from bot.scheduler import Scheduler

EXAMPLE_TIME = "2026-12-03 15:00"
NO_LINK = "-"


class NewLecture(StatesGroup):
    title = State()
    speaker = State()
    starts = State()
    minutes = State()
    link = State()
    audience = State()
    roles = State()
    confirm = State()


on_leaving(NewLecture, "lecture.compose.cancelled")


class NewLectureCb(CallbackData, prefix="lnw"):
    """Confirm or cancel the lecture previewed by /newlecture."""

    action: str


class AudienceCb(CallbackData, prefix="lna"):
    """The audience of /newlecture: ``all``, a ``school`` (id), a ``page`` of schools;
    then ``role`` (index into the roles) toggles and ``roles_done``."""

    action: str
    id: int = 0


class CancelLectureCb(CallbackData, prefix="lcx"):
    """Cancelling a lecture from /lectures: ``ask``, then ``yes`` or ``no``."""

    lecture: int
    action: str


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
        opens = lecture.starts_at - CHECKIN_EARLY
        closes = lecture.ends_at + CHECKIN_LATE
        await callback.answer(
            _.plain(
                f"lecture.checkin_{problem.value}",
                opens=short_when(opens, settings.zone, _.plain),
                closes=short_when(closes, settings.zone, _.plain),
            ),
            show_alert=True,
        )
        return
    first = await lectures.check_in(lecture.id, participant.id, now)
    await repo.commit()
    key = "lecture.checked_in" if first else "lecture.already_checked_in"
    await callback.answer(_.plain(key, title=lecture.title))


async def list_lectures(
    message: Message,
    permissions: Permissions,
    repo: Repositories,
    settings: Settings,
    _: Gettext,
) -> None:
    now = utcnow()
    lectures = await LectureRepository(repo.session).upcoming(now)
    if not lectures:
        await message.answer(_("lecture.none"))
        return
    lines = [_("lecture.list")]
    builder = InlineKeyboardBuilder()
    for lecture in lectures:
        lines.append(
            _(
                "lecture.item",
                title=lecture.title,
                speaker=lecture.speaker,
                when=when_text(lecture, settings.zone, _),
            )
        )
        if permissions.is_staff and await _may_cancel(lecture, message, permissions, repo, now):
            builder.button(
                text=_.plain("lecture.cancel.button", id=lecture.id, title=lecture.title),
                callback_data=CancelLectureCb(lecture=lecture.id, action="ask"),
            )
    builder.adjust(1)
    markup = builder.as_markup() if builder.buttons else None
    await message.answer("\n".join(lines), reply_markup=markup)


async def _may_cancel(
    lecture: Lecture,
    event: Message | CallbackQuery,
    permissions: Permissions,
    repo: Repositories,
    now: datetime,
) -> bool:
    telegram_id = event.from_user.id if event.from_user else 0
    units = await repo.units.by_ids(lecture.audience.unit_ids)
    return may_cancel(lecture, telegram_id, permissions, units, now)


async def lecture_stats(
    message: Message,
    target_id: int | None,
    permissions: Permissions,
    repo: Repositories,
    _: Gettext,
) -> None:
    if not permissions.is_admin:
        await message.answer(_("errors.admins_only"))
        return
    if target_id is None:
        await message.answer(_("lecture.stats_usage"))
        return
    lectures = LectureRepository(repo.session)
    lecture = await lectures.get(target_id)
    if lecture is None:
        await message.answer(_("lecture.unknown", id=target_id))
        return
    rows = await lectures.attendance(lecture.id)
    lines = [_("lecture.stats_title", id=lecture.id, title=lecture.title)]
    for row in rows:
        school = row.school_name or _.plain("lecture.no_school")
        role = _.plain(f"role.{row.role}") if row.role else "-"
        lines.append(_("lecture.stats_row", school=school, role=role, count=row.count))
    lines.append(_("lecture.stats_total", count=sum(row.count for row in rows)))
    await message.answer("\n".join(lines))


# ---------------------------------------------------------------------- cancelling


def _cancel_keyboard(lecture_id: int, _: Gettext) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_.plain("lecture.cancel.yes"),
        callback_data=CancelLectureCb(lecture=lecture_id, action="yes"),
    )
    builder.button(
        text=_.plain("lecture.cancel.no"),
        callback_data=CancelLectureCb(lecture=lecture_id, action="no"),
    )
    builder.adjust(1)
    return builder.as_markup()


async def cancel_step(
    callback: CallbackQuery,
    callback_data: CancelLectureCb,
    permissions: Permissions,
    repo: Repositories,
    settings: Settings,
    bot: Bot,
    scheduler: Scheduler,
    translator: Translator,
    _: Gettext,
    broadcaster: Broadcaster | None = None,
) -> None:
    now = utcnow()
    lecture = await LectureRepository(repo.session).get(callback_data.lecture)
    action = callback_data.action
    if (
        lecture is None
        or lecture.status is not LectureStatus.SCHEDULED
        or lecture.ends_at <= now
        or action not in ("ask", "yes", "no")
    ):
        await callback.answer(_.plain("errors.stale_button"))
        return
    if not permissions.is_staff or not await _may_cancel(
        lecture, callback, permissions, repo, now
    ):
        await callback.answer(_.plain("lecture.cancel.not_allowed"), show_alert=True)
        return
    message = callback.message if isinstance(callback.message, Message) else None
    say = replier(bot, callback.from_user.id, message)
    when = when_text(lecture, settings.zone, _)
    if action == "ask":
        await callback.answer()
        await bot.send_message(
            callback.from_user.id,
            _("lecture.cancel.ask", title=lecture.title, time=when),
            reply_markup=_cancel_keyboard(lecture.id, _),
        )
        return
    if action == "no":
        await callback.answer()
        await say(_("lecture.cancel.kept", title=lecture.title), None)
        return
    cancellation = await cancel_lecture(
        repo.session,
        lecture.id,
        now,
        cancelled_by=callback.from_user.id,
        zone=settings.zone,
        translator=translator,
    )
    if cancellation is None:
        await callback.answer(_.plain("errors.stale_button"))
        return
    await repo.commit()
    after_cancel(scheduler, cancellation)
    if broadcaster is not None:  # the announcement stops, the notice starts
        broadcaster.wake()
    await callback.answer(_.plain("lecture.cancel.toast"))
    await say(_("lecture.cancel.done", title=lecture.title, time=when), None)


# ---------------------------------------------------------------------- /newlecture


async def start_new_lecture(
    message: Message, permissions: Permissions, state: FSMContext, _: Gettext
) -> None:
    if not permissions.is_staff:
        await message.answer(_("lecture.compose.staff_only"))
        return
    await state.clear()
    await state.set_state(NewLecture.title)
    await message.answer(_("lecture.compose.ask_title", limit=TITLE_MAX), reply_markup=_leave(_))


def _leave(_: Gettext) -> InlineKeyboardMarkup:
    """The 取消 button under each step that asks for text."""
    return InlineKeyboardMarkup(inline_keyboard=[[leave_button(_)]])


def _problem(problem: str, _: Gettext) -> str:
    return _(
        f"lecture.compose.problem.{problem}",
        format=EXAMPLE_TIME,
        max=MAX_MINUTES,
        limit=TITLE_MAX,
    )


async def receive_title(message: Message, state: FSMContext, _: Gettext) -> None:
    try:
        title = clean_line(message.text or "", TITLE_MAX)
    except ValueError as error:
        await message.answer(_problem(str(error), _))
        return
    await state.update_data(title=title)
    await state.set_state(NewLecture.speaker)
    await message.answer(_("lecture.compose.ask_speaker"), reply_markup=_leave(_))


async def receive_speaker(message: Message, state: FSMContext, _: Gettext) -> None:
    try:
        speaker = clean_line(message.text or "", SPEAKER_MAX)
    except ValueError as error:
        await message.answer(_problem(str(error), _))
        return
    await state.update_data(speaker=speaker)
    await state.set_state(NewLecture.starts)
    await message.answer(
        _("lecture.compose.ask_start", format=EXAMPLE_TIME), reply_markup=_leave(_)
    )


async def receive_start(
    message: Message,
    participant: Participant,
    permissions: Permissions,
    repo: Repositories,
    state: FSMContext,
    settings: Settings,
    bot: Bot,
    _: Gettext,
) -> None:
    try:
        starts_at = parse_publish_at(message.text or "", settings.zone, utcnow())
    except ValueError as error:
        await message.answer(_problem(str(error), _))
        return
    await state.update_data(starts_at=starts_at.isoformat())
    if (await state.get_data()).get("again"):  # the time had passed at confirmation
        await _ask_confirmation(
            bot, message.chat.id, participant, permissions, repo, state, settings, _
        )
        return
    await state.set_state(NewLecture.minutes)
    await message.answer(
        _(
            "lecture.compose.ask_minutes",
            max=MAX_MINUTES,
            early=minutes(CHECKIN_EARLY),
            late=minutes(CHECKIN_LATE),
        ),
        reply_markup=_leave(_),
    )


async def receive_minutes(message: Message, state: FSMContext, _: Gettext) -> None:
    try:
        minutes = parse_minutes(message.text or "")
    except ValueError as error:
        await message.answer(_problem(str(error), _))
        return
    await state.update_data(minutes=minutes)
    await state.set_state(NewLecture.link)
    await message.answer(_("lecture.compose.ask_link", none=NO_LINK), reply_markup=_leave(_))


async def receive_link(
    message: Message,
    participant: Participant,
    permissions: Permissions,
    repo: Repositories,
    state: FSMContext,
    settings: Settings,
    bot: Bot,
    _: Gettext,
) -> None:
    link = (message.text or "").strip()
    if link != NO_LINK and not valid_link(link):
        await message.answer(_problem(LectureProblem.BAD_LINK.value, _))
        return
    await state.update_data(link=None if link == NO_LINK else link, units=[])
    await state.set_state(NewLecture.audience)
    schools = await _schools(permissions, repo)
    if not permissions.is_admin and len(schools) == 1:
        # A coordinator of one school: it is their audience; who in it is still theirs to say.
        await state.update_data(units=[schools[0].id], roles=[])
        await state.set_state(NewLecture.roles)
        await message.answer(
            await _ask_roles(Audience(frozenset({schools[0].id})), repo, _),
            reply_markup=_roles_keyboard((), _),
        )
        return
    await message.answer(
        _("lecture.compose.ask_audience"),
        reply_markup=audience_keyboard(
            schools,
            0,
            _,
            everyone=permissions.is_admin,
            labels=await repo.units.display_labels(schools),
        ),
    )


SCHOOLS_PER_PAGE = 20


async def _schools(permissions: Permissions, repo: Repositories) -> list[Unit]:
    """The schools these permissions may tell (every one for an admin)."""
    schools = await repo.units.of_kind(UnitKind.SCHOOL)
    return by_name(s for s in schools if permissions.may_manage(s))


def audience_keyboard(
    schools: list[Unit],
    page: int,
    _: Gettext,
    *,
    everyone: bool,
    labels: Mapping[int, str] | None = None,
) -> InlineKeyboardMarkup:
    """Everyone (admins), then the schools a page at a time (``labels``: names told
    apart, two 中心小学 after their regiments)."""
    builder = InlineKeyboardBuilder()
    if everyone:
        builder.row(
            InlineKeyboardButton(
                text=_.plain("lecture.compose.everyone"),
                callback_data=AudienceCb(action="all").pack(),
            )
        )
    shown = schools[page * SCHOOLS_PER_PAGE : (page + 1) * SCHOOLS_PER_PAGE]
    for pair in range(0, len(shown), 2):
        builder.row(
            *(
                InlineKeyboardButton(
                    text=(labels or {}).get(school.id, school.name),
                    callback_data=AudienceCb(action="school", id=school.id).pack(),
                )
                for school in shown[pair : pair + 2]
            )
        )
    if len(schools) > SCHOOLS_PER_PAGE:
        pages = (len(schools) - 1) // SCHOOLS_PER_PAGE + 1
        builder.row(
            InlineKeyboardButton(
                text=_.plain("lecture.compose.more", page=(page + 1) % pages + 1, pages=pages),
                callback_data=AudienceCb(action="page", id=(page + 1) % pages).pack(),
            )
        )
    builder.row(
        InlineKeyboardButton(
            text=_.plain("lecture.compose.cancel"),
            callback_data=AudienceCb(action="cancel").pack(),
        )
    )
    return builder.as_markup()


async def audience_step(
    callback: CallbackQuery,
    callback_data: AudienceCb,
    participant: Participant,
    permissions: Permissions,
    repo: Repositories,
    state: FSMContext,
    settings: Settings,
    bot: Bot,
    _: Gettext,
) -> None:
    step = await state.get_state()
    action = callback_data.action
    if not permissions.is_staff or step not in (
        NewLecture.audience.state,
        NewLecture.roles.state,
    ):
        await callback.answer(_.plain("errors.stale_button"))
        return
    choosing_roles = step == NewLecture.roles.state
    message = callback.message if isinstance(callback.message, Message) else None
    say = replier(bot, callback.from_user.id, message)
    schools = await _schools(permissions, repo)
    if action == "cancel":
        await state.clear()
        await callback.answer()
        await say(_("lecture.compose.cancelled"), None)
        return
    if (
        action == "page"
        and not choosing_roles
        and 0 <= callback_data.id * SCHOOLS_PER_PAGE < len(schools)
    ):
        await callback.answer()
        if message is not None:
            markup = audience_keyboard(
                schools,
                callback_data.id,
                _,
                everyone=permissions.is_admin,
                labels=await repo.units.display_labels(schools),
            )
            await message.edit_reply_markup(reply_markup=markup)
        return
    if action == "all" and permissions.is_admin and not choosing_roles:
        units: list[int] = []
    elif action == "school" and callback_data.id in {s.id for s in schools} and not choosing_roles:
        units = [callback_data.id]
    elif action == "role" and 0 <= callback_data.id < len(ROLES) and choosing_roles:
        roles = [Role(r) for r in (await state.get_data()).get("roles") or []]
        toggled = ROLES[callback_data.id]
        roles = [r for r in roles if r != toggled] if toggled in roles else [*roles, toggled]
        await state.update_data(roles=[r.value for r in roles])
        await callback.answer()
        if message is not None:
            await message.edit_reply_markup(reply_markup=_roles_keyboard(roles, _))
        return
    elif action == "roles_done" and choosing_roles:
        await callback.answer()
        await say(_("lecture.compose.audience_chosen"), None)
        await _ask_confirmation(
            bot, callback.from_user.id, participant, permissions, repo, state, settings, _
        )
        return
    else:
        await callback.answer(_.plain("errors.stale_button"))
        return
    await state.update_data(units=units, roles=[])
    await state.set_state(NewLecture.roles)
    await callback.answer()
    await say(await _ask_roles(Audience(frozenset(units)), repo, _), _roles_keyboard((), _))


async def _ask_roles(audience: Audience, repo: Repositories, _: Gettext) -> str:
    return _("lecture.compose.ask_roles", audience=await _describe(audience, repo, _))


def _roles_keyboard(chosen: Collection[Role], _: Gettext) -> InlineKeyboardMarkup:
    return role_choice_keyboard(chosen, _, callback=AudienceCb)


def _audience(data: dict[str, Any]) -> Audience:
    units = frozenset(int(u) for u in data.get("units") or [])
    return Audience(units, frozenset(Role(r) for r in data.get("roles") or []))


async def _audience_problem(
    audience: Audience, permissions: Permissions, repo: Repositories
) -> AudienceError | None:
    units: dict[int, Unit] = {}
    for unit_id in audience.unit_ids:
        unit = await repo.units.get(unit_id)
        if unit is not None:
            units[unit_id] = unit
    try:
        check_audience(permissions, audience, units)
    except AudienceError as error:
        return error
    return None


async def _describe(audience: Audience, repo: Repositories, _: Gettext) -> str:
    names = []
    for unit_id in sorted(audience.unit_ids):
        unit = await repo.units.get(unit_id)
        if unit is not None:
            names.append(await repo.units.display_label(unit))
    described = _.join(names) if names else _.plain("lecture.compose.everyone")
    if audience.roles:
        roles = _.join(_.plain(f"role.{r.value}") for r in ROLES if r in audience.roles)
        described += f" · {roles}"
    return described


def _draft(data: dict[str, Any], created_by: int) -> Lecture:
    """The lecture as typed so far (id 0): what the preview and the summary show."""
    starts_at, ends_at = lecture_window(
        datetime.fromisoformat(str(data["starts_at"])), int(data["minutes"])
    )
    return Lecture(
        id=0,
        title=str(data["title"]),
        speaker=str(data["speaker"]),
        starts_at=starts_at,
        ends_at=ends_at,
        link=data.get("link"),
        audience=_audience(data),
        created_by=created_by,
        status=LectureStatus.SCHEDULED,
    )


def _preview_markup(
    lecture: Lecture, participant: Participant, settings: Settings, _: Gettext
) -> InlineKeyboardMarkup:
    """The recipients' buttons; the link goes straight to the lecture (a recipient's
    tracked link exists only once the announcement is stored)."""
    article = preview_announcement(lecture, settings.zone, _, utcnow())
    markup = article_markup(article, participant.id, _, settings.link_base)
    for row in markup["inline_keyboard"]:
        for button in row:
            if "url" in button and lecture.link:
                button["url"] = lecture.link
    return InlineKeyboardMarkup.model_validate(markup)


def _confirm_keyboard(_: Gettext) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_.plain("lecture.compose.confirm"), callback_data=NewLectureCb(action="go")
    )
    builder.button(
        text=_.plain("lecture.compose.cancel"), callback_data=NewLectureCb(action="cancel")
    )
    builder.adjust(1)
    return builder.as_markup()


async def _ask_confirmation(
    bot: Bot,
    chat_id: int,
    participant: Participant,
    permissions: Permissions,
    repo: Repositories,
    state: FSMContext,
    settings: Settings,
    _: Gettext,
) -> None:
    """The announcement exactly as recipients will get it, then who and when, to confirm."""
    data = await state.get_data()
    lecture = _draft(data, participant.telegram_id)
    error = await _audience_problem(lecture.audience, permissions, repo)
    if error is not None:
        await state.clear()
        await bot.send_message(chat_id, _(f"lecture.compose.audience.{error.problem.value}"))
        return
    count = await PublicityRepository(repo.session).count_audience(lecture.audience)
    now = utcnow()
    article = preview_announcement(lecture, settings.zone, _, now)
    await bot.send_message(
        chat_id, article.text, reply_markup=_preview_markup(lecture, participant, settings, _)
    )
    if lecture.remind_at > now:
        at = lecture.remind_at.astimezone(settings.zone).strftime(TIME_FORMAT)
        remind = _.plain("lecture.compose.remind_at", when=at)
    else:
        remind = _.plain("lecture.compose.no_reminder")
    await state.update_data(again=False)
    await state.set_state(NewLecture.confirm)
    await bot.send_message(
        chat_id,
        _(
            "lecture.compose.summary",
            audience=await _describe(lecture.audience, repo, _),
            count=count,
            remind=remind,
        ),
        reply_markup=_confirm_keyboard(_),
    )


async def confirm_step(
    callback: CallbackQuery,
    callback_data: NewLectureCb,
    participant: Participant,
    permissions: Permissions,
    repo: Repositories,
    state: FSMContext,
    settings: Settings,
    bot: Bot,
    scheduler: Scheduler,
    _: Gettext,
    broadcaster: Broadcaster | None = None,
) -> None:
    if (
        await state.get_state() != NewLecture.confirm.state
        or not permissions.is_staff
        or callback_data.action not in ("go", "cancel")
    ):
        await callback.answer(_.plain("errors.stale_button"))
        return
    message = callback.message if isinstance(callback.message, Message) else None
    say = replier(bot, callback.from_user.id, message)
    await callback.answer()
    if callback_data.action == "cancel":
        await state.clear()
        await say(_("lecture.compose.cancelled"), None)
        return
    data = await state.get_data()
    lecture = _draft(data, participant.telegram_id)
    now = utcnow()
    if lecture.starts_at <= now:  # it waited too long for the button
        await state.update_data(again=True)
        await state.set_state(NewLecture.starts)
        await say(_("lecture.compose.problem.past_time", format=EXAMPLE_TIME), None)
        return
    error = await _audience_problem(lecture.audience, permissions, repo)
    if error is not None:
        await state.clear()
        await say(_(f"lecture.compose.audience.{error.problem.value}"), None)
        return
    scheduled = await schedule_lecture(
        repo.session,
        title=lecture.title,
        speaker=lecture.speaker,
        starts_at=lecture.starts_at,
        minutes=int(data["minutes"]),
        link=lecture.link,
        audience=lecture.audience,
        created_by=participant.telegram_id,
        zone=settings.zone,
        now=now,
        _=_,
    )
    await repo.commit()
    await state.clear()
    plan_reminder(scheduler, scheduled)
    if broadcaster is not None:
        broadcaster.wake()
    key = "lecture.compose.scheduled" if scheduled.reminder else "lecture.compose.scheduled_soon"
    await say(
        _(
            key,
            id=scheduled.lecture.id,
            title=scheduled.lecture.title,
            count=scheduled.announcement.total,
            when=when_text(scheduled.lecture, settings.zone, _),
        ),
        None,
    )


def create_router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(check_in, CheckinCb.filter())
    router.callback_query.register(cancel_step, CancelLectureCb.filter())
    router.callback_query.register(confirm_step, NewLectureCb.filter())
    router.callback_query.register(audience_step, AudienceCb.filter())
    router.message.register(list_lectures, Command("lectures"))
    router.message.register(lecture_stats, Command("stats"), StatsOf("lecture"))
    router.message.register(start_new_lecture, Command("newlecture"))
    typed = (F.chat.type == "private", F.text, ~F.text.startswith("/"))
    router.message.register(receive_title, StateFilter(NewLecture.title), *typed)
    router.message.register(receive_speaker, StateFilter(NewLecture.speaker), *typed)
    router.message.register(receive_start, StateFilter(NewLecture.starts), *typed)
    router.message.register(receive_minutes, StateFilter(NewLecture.minutes), *typed)
    router.message.register(receive_link, StateFilter(NewLecture.link), *typed)
    return router
