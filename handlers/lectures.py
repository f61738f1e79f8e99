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

from bot.application import Clock, UnitOfWork
from bot.application.lectures import (
    CancelRefusal,
    CheckinClosed,
    CheckinRefusal,
    FiguresRefusal,
    LectureFigures,
    ScheduleRefusal,
    cancel_lecture,
    check_in,
    lecture_figures,
    lecture_to_cancel,
    schedule_lecture,
    upcoming_lectures,
)
from bot.application.publicity import (
    audience_labels,
    audience_summary,
    may_address_everyone,
    may_compose,
    may_see_figures,
    own_school,
    schools_on_offer,
    unit_labels,
)
from bot.config import Settings
from bot.i18n import Gettext, Translator
from bot.lectures import after_cancel, plan_reminder, preview_announcement, when_text
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
    parse_minutes,
)
from quizzes.participants import Participant, Role
from quizzes.permissions import Permissions
from quizzes.publicity import (
    TIME_FORMAT,
    TITLE_MAX,
    Audience,
    AudienceProblem,
    parse_publish_at,
    valid_link,
)
from quizzes.units import Unit

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


async def checkin_pressed(
    callback: CallbackQuery,
    callback_data: CheckinCb,
    participant: Participant,
    uow: UnitOfWork,
    settings: Settings,
    clock: Clock,
    _: Gettext,
) -> None:
    checked = await check_in(uow, callback_data.lecture, participant.id, now=clock())
    if checked is CheckinRefusal.UNKNOWN:
        await callback.answer(_.plain("errors.stale_button"))
    elif isinstance(checked, CheckinClosed):
        await callback.answer(
            _.plain(
                f"lecture.checkin_{checked.problem.value}",
                opens=short_when(checked.opens, settings.zone, _.plain),
                closes=short_when(checked.closes, settings.zone, _.plain),
            ),
            show_alert=True,
        )
    else:
        key = "lecture.checked_in" if checked.first else "lecture.already_checked_in"
        await callback.answer(_.plain(key, title=checked.lecture.title))


async def list_lectures(
    message: Message,
    permissions: Permissions,
    uow: UnitOfWork,
    settings: Settings,
    clock: Clock,
    _: Gettext,
) -> None:
    telegram_id = message.from_user.id if message.from_user else 0
    listed = await upcoming_lectures(uow, viewer=permissions, telegram_id=telegram_id, now=clock())
    if not listed:
        await message.answer(_("lecture.none"))
        return
    lines = [_("lecture.list")]
    builder = InlineKeyboardBuilder()
    for item in listed:
        lecture = item.lecture
        lines.append(
            _(
                "lecture.item",
                title=lecture.title,
                speaker=lecture.speaker,
                when=when_text(lecture, settings.zone, _),
            )
        )
        if item.cancellable:
            builder.button(
                text=_.plain("lecture.cancel.button", id=lecture.id, title=lecture.title),
                callback_data=CancelLectureCb(lecture=lecture.id, action="ask"),
            )
    builder.adjust(1)
    markup = builder.as_markup() if builder.buttons else None
    await message.answer("\n".join(lines), reply_markup=markup)


async def lecture_stats(
    message: Message,
    target_id: int | None,
    permissions: Permissions,
    uow: UnitOfWork,
    _: Gettext,
) -> None:
    if not may_see_figures(permissions):
        await message.answer(_("errors.admins_only"))
        return
    if target_id is None:
        await message.answer(_("lecture.stats_usage"))
        return
    figures = await lecture_figures(uow, target_id, viewer=permissions)
    if figures is FiguresRefusal.NOT_ALLOWED:
        await message.answer(_("errors.admins_only"))
    elif figures is FiguresRefusal.UNKNOWN:
        await message.answer(_("lecture.unknown", id=target_id))
    else:
        await message.answer(_figures_text(figures, _))


def _figures_text(figures: LectureFigures, _: Gettext) -> str:
    lecture = figures.lecture
    lines = [_("lecture.stats_title", id=lecture.id, title=lecture.title)]
    for row in figures.attendance:
        school = row.school_name or _.plain("lecture.no_school")
        role = _.plain(f"role.{row.role}") if row.role else "-"
        lines.append(_("lecture.stats_row", school=school, role=role, count=row.count))
    lines.append(_("lecture.stats_total", count=figures.total))
    return "\n".join(lines)


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
    uow: UnitOfWork,
    settings: Settings,
    bot: Bot,
    scheduler: Scheduler,
    translator: Translator,
    clock: Clock,
    _: Gettext,
    broadcaster: Broadcaster | None = None,
) -> None:
    action = callback_data.action
    if action not in ("ask", "yes", "no"):
        await callback.answer(_.plain("errors.stale_button"))
        return
    now = clock()
    asker = callback.from_user.id
    lecture = await lecture_to_cancel(
        uow, callback_data.lecture, viewer=permissions, telegram_id=asker, now=now
    )
    if isinstance(lecture, CancelRefusal):
        await _refuse_cancelling(callback, lecture, _)
        return
    message = callback.message if isinstance(callback.message, Message) else None
    say = replier(bot, asker, message)
    when = when_text(lecture, settings.zone, _)
    if action == "ask":
        await callback.answer()
        await bot.send_message(
            asker,
            _("lecture.cancel.ask", title=lecture.title, time=when),
            reply_markup=_cancel_keyboard(lecture.id, _),
        )
        return
    if action == "no":
        await callback.answer()
        await say(_("lecture.cancel.kept", title=lecture.title), None)
        return
    cancellation = await cancel_lecture(
        uow,
        lecture.id,
        viewer=permissions,
        telegram_id=asker,
        now=now,
        zone=settings.zone,
        translator=translator,
    )
    if isinstance(cancellation, CancelRefusal):
        await _refuse_cancelling(callback, cancellation, _)
        return
    after_cancel(scheduler, cancellation)
    if broadcaster is not None:  # the announcement stops, the notice starts
        broadcaster.wake()
    await callback.answer(_.plain("lecture.cancel.toast"))
    await say(_("lecture.cancel.done", title=lecture.title, time=when), None)


async def _refuse_cancelling(callback: CallbackQuery, refusal: CancelRefusal, _: Gettext) -> None:
    if refusal is CancelRefusal.NOT_ALLOWED:
        await callback.answer(_.plain("lecture.cancel.not_allowed"), show_alert=True)
    else:
        await callback.answer(_.plain("errors.stale_button"))


# ---------------------------------------------------------------------- /newlecture


async def start_new_lecture(
    message: Message, permissions: Permissions, state: FSMContext, _: Gettext
) -> None:
    if not may_compose(permissions):
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
    uow: UnitOfWork,
    state: FSMContext,
    settings: Settings,
    bot: Bot,
    clock: Clock,
    _: Gettext,
) -> None:
    try:
        starts_at = parse_publish_at(message.text or "", settings.zone, clock())
    except ValueError as error:
        await message.answer(_problem(str(error), _))
        return
    await state.update_data(starts_at=starts_at.isoformat())
    if (await state.get_data()).get("again"):  # the time had passed at confirmation
        await _ask_confirmation(
            bot, message.chat.id, participant, permissions, uow, state, settings, clock, _
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
    uow: UnitOfWork,
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
    own = await own_school(uow, permissions)
    if own is not None:
        # A coordinator of one school: it is their audience; who in it is still theirs to say.
        await state.update_data(units=[own.id], roles=[])
        await state.set_state(NewLecture.roles)
        await message.answer(
            await _ask_roles(Audience(frozenset({own.id})), uow, _),
            reply_markup=_roles_keyboard((), _),
        )
        return
    schools = await schools_on_offer(uow, permissions)
    await message.answer(
        _("lecture.compose.ask_audience"),
        reply_markup=audience_keyboard(
            schools,
            0,
            _,
            everyone=may_address_everyone(permissions),
            labels=await unit_labels(uow, schools),
        ),
    )


SCHOOLS_PER_PAGE = 20


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
    uow: UnitOfWork,
    state: FSMContext,
    settings: Settings,
    bot: Bot,
    clock: Clock,
    _: Gettext,
) -> None:
    step = await state.get_state()
    action = callback_data.action
    if not may_compose(permissions) or step not in (
        NewLecture.audience.state,
        NewLecture.roles.state,
    ):
        await callback.answer(_.plain("errors.stale_button"))
        return
    choosing_roles = step == NewLecture.roles.state
    message = callback.message if isinstance(callback.message, Message) else None
    say = replier(bot, callback.from_user.id, message)
    schools = await schools_on_offer(uow, permissions)
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
                everyone=may_address_everyone(permissions),
                labels=await unit_labels(uow, schools),
            )
            await message.edit_reply_markup(reply_markup=markup)
        return
    if action == "all" and may_address_everyone(permissions) and not choosing_roles:
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
            bot, callback.from_user.id, participant, permissions, uow, state, settings, clock, _
        )
        return
    else:
        await callback.answer(_.plain("errors.stale_button"))
        return
    await state.update_data(units=units, roles=[])
    await state.set_state(NewLecture.roles)
    await callback.answer()
    await say(await _ask_roles(Audience(frozenset(units)), uow, _), _roles_keyboard((), _))


async def _ask_roles(audience: Audience, uow: UnitOfWork, _: Gettext) -> str:
    labels = await audience_labels(uow, audience)
    return _("lecture.compose.ask_roles", audience=_describe(audience, labels, _))


def _roles_keyboard(chosen: Collection[Role], _: Gettext) -> InlineKeyboardMarkup:
    return role_choice_keyboard(chosen, _, callback=AudienceCb)


def _audience(data: dict[str, Any]) -> Audience:
    units = frozenset(int(u) for u in data.get("units") or [])
    return Audience(units, frozenset(Role(r) for r in data.get("roles") or []))


def _describe(audience: Audience, labels: list[str], _: Gettext) -> str:
    """Who the lecture is for, as the dialogue says it (``labels``: its units')."""
    described = _.join(labels) if labels else _.plain("lecture.compose.everyone")
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
    lecture: Lecture, participant: Participant, settings: Settings, _: Gettext, now: datetime
) -> InlineKeyboardMarkup:
    """The recipients' buttons; the link goes straight to the lecture (a recipient's
    tracked link exists only once the announcement is stored)."""
    article = preview_announcement(lecture, settings.zone, _, now)
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
    uow: UnitOfWork,
    state: FSMContext,
    settings: Settings,
    clock: Clock,
    _: Gettext,
) -> None:
    """The announcement exactly as recipients will get it, then who and when, to confirm."""
    data = await state.get_data()
    lecture = _draft(data, participant.chat_id)
    summary = await audience_summary(uow, lecture.audience, viewer=permissions)
    if isinstance(summary, AudienceProblem):
        await state.clear()
        await bot.send_message(chat_id, _(f"lecture.compose.audience.{summary.value}"))
        return
    now = clock()
    article = preview_announcement(lecture, settings.zone, _, now)
    await bot.send_message(
        chat_id,
        article.text,
        reply_markup=_preview_markup(lecture, participant, settings, _, now),
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
            audience=_describe(lecture.audience, summary.labels, _),
            count=summary.count,
            remind=remind,
        ),
        reply_markup=_confirm_keyboard(_),
    )


async def confirm_step(
    callback: CallbackQuery,
    callback_data: NewLectureCb,
    participant: Participant,
    permissions: Permissions,
    uow: UnitOfWork,
    state: FSMContext,
    settings: Settings,
    bot: Bot,
    scheduler: Scheduler,
    clock: Clock,
    _: Gettext,
    broadcaster: Broadcaster | None = None,
) -> None:
    if (
        await state.get_state() != NewLecture.confirm.state
        or not may_compose(permissions)
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
    scheduled = await schedule_lecture(
        uow,
        _draft(data, participant.chat_id),
        minutes=int(data["minutes"]),
        viewer=permissions,
        now=clock(),
        zone=settings.zone,
        _=_,
    )
    if isinstance(scheduled, ScheduleRefusal):  # it waited too long for the button
        await state.update_data(again=True)
        await state.set_state(NewLecture.starts)
        await say(_("lecture.compose.problem.past_time", format=EXAMPLE_TIME), None)
        return
    if isinstance(scheduled, AudienceProblem):
        await state.clear()
        await say(_(f"lecture.compose.audience.{scheduled.value}"), None)
        return
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
    router.callback_query.register(checkin_pressed, CheckinCb.filter())
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
