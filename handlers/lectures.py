"""Online lectures in chat: the check-in button, /lectures (with cancelling for staff),
``/stats lecture ID`` and scheduling one with /newlecture."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

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
from bot.application.publicity import audience_summary, may_compose, may_see_figures
from bot.config import Settings
from bot.i18n import Gettext, Translator
from bot.lectures import after_cancel, plan_reminder, preview_announcement, when_text
from bot.views.audience import ROLES
from bot.views.publicity import CheckinCb, article_markup
from bot.when import minutes, short_when
from handlers.audience import AudiencePicker, Pick
from handlers.dialogue import (
    DialogueState,
    Say,
    back_button,
    leave_button,
    on_back,
    on_leaving,
    replier,
    step_keyboard,
)
from handlers.rights import Allowed
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
from quizzes.participants import Participant
from quizzes.permissions import Permissions
from quizzes.publicity import (
    TIME_FORMAT,
    TITLE_MAX,
    Audience,
    AudienceProblem,
    parse_publish_at,
    valid_link,
)

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
    confirm = State()


on_leaving(NewLecture, "lecture.compose.cancelled")


class NewLectureCb(CallbackData, prefix="lnw"):
    """Confirm the lecture previewed by /newlecture (``go``)."""

    action: str


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


async def _cancellable(
    callback: CallbackQuery,
    callback_data: CancelLectureCb,
    permissions: Permissions,
    uow: UnitOfWork,
    clock: Clock,
    _: Gettext,
) -> Lecture | None:
    """The lecture of a cancel button, when the presser may cancel it now; a refusal is
    answered here."""
    lecture = await lecture_to_cancel(
        uow,
        callback_data.lecture,
        viewer=permissions,
        telegram_id=callback.from_user.id,
        now=clock(),
    )
    if isinstance(lecture, CancelRefusal):
        await _refuse_cancelling(callback, lecture, _)
        return None
    return lecture


async def ask_cancelling(
    callback: CallbackQuery,
    callback_data: CancelLectureCb,
    permissions: Permissions,
    uow: UnitOfWork,
    settings: Settings,
    bot: Bot,
    clock: Clock,
    _: Gettext,
) -> None:
    """The button under /lectures: ask first, in a message of its own."""
    lecture = await _cancellable(callback, callback_data, permissions, uow, clock, _)
    if lecture is None:
        return
    await callback.answer()
    await bot.send_message(
        callback.from_user.id,
        _("lecture.cancel.ask", title=lecture.title, time=when_text(lecture, settings.zone, _)),
        reply_markup=_cancel_keyboard(lecture.id, _),
    )


async def keep_lecture(
    callback: CallbackQuery,
    callback_data: CancelLectureCb,
    permissions: Permissions,
    uow: UnitOfWork,
    bot: Bot,
    clock: Clock,
    _: Gettext,
) -> None:
    lecture = await _cancellable(callback, callback_data, permissions, uow, clock, _)
    if lecture is None:
        return
    await callback.answer()
    message = callback.message if isinstance(callback.message, Message) else None
    await replier(bot, callback.from_user.id, message)(
        _("lecture.cancel.kept", title=lecture.title), None
    )


async def cancel_now(
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
    lecture = await _cancellable(callback, callback_data, permissions, uow, clock, _)
    if lecture is None:
        return
    cancellation = await cancel_lecture(
        uow,
        lecture.id,
        viewer=permissions,
        telegram_id=callback.from_user.id,
        now=clock(),
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
    message = callback.message if isinstance(callback.message, Message) else None
    when = when_text(lecture, settings.zone, _)
    await replier(bot, callback.from_user.id, message)(
        _("lecture.cancel.done", title=lecture.title, time=when), None
    )


async def _refuse_cancelling(callback: CallbackQuery, refusal: CancelRefusal, _: Gettext) -> None:
    if refusal is CancelRefusal.NOT_ALLOWED:
        await callback.answer(_.plain("lecture.cancel.not_allowed"), show_alert=True)
    else:
        await callback.answer(_.plain("errors.stale_button"))


# ---------------------------------------------------------------------- /newlecture


class LectureDraft(DialogueState):
    """/newlecture's answers besides the audience (the picker keeps that)."""

    key = "lecture"

    title: str = ""
    speaker: str = ""
    starts_at: datetime | None = None
    minutes: int = 0
    link: str | None = None
    again: bool = False  # the start had passed at confirmation: asked again, then confirm

    def lecture(self, audience: Audience, created_by: int) -> Lecture:
        """The lecture as typed so far (id 0): what the preview and the summary show."""
        assert self.starts_at is not None
        starts_at, ends_at = lecture_window(self.starts_at, self.minutes)
        return Lecture(
            id=0,
            title=self.title,
            speaker=self.speaker,
            starts_at=starts_at,
            ends_at=ends_at,
            link=self.link,
            audience=audience,
            created_by=created_by,
            status=LectureStatus.SCHEDULED,
        )


async def start_new_lecture(message: Message, state: FSMContext, bot: Bot, _: Gettext) -> None:
    await state.clear()
    await ask_title(replier(bot, message.chat.id, None), state, _)


async def refuse_new_lecture(message: Message, _: Gettext) -> None:
    await message.answer(_("lecture.compose.staff_only"))


def _problem(problem: str, _: Gettext) -> str:
    return _(
        f"lecture.compose.problem.{problem}",
        format=EXAMPLE_TIME,
        max=MAX_MINUTES,
        limit=TITLE_MAX,
    )


def _typed(message: Message, bot: Bot) -> Say:
    return replier(bot, message.chat.id, None)


async def ask_title(say: Say, state: FSMContext, _: Gettext) -> None:
    await state.set_state(NewLecture.title)
    await say(_("lecture.compose.ask_title", limit=TITLE_MAX), step_keyboard(_, back=False))


async def receive_title(message: Message, state: FSMContext, bot: Bot, _: Gettext) -> None:
    try:
        title = clean_line(message.text or "", TITLE_MAX)
    except ValueError as error:
        await message.answer(_problem(str(error), _))
        return
    draft = await LectureDraft.load(state)
    draft.title = title
    await draft.save(state)
    await ask_speaker(_typed(message, bot), state, _)


async def ask_speaker(say: Say, state: FSMContext, _: Gettext) -> None:
    await state.set_state(NewLecture.speaker)
    await say(_("lecture.compose.ask_speaker"), step_keyboard(_))


async def receive_speaker(message: Message, state: FSMContext, bot: Bot, _: Gettext) -> None:
    try:
        speaker = clean_line(message.text or "", SPEAKER_MAX)
    except ValueError as error:
        await message.answer(_problem(str(error), _))
        return
    draft = await LectureDraft.load(state)
    draft.speaker = speaker
    await draft.save(state)
    await ask_start(_typed(message, bot), state, _)


async def ask_start(say: Say, state: FSMContext, _: Gettext) -> None:
    await state.set_state(NewLecture.starts)
    await say(_("lecture.compose.ask_start", format=EXAMPLE_TIME), step_keyboard(_))


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
    draft = await LectureDraft.load(state)
    draft.starts_at = starts_at
    await draft.save(state)
    if draft.again:  # the time had passed at confirmation
        await _ask_confirmation(
            bot, message.chat.id, participant, permissions, uow, state, settings, clock, _
        )
        return
    await ask_minutes(_typed(message, bot), state, _)


async def ask_minutes(say: Say, state: FSMContext, _: Gettext) -> None:
    await state.set_state(NewLecture.minutes)
    await say(
        _(
            "lecture.compose.ask_minutes",
            max=MAX_MINUTES,
            early=minutes(CHECKIN_EARLY),
            late=minutes(CHECKIN_LATE),
        ),
        step_keyboard(_),
    )


async def receive_minutes(message: Message, state: FSMContext, bot: Bot, _: Gettext) -> None:
    try:
        typed = parse_minutes(message.text or "")
    except ValueError as error:
        await message.answer(_problem(str(error), _))
        return
    draft = await LectureDraft.load(state)
    draft.minutes = typed
    await draft.save(state)
    await ask_link(_typed(message, bot), state, _)


async def ask_link(say: Say, state: FSMContext, _: Gettext) -> None:
    await state.set_state(NewLecture.link)
    await say(_("lecture.compose.ask_link", none=NO_LINK), step_keyboard(_))


async def receive_link(
    message: Message,
    participant: Participant,
    permissions: Permissions,
    uow: UnitOfWork,
    state: FSMContext,
    bot: Bot,
    _: Gettext,
) -> None:
    link = (message.text or "").strip()
    if link != NO_LINK and not valid_link(link):
        await message.answer(_problem(LectureProblem.BAD_LINK.value, _))
        return
    draft = await LectureDraft.load(state)
    draft.link = None if link == NO_LINK else link
    await draft.save(state)
    await PICKER.open(_typed(message, bot), state, uow, participant, permissions, _)


async def audience_chosen(
    callback: CallbackQuery,
    participant: Participant,
    permissions: Permissions,
    uow: UnitOfWork,
    state: FSMContext,
    settings: Settings,
    bot: Bot,
    clock: Clock,
    _: Gettext,
) -> None:
    """The picker's last press: the preview and the summary to confirm."""
    message = callback.message if isinstance(callback.message, Message) else None
    await replier(bot, callback.from_user.id, message)(_("lecture.compose.audience_chosen"), None)
    await _ask_confirmation(
        bot, callback.from_user.id, participant, permissions, uow, state, settings, clock, _
    )


PICKER = AudiencePicker(
    step=NewLecture.audience,
    ask="lecture.compose.ask_audience",
    finish=audience_chosen,
    rule=may_compose,
    back=ask_link,
)
on_back(NewLecture.speaker, NewLecture.title, ask_title)
on_back(NewLecture.starts, NewLecture.speaker, ask_speaker)
on_back(NewLecture.minutes, NewLecture.starts, ask_start)
on_back(NewLecture.link, NewLecture.minutes, ask_minutes)
on_back(NewLecture.confirm, NewLecture.audience, PICKER.reopen)


def _describe(audience: Audience, labels: list[str], _: Gettext) -> str:
    """Who the lecture is for, as the dialogue says it (``labels``: its units')."""
    described = _.join(labels) if labels else _.plain("lecture.compose.everyone")
    if audience.roles:
        roles = _.join(_.plain(f"role.{r.value}") for r in ROLES if r in audience.roles)
        described += f" · {roles}"
    return described


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
    confirm = InlineKeyboardButton(
        text=_.plain("lecture.compose.confirm"),
        callback_data=NewLectureCb(action="go").pack(),
    )
    return InlineKeyboardMarkup(inline_keyboard=[[confirm], [back_button(_), leave_button(_)]])


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
    draft = await LectureDraft.load(state)
    lecture = draft.lecture((await Pick.load(state)).audience, participant.chat_id)
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
    draft.again = False
    await draft.save(state)
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


async def confirm(
    callback: CallbackQuery,
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
    message = callback.message if isinstance(callback.message, Message) else None
    say = replier(bot, callback.from_user.id, message)
    await callback.answer()
    draft = await LectureDraft.load(state)
    scheduled = await schedule_lecture(
        uow,
        draft.lecture((await Pick.load(state)).audience, participant.chat_id),
        minutes=draft.minutes,
        viewer=permissions,
        now=clock(),
        zone=settings.zone,
        _=_,
    )
    if isinstance(scheduled, ScheduleRefusal):  # it waited too long for the button
        draft.again = True
        await draft.save(state)
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


async def _stale(callback: CallbackQuery, _: Gettext) -> None:
    await callback.answer(_.plain("errors.stale_button"))


def create_router() -> Router:
    router = Router(name=__name__)
    staff = Allowed(may_compose)
    router.callback_query.register(checkin_pressed, CheckinCb.filter())
    for action, handler in (("ask", ask_cancelling), ("no", keep_lecture), ("yes", cancel_now)):
        router.callback_query.register(handler, CancelLectureCb.filter(F.action == action))
    router.callback_query.register(_stale, CancelLectureCb.filter())
    router.callback_query.register(
        confirm, NewLectureCb.filter(F.action == "go"), StateFilter(NewLecture.confirm), staff
    )
    # A button of another step (pressed late, or forged) changes nothing.
    router.callback_query.register(_stale, NewLectureCb.filter())
    PICKER.attach(router)
    router.message.register(list_lectures, Command("lectures"))
    router.message.register(lecture_stats, Command("stats"), StatsOf("lecture"))
    router.message.register(start_new_lecture, Command("newlecture"), staff)
    router.message.register(refuse_new_lecture, Command("newlecture"))
    typed = (F.chat.type == "private", F.text, ~F.text.startswith("/"), staff)
    router.message.register(receive_title, StateFilter(NewLecture.title), *typed)
    router.message.register(receive_speaker, StateFilter(NewLecture.speaker), *typed)
    router.message.register(receive_start, StateFilter(NewLecture.starts), *typed)
    router.message.register(receive_minutes, StateFilter(NewLecture.minutes), *typed)
    router.message.register(receive_link, StateFilter(NewLecture.link), *typed)
    return router
