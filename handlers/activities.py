"""/activity: a coordinator, teacher or the bureau records an offline event in chat;
/activities: what waits for the bureau's review (or, for a school, its latest entries).

The dialogue's answers live in a typed :class:`Draft` kept in the FSM data; each step
has its own handler, each button action its own filter, and a press that does not fit
the current step (stale, forged) changes nothing. Nothing is written until 保存.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, Message
from pydantic import Field

from bot.application import Clock, UnitOfWork
from bot.application.activities import (
    ReviewOutcome,
    activities_for,
    local_day,
    record_activity,
    recordable_unit,
    recording_choices,
    review_activity,
    school_named,
)
from bot.application.audience import picker_scope
from bot.config import Settings
from bot.i18n import Gettext
from bot.views.activities import (
    ActivityCb,
    ReviewCb,
    activity_line,
    confirm_keyboard,
    days_keyboard,
    kinds_keyboard,
    photos_keyboard,
    review_keyboard,
    summary,
    units_keyboard,
)
from bot.views.themes import ThemeCb, themes_keyboard
from handlers.audience import AudiencePicker
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
from quizzes.activities import (
    MAX_PHOTOS,
    MAX_SPEAKER,
    MAX_TITLE,
    ActivityDraft,
    ActivityStatus,
    Headcount,
    parse_headcount,
)
from quizzes.activity_import import parse_day
from quizzes.activity_kinds import is_kind, kind_named
from quizzes.participants import Participant
from quizzes.permissions import Permissions
from quizzes.publicity import Audience
from quizzes.spreadsheet_safety import looks_like_formula
from quizzes.themes import Theme

__all__ = ["Draft", "Recording", "create_router"]


class Recording(StatesGroup):
    kind = State()
    unit = State()
    day = State()
    title = State()
    theme = State()
    headcount = State()
    speaker = State()
    photos = State()
    confirm = State()


on_leaving(Recording, "activity.chat.cancelled")


def may_name_any_school(permissions: Permissions) -> bool:
    """The bureau records for any school, and may type its name."""
    return permissions.is_admin


def may_record_elsewhere(permissions: Permissions) -> bool:
    """Who chooses among units (a teacher's one class is taken without asking)."""
    return permissions.is_staff


class Draft(DialogueState):
    """The answers so far (the organising unit is chosen with the shared picker)."""

    key = "activity"

    kind: str = ""
    unit_id: int = 0
    unit_label: str = ""
    day: str = ""
    title: str = ""
    theme: str = ""
    students: int = 0
    teachers: int = 0
    parents: int = 0
    speaker: str = ""
    organisation: str = ""
    photos: list[str] = Field(default_factory=list)
    last_album: str = ""

    def to_activity(self) -> ActivityDraft:
        return ActivityDraft(
            self.kind,
            Theme(self.theme),
            date.fromisoformat(self.day),
            self.title,
            self.unit_id,
            Headcount(self.students, self.teachers, self.parents),
            self.speaker,
            self.organisation,
        )


def _message(callback: CallbackQuery) -> Message | None:
    return callback.message if isinstance(callback.message, Message) else None


def _bottom(_: Gettext) -> tuple[InlineKeyboardButton, InlineKeyboardButton]:
    """The last row of every step but the first: 返回 and 取消."""
    return back_button(_), leave_button(_)


# -- the steps ------------------------------------------------------------------------------


async def start_recording(
    message: Message,
    state: FSMContext,
    participant: Participant,
    permissions: Permissions,
    uow: UnitOfWork,
    bot: Bot,
    _: Gettext,
) -> None:
    choices = await recording_choices(uow, participant, permissions)
    if not choices.allowed:
        await message.answer(_("activity.chat.not_allowed"))
        return
    await state.clear()
    await Draft().save(state)
    await ask_kind(replier(bot, message.chat.id, None), state, _)


async def ask_kind(say: Say, state: FSMContext, _: Gettext) -> None:
    await state.set_state(Recording.kind)
    await say(_("activity.chat.ask_kind"), kinds_keyboard(_, leave_button(_)))


async def choose_kind(
    callback: CallbackQuery,
    callback_data: ActivityCb,
    state: FSMContext,
    participant: Participant,
    permissions: Permissions,
    uow: UnitOfWork,
    bot: Bot,
    clock: Clock,
    settings: Settings,
    _: Gettext,
) -> None:
    if not is_kind(callback_data.value):
        await callback.answer(_.plain("errors.stale_button"))
        return
    await callback.answer()
    draft = await Draft.load(state)
    draft.kind = callback_data.value
    draft.theme = kind_named(draft.kind).default_theme.value
    await draft.save(state)
    await ask_unit(
        replier(bot, callback.from_user.id, _message(callback)),
        state,
        participant,
        permissions,
        uow,
        clock,
        settings,
        _,
    )


async def ask_unit(
    say: Say,
    state: FSMContext,
    participant: Participant,
    permissions: Permissions,
    uow: UnitOfWork,
    clock: Clock,
    settings: Settings,
    _: Gettext,
) -> None:
    """Where the event was held, with the shared picker; a teacher's one class is taken
    without asking."""
    scope = await PICKER.open(say, state, uow, participant, permissions, _)
    if scope.own is not None and not scope.levels and not scope.everyone:
        label = await recordable_unit(uow, scope.own.id, participant, permissions)
        if label is not None:
            draft = await Draft.load(state)
            draft.unit_id, draft.unit_label = scope.own.id, label
            await draft.save(state)
            await ask_day(say, state, clock, settings, _)


async def unit_again(
    say: Say,
    state: FSMContext,
    participant: Participant,
    permissions: Permissions,
    uow: UnitOfWork,
    clock: Clock,
    settings: Settings,
    _: Gettext,
) -> None:
    """返回 from the day: the picker where it was, or the kind when the unit was taken
    without asking."""
    scope = await picker_scope(uow, participant, permissions, teachers=True)
    if scope.own is not None and not scope.levels and not scope.everyone:
        await ask_kind(say, state, _)
    else:
        await PICKER.reopen(say, state, uow, participant, permissions, _)


async def unit_chosen(
    callback: CallbackQuery,
    audience: Audience,
    state: FSMContext,
    participant: Participant,
    permissions: Permissions,
    uow: UnitOfWork,
    bot: Bot,
    clock: Clock,
    settings: Settings,
    _: Gettext,
) -> None:
    """The picker's press: the organising unit."""
    [unit_id] = audience.unit_ids
    await _take_unit(
        unit_id,
        replier(bot, callback.from_user.id, _message(callback)),
        state,
        participant,
        permissions,
        uow,
        clock,
        settings,
        _,
    )


async def choose_namesake(
    callback: CallbackQuery,
    callback_data: ActivityCb,
    state: FSMContext,
    participant: Participant,
    permissions: Permissions,
    uow: UnitOfWork,
    bot: Bot,
    clock: Clock,
    settings: Settings,
    _: Gettext,
) -> None:
    """One of the schools of the name the bureau typed."""
    label = None
    if callback_data.value.isdigit():
        label = await recordable_unit(uow, int(callback_data.value), participant, permissions)
    if label is None:
        await callback.answer(_.plain("errors.stale_button"))
        return
    await callback.answer()
    say = replier(bot, callback.from_user.id, _message(callback))
    await _take_unit(
        int(callback_data.value), say, state, participant, permissions, uow, clock, settings, _
    )


async def _take_unit(
    unit_id: int,
    say: Say,
    state: FSMContext,
    participant: Participant,
    permissions: Permissions,
    uow: UnitOfWork,
    clock: Clock,
    settings: Settings,
    _: Gettext,
) -> None:
    label = await recordable_unit(uow, unit_id, participant, permissions)
    if label is None:  # checked when offered; gone (or retired) since
        await say(_("activity.chat.press_a_button"), None)
        return
    draft = await Draft.load(state)
    draft.unit_id, draft.unit_label = unit_id, label
    await draft.save(state)
    await ask_day(say, state, clock, settings, _)


async def press_a_button(message: Message, _: Gettext) -> None:
    """Text where only the bureau may type a school's name."""
    await message.answer(_("activity.chat.press_a_button"))


async def type_school(
    message: Message,
    state: FSMContext,
    participant: Participant,
    permissions: Permissions,
    uow: UnitOfWork,
    bot: Bot,
    clock: Clock,
    settings: Settings,
    _: Gettext,
) -> None:
    found = await school_named(uow, message.text or "")
    if not found:
        await message.answer(_("activity.chat.no_school", name=message.text or ""))
        return
    if len(found) > 1:
        await message.answer(
            _("activity.chat.many_schools"), reply_markup=units_keyboard(found, *_bottom(_))
        )
        return
    [(unit_id, _label)] = found
    say = replier(bot, message.chat.id, None)
    await _take_unit(unit_id, say, state, participant, permissions, uow, clock, settings, _)


PICKER = AudiencePicker(
    step=Recording.unit,
    ask="activity.chat.ask_unit",
    ask_bureau="activity.chat.ask_unit_or_school",
    finish=unit_chosen,
    rule=may_record_elsewhere,
    back=ask_kind,
    many=False,
    roles=False,
    everyone=False,
    teachers=True,
    regiments=False,
)


async def ask_day(
    say: Say, state: FSMContext, clock: Clock, settings: Settings, _: Gettext
) -> None:
    await state.set_state(Recording.day)
    await say(
        _("activity.chat.ask_day"),
        days_keyboard(local_day(clock(), settings.zone), _, *_bottom(_)),
    )


async def choose_day(
    callback: CallbackQuery,
    callback_data: ActivityCb,
    state: FSMContext,
    bot: Bot,
    clock: Clock,
    settings: Settings,
    _: Gettext,
) -> None:
    day = parse_day(callback_data.value)
    if day is None or day > local_day(clock(), settings.zone):
        await callback.answer(_.plain("errors.stale_button"))
        return
    await callback.answer()
    await _take_day(day, state)
    await ask_title(replier(bot, callback.from_user.id, _message(callback)), state, _)


async def type_day(
    message: Message, state: FSMContext, bot: Bot, clock: Clock, settings: Settings, _: Gettext
) -> None:
    day = parse_day(message.text or "")
    if day is None:
        await message.answer(_("activity.chat.bad_day", value=message.text or ""))
        return
    if day > local_day(clock(), settings.zone):
        await message.answer(_("activity.chat.future_day", day=day.isoformat()))
        return
    await _take_day(day, state)
    await ask_title(replier(bot, message.chat.id, None), state, _)


async def _take_day(day: date, state: FSMContext) -> None:
    draft = await Draft.load(state)
    draft.day = day.isoformat()
    await draft.save(state)


async def ask_title(say: Say, state: FSMContext, _: Gettext) -> None:
    await state.set_state(Recording.title)
    await say(_("activity.chat.ask_title"), step_keyboard(_))


async def type_title(message: Message, state: FSMContext, bot: Bot, _: Gettext) -> None:
    title = " ".join((message.text or "").split())
    if not title or len(title) > MAX_TITLE or looks_like_formula(title):
        await message.answer(_("activity.chat.bad_title", max=MAX_TITLE))
        return
    draft = await Draft.load(state)
    draft.title = title
    await draft.save(state)
    await ask_theme(replier(bot, message.chat.id, None), state, _)


async def ask_theme(say: Say, state: FSMContext, _: Gettext) -> None:
    await state.set_state(Recording.theme)
    usual = Theme((await Draft.load(state)).theme)
    await say(_("activity.chat.ask_theme"), themes_keyboard(usual, _, *_bottom(_)))


async def choose_theme(
    callback: CallbackQuery,
    callback_data: ThemeCb,
    state: FSMContext,
    bot: Bot,
    _: Gettext,
) -> None:
    if callback_data.theme not in {theme.value for theme in Theme}:
        await callback.answer(_.plain("errors.stale_button"))
        return
    await callback.answer()
    draft = await Draft.load(state)
    draft.theme = callback_data.theme
    await draft.save(state)
    await ask_headcount(replier(bot, callback.from_user.id, _message(callback)), state, _)


async def ask_headcount(say: Say, state: FSMContext, _: Gettext) -> None:
    await state.set_state(Recording.headcount)
    await say(_("activity.chat.ask_headcount"), step_keyboard(_))


async def type_headcount(message: Message, state: FSMContext, bot: Bot, _: Gettext) -> None:
    counts = parse_headcount(message.text or "")
    if counts is None or counts.total == 0 or counts.total > 100_000:
        await message.answer(_("activity.chat.bad_headcount"))
        return
    draft = await Draft.load(state)
    draft.students, draft.teachers, draft.parents = (
        counts.students,
        counts.teachers,
        counts.parents,
    )
    await draft.save(state)
    say = replier(bot, message.chat.id, None)
    if kind_named(draft.kind).needs_speaker:
        await ask_speaker(say, state, _)
        return
    await ask_photos(say, state, _)


async def ask_speaker(say: Say, state: FSMContext, _: Gettext) -> None:
    await state.set_state(Recording.speaker)
    await say(_("activity.chat.ask_speaker"), step_keyboard(_))


async def type_speaker(message: Message, state: FSMContext, bot: Bot, _: Gettext) -> None:
    name, _sep, organisation = " ".join((message.text or "").split()).partition(" ")
    organisation = re.sub(r"^[，,、（(]+|[）)]+$", "", organisation).strip()
    too_long = len(name) > MAX_SPEAKER or len(organisation) > MAX_SPEAKER
    if not name or too_long or looks_like_formula(name) or looks_like_formula(organisation):
        await message.answer(_("activity.chat.bad_speaker", max=MAX_SPEAKER))
        return
    draft = await Draft.load(state)
    draft.speaker, draft.organisation = name, organisation
    await draft.save(state)
    await ask_photos(replier(bot, message.chat.id, None), state, _)


async def ask_photos(say: Say, state: FSMContext, _: Gettext) -> None:
    await state.set_state(Recording.photos)
    have = len((await Draft.load(state)).photos)
    await say(_("activity.chat.ask_photos", max=MAX_PHOTOS), photos_keyboard(have, _, *_bottom(_)))


async def before_photos(say: Say, state: FSMContext, _: Gettext) -> None:
    """返回 from the photos: the speaker, for a kind that names one, else the headcount."""
    if kind_named((await Draft.load(state)).kind).needs_speaker:
        await ask_speaker(say, state, _)
    else:
        await ask_headcount(say, state, _)


on_back(Recording.day, Recording.unit, unit_again)
on_back(Recording.title, Recording.day, ask_day)
on_back(Recording.theme, Recording.title, ask_title)
on_back(Recording.headcount, Recording.theme, ask_theme)
on_back(Recording.speaker, Recording.headcount, ask_headcount)
on_back(Recording.photos, Recording.headcount, before_photos)


async def receive_photo(message: Message, state: FSMContext, _: Gettext) -> None:
    """Each photo of an album comes as its own update; one answer per album (Telegram
    allows about one message a second in a chat)."""
    assert message.photo
    draft = await Draft.load(state)
    album = message.media_group_id or ""
    first_of_album = not album or album != draft.last_album
    draft.last_album = album
    full = len(draft.photos) >= MAX_PHOTOS
    if not full:
        draft.photos.append(message.photo[-1].file_id)  # the largest size
    await draft.save(state)
    if full:
        if first_of_album:
            await message.answer(_("activity.chat.photos_full", max=MAX_PHOTOS))
        return
    if first_of_album:
        await message.answer(
            _("activity.chat.photo_received", max=MAX_PHOTOS),
            reply_markup=photos_keyboard(1, _, *_bottom(_)),
        )


async def photos_done(callback: CallbackQuery, state: FSMContext, bot: Bot, _: Gettext) -> None:
    await callback.answer()
    await ask_confirmation(replier(bot, callback.from_user.id, _message(callback)), state, _)


async def ask_confirmation(say: Say, state: FSMContext, _: Gettext) -> None:
    draft = await Draft.load(state)
    await state.set_state(Recording.confirm)
    text = summary(
        _,
        kind=draft.kind,
        unit_label=draft.unit_label,
        day=date.fromisoformat(draft.day),
        title=draft.title,
        theme=Theme(draft.theme),
        headcount=Headcount(draft.students, draft.teachers, draft.parents),
        speaker=draft.speaker,
        organisation=draft.organisation,
        photos=len(draft.photos),
    )
    await say(_("activity.chat.confirm", summary=text), confirm_keyboard(_, *_bottom(_)))


on_back(Recording.confirm, Recording.photos, ask_photos)


async def save(
    callback: CallbackQuery,
    state: FSMContext,
    participant: Participant,
    permissions: Permissions,
    uow: UnitOfWork,
    bot: Bot,
    clock: Clock,
    settings: Settings,
    _: Gettext,
) -> None:
    await callback.answer()
    draft = await Draft.load(state)
    say = replier(bot, callback.from_user.id, _message(callback))
    photos: list[tuple[str | None, bytes | None]] = []
    for file_id in draft.photos:  # the report's appendix needs the pictures themselves
        downloaded = await bot.download(file_id)
        photos.append((file_id, downloaded.read() if downloaded else None))
    done = await record_activity(
        uow,
        draft.to_activity(),
        recorder=participant,
        permissions=permissions,
        now=clock(),
        zone=settings.zone,
        photos=photos,
    )
    await state.clear()
    if done.activity is None:
        reasons = [_(f"activity.refused.{code}", **params) for code, params in done.problems]
        await say(_("activity.chat.refused", reasons="\n".join(reasons)), None)
        return
    key = (
        "activity.chat.saved_confirmed"
        if done.activity.status is ActivityStatus.CONFIRMED
        else "activity.chat.saved_pending"
    )
    await say(_(key, id=done.activity.id, title=done.activity.title), None)


# -- the list and the bureau's review -----------------------------------------------------


async def list_activities(
    message: Message,
    participant: Participant,
    permissions: Permissions,
    uow: UnitOfWork,
    _: Gettext,
) -> None:
    if not permissions.is_staff and not permissions.may_teach(participant.role):
        await message.answer(_("activity.chat.not_allowed"))
        return
    listed = await activities_for(uow, participant, permissions)
    if not listed:
        key = "activity.chat.none_waiting" if permissions.is_admin else "activity.chat.none"
        await message.answer(_(key))
        return
    for entry in listed:
        markup = review_keyboard(entry.activity.id, _) if permissions.is_admin else None
        await message.answer(
            activity_line(entry.activity, entry.unit_label, _), reply_markup=markup
        )


async def review(
    callback: CallbackQuery,
    callback_data: ReviewCb,
    participant: Participant,
    permissions: Permissions,
    uow: UnitOfWork,
    clock: Clock,
    _: Gettext,
) -> None:
    outcome, reviewed = await review_activity(
        uow,
        callback_data.activity_id,
        confirm=callback_data.confirm,
        by=participant.id,
        permissions=permissions,
        now=clock(),
    )
    if outcome is ReviewOutcome.NOT_ALLOWED:
        await callback.answer(_.plain("activity.review.admins_only"), show_alert=True)
        return
    if outcome is ReviewOutcome.NOT_FOUND or reviewed is None:
        await callback.answer(_.plain("errors.stale_button"))
        return
    status = _.plain(f"activity.status.{reviewed.status.value}")
    await callback.answer(_.plain("activity.review.done", status=status))
    message = _message(callback)
    if message is not None:
        await message.edit_text(
            _("activity.review.line", title=reviewed.title, status=status), reply_markup=None
        )


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(start_recording, Command("activity"))
    router.message.register(list_activities, Command("activities"))
    router.callback_query.register(review, ReviewCb.filter())

    def on(action: str, step: State) -> tuple[Any, ...]:
        return (ActivityCb.filter(F.action == action), StateFilter(step))

    router.callback_query.register(choose_kind, *on("kind", Recording.kind))
    router.callback_query.register(choose_namesake, *on("unit", Recording.unit))
    PICKER.attach(router)
    router.callback_query.register(choose_day, *on("day", Recording.day))
    router.callback_query.register(choose_theme, ThemeCb.filter(), StateFilter(Recording.theme))
    router.callback_query.register(photos_done, *on("photos_done", Recording.photos))
    router.callback_query.register(save, *on("save", Recording.confirm))
    # A button of another step (pressed late, or forged) changes nothing.
    router.callback_query.register(_stale, ActivityCb.filter())

    typed = F.text & ~F.text.startswith("/")
    router.message.register(
        type_school, StateFilter(Recording.unit), typed, Allowed(may_name_any_school)
    )
    router.message.register(press_a_button, StateFilter(Recording.unit), typed)
    router.message.register(type_day, StateFilter(Recording.day), typed)
    router.message.register(type_title, StateFilter(Recording.title), typed)
    router.message.register(type_headcount, StateFilter(Recording.headcount), typed)
    router.message.register(type_speaker, StateFilter(Recording.speaker), typed)
    router.message.register(receive_photo, StateFilter(Recording.photos), F.photo)
    return router


async def _stale(callback: CallbackQuery, _: Gettext) -> None:
    await callback.answer(_.plain("errors.stale_button"))
