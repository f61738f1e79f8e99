"""/newcampaign: an admin sets up a quiz campaign in a short guided dialogue.

The answers are collected as the very mapping a campaign YAML file holds, and every step
is checked by the spec parser of :mod:`quizzes.campaigns` (the rules of
``pufa campaign create``, one definition): a bad answer gets that rule's message and the
step is asked again. Confirming creates the campaign through
:func:`bot.application.campaign_setup.create_from_answers`, like the CLI, and schedules
its jobs.

The step after the banks asks whom the campaign is for (全部, 小学, 初中 or 高中及教职工):
the draw then takes only the questions suiting that level, in the level's default mix of
易/中/难; another mix is set in the YAML file. Who may take part is chosen with the
shared audience picker (``handlers/audience.py``).

The FSM data holds a typed :class:`CampaignDraft` (the answers and a short token); the
buttons carry the token and ids only; each action has its own handler, and a press that
does not fit the current step (stale, forged) changes nothing. Every step has 返回 and
取消. Draws per tag are left to the YAML file.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Command, Filter, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from pydantic import Field

from bot.application import Clock, UnitOfWork
from bot.application.audience import named_units
from bot.application.campaign_setup import (
    CampaignNotCreated,
    SetupRefusal,
    answer_problems,
    banks_on_offer,
    chosen_banks,
    create_from_answers,
    may_set_up_campaigns,
)
from bot.config import Settings
from bot.i18n import Gettext
from bot.scheduler import Scheduler
from bot.views.audience import ROLES
from bot.views.themes import ThemeCb, themes_keyboard
from handlers.audience import AudiencePicker, Pick
from handlers.dialogue import (
    DialogueState,
    Say,
    back_button,
    leave_button,
    on_back,
    on_leaving,
    replier,
)
from handlers.rights import Allowed
from quizzes.bank import Level
from quizzes.bank_themes import bank_theme, campaign_theme
from quizzes.campaigns import SpecProblem, campaign_spec_from_mapping
from quizzes.engine import Feedback
from quizzes.participants import Participant
from quizzes.permissions import Permissions
from quizzes.publicity import Audience
from quizzes.themes import Theme

__all__ = ["CampaignDraft", "Setup", "SetupCb", "create_router"]

EXAMPLE_TIME = "2026-12-01 08:00"
TIME_FORMAT = "%Y-%m-%d %H:%M"
MAX_QUESTIONS = 200  # the spec's limit for ``questions``
NONE_WORDS = frozenset({"none", "no", "-", "无", "不限", "不限时", "不设", "不设优秀"})
NOW_WORDS = frozenset({"now", "现在", "立即", "立即开始"})
# The level buttons: 0 is 全部 (no level), then each level by its number.
LEVELS = tuple(Level)


class Setup(StatesGroup):
    name = State()
    banks = State()
    level = State()
    theme = State()
    questions = State()
    time_per_question = State()
    time_per_attempt = State()
    attempts = State()
    pass_mark = State()
    distinction = State()
    feedback = State()
    partial_credit = State()
    opens = State()
    closes = State()
    audience = State()
    certificate = State()
    confirm = State()


on_leaving(Setup, "campaign.setup.cancelled")

ORDER: tuple[State, ...] = (
    Setup.name,
    Setup.banks,
    Setup.level,
    Setup.theme,
    Setup.questions,
    Setup.time_per_question,
    Setup.time_per_attempt,
    Setup.attempts,
    Setup.pass_mark,
    Setup.distinction,
    Setup.feedback,
    Setup.partial_credit,
    Setup.opens,
    Setup.closes,
    Setup.audience,
    Setup.certificate,
    Setup.confirm,
)

# Steps answered by typing; each is named after the spec key it fills.
TEXT_STEPS = (
    Setup.name,
    Setup.questions,
    Setup.time_per_question,
    Setup.time_per_attempt,
    Setup.attempts,
    Setup.pass_mark,
    Setup.distinction,
    Setup.opens,
    Setup.closes,
)

# Steps answered with a whole number, and those of them that may be left unset ("none").
NUMBER_KEYS = frozenset(
    {"questions", "attempts", "pass_mark", "distinction", "time_per_question", "time_per_attempt"}
)
NONE_KEYS = frozenset({"distinction", "time_per_question", "time_per_attempt"})

FEEDBACKS = (Feedback.EACH, Feedback.END)


def _short(step: State | str | None) -> str:
    """``"Setup:opens"`` -> ``"opens"``."""
    name = step.state if isinstance(step, State) else step
    return (name or "").rpartition(":")[2]


class SetupCb(CallbackData, prefix="cs"):
    """A button of /newcampaign: ``action`` with an id (bank, level or choice index)."""

    token: str
    action: str
    id: int = 0


class CampaignDraft(DialogueState):
    """The answers so far: ``spec`` is the mapping a campaign YAML file holds (checked by
    its parser); the banks ticked, the questions they hold, and the dialogue's token."""

    key = "campaign"

    token: str = ""
    spec: dict[str, Any] = Field(default_factory=dict)
    bank_ids: list[int] = Field(default_factory=list)
    pool: int = 0
    theme: Theme | None = None  # what it is about (None: its banks', as the use case says)
    usual: Theme | None = None  # the banks' theme, marked among the choices
    suggested: Theme | None = None  # a key date's theme (its reminder's button), marked first


class ThisDialogue(Filter):
    """The button carries the token of the dialogue open now (not an older one's)."""

    async def __call__(self, callback: CallbackQuery, state: FSMContext) -> bool:
        try:
            pressed = SetupCb.unpack(callback.data or "")
        except (TypeError, ValueError):
            return False
        draft = await CampaignDraft.load(state)
        return bool(draft.token) and pressed.token == draft.token


# ---------------------------------------------------------------------- checking


def describe(problems: list[SpecProblem], _: Gettext) -> str:
    return "\n".join(
        _("campaign.setup.invalid", message=_.plain(f"campaign.problem.{p.code}", **p.params))
        for p in problems
    )


def _number(text: str) -> int | str:
    """A whole number, or the text itself for the spec parser to refuse."""
    try:
        return int(text)
    except ValueError:
        return text


def _local(moment: datetime, settings: Settings) -> str:
    return f"{moment.astimezone(settings.zone):{TIME_FORMAT}}"


def _now_text(settings: Settings, clock: Clock) -> str:
    """The present moment as a spec file would write it, to the second."""
    return f"{clock().astimezone(settings.zone):%Y-%m-%d %H:%M:%S}"


# ---------------------------------------------------------------------- keyboards

Rows = list[list[InlineKeyboardButton]]


def _button(text: str, token: str, action: str, id: int = 0) -> InlineKeyboardButton:
    data = SetupCb(token=token, action=action, id=id).pack()
    return InlineKeyboardButton(text=text, callback_data=data)


def _ticked(text: str, chosen: bool) -> str:
    return f"✅ {text}" if chosen else text


async def _banks_rows(draft: CampaignDraft, uow: UnitOfWork, _: Gettext) -> Rows:
    rows = []
    for bank in await banks_on_offer(uow):
        label = _.plain("campaign.setup.bank_button", name=bank.name, count=bank.question_count)
        chosen = bank.id in draft.bank_ids
        rows.append([_button(_ticked(label, chosen), draft.token, "bank", bank.id)])
    return [*rows, [_button(_.plain("campaign.setup.done"), draft.token, "banks_done")]]


async def _level_rows(draft: CampaignDraft, uow: UnitOfWork, _: Gettext) -> Rows:
    buttons = [_button(_.plain("campaign.setup.level_all"), draft.token, "level", 0)]
    for level in LEVELS:
        text = _.plain(f"campaign.level.{level.name.lower()}")
        buttons.append(_button(text, draft.token, "level", level))
    return [buttons[:2], buttons[2:]]


async def _theme_rows(draft: CampaignDraft, uow: UnitOfWork, _: Gettext) -> Rows:
    rows = themes_keyboard(draft.usual, _).inline_keyboard
    return [row for row in rows if row]


async def _no_limit_rows(draft: CampaignDraft, uow: UnitOfWork, _: Gettext) -> Rows:
    return [[_button(_.plain("campaign.setup.no_limit"), draft.token, "no_limit")]]


async def _no_distinction_rows(draft: CampaignDraft, uow: UnitOfWork, _: Gettext) -> Rows:
    return [[_button(_.plain("campaign.setup.no_distinction"), draft.token, "no_distinction")]]


async def _feedback_rows(draft: CampaignDraft, uow: UnitOfWork, _: Gettext) -> Rows:
    return [
        [
            _button(_.plain(f"campaign.setup.feedback_{f.value}"), draft.token, "feedback", i)
            for i, f in enumerate(FEEDBACKS)
        ]
    ]


async def _partial_rows(draft: CampaignDraft, uow: UnitOfWork, _: Gettext) -> Rows:
    return [
        [
            _button(_.plain("campaign.setup.partial_no"), draft.token, "partial", 0),
            _button(_.plain("campaign.setup.partial_yes"), draft.token, "partial", 1),
        ]
    ]


async def _now_rows(draft: CampaignDraft, uow: UnitOfWork, _: Gettext) -> Rows:
    return [[_button(_.plain("campaign.setup.now"), draft.token, "now")]]


async def _certificate_rows(draft: CampaignDraft, uow: UnitOfWork, _: Gettext) -> Rows:
    return [
        [
            _button(_.plain("campaign.setup.yes"), draft.token, "certificate", 1),
            _button(_.plain("campaign.setup.no"), draft.token, "certificate", 0),
        ]
    ]


async def _confirm_rows(draft: CampaignDraft, uow: UnitOfWork, _: Gettext) -> Rows:
    return [[_button(_.plain("campaign.setup.confirm"), draft.token, "confirm")]]


# The buttons of each step that has some, by its name (the picker draws the audience's).
BUTTONS: dict[str, Callable[[CampaignDraft, UnitOfWork, Gettext], Awaitable[Rows]]] = {
    "banks": _banks_rows,
    "level": _level_rows,
    "theme": _theme_rows,
    "time_per_question": _no_limit_rows,
    "time_per_attempt": _no_limit_rows,
    "distinction": _no_distinction_rows,
    "feedback": _feedback_rows,
    "partial_credit": _partial_rows,
    "opens": _now_rows,
    "certificate": _certificate_rows,
    "confirm": _confirm_rows,
}


async def _keyboard(
    step: State, draft: CampaignDraft, uow: UnitOfWork, _: Gettext
) -> InlineKeyboardMarkup:
    """The step's own buttons, then 返回 (but on the first step) and 取消."""
    own = BUTTONS.get(_short(step))
    rows = await own(draft, uow, _) if own is not None else []
    last = [leave_button(_)] if step == ORDER[0] else [back_button(_), leave_button(_)]
    return InlineKeyboardMarkup(inline_keyboard=[*rows, last])


# ---------------------------------------------------------------------- asking


def _prompt(step: State, draft: CampaignDraft, _: Gettext) -> str:
    if step == Setup.questions:
        return _(
            "campaign.setup.ask_questions", pool=draft.pool, max=min(draft.pool, MAX_QUESTIONS)
        )
    if step in (Setup.opens, Setup.closes):
        return _(f"campaign.setup.ask_{_short(step)}", example=EXAMPLE_TIME)
    return _(f"campaign.setup.ask_{_short(step)}")


async def _ask(
    step: State,
    say: Say,
    state: FSMContext,
    uow: UnitOfWork,
    settings: Settings,
    _: Gettext,
    *,
    before: str = "",
) -> None:
    """Ask ``step`` (not the audience: the picker asks that)."""
    await state.set_state(step)
    draft = await CampaignDraft.load(state)
    if step == Setup.confirm:
        text = await _summary(draft, settings, _)
    else:
        text = _prompt(step, draft, _)
    if before:
        text = f"{before}\n\n{text}"
    await say(text, await _keyboard(step, draft, uow, _))


def _asker(step: State) -> Callable[..., Awaitable[None]]:
    """Asks ``step`` again (返回 from the step after it)."""

    async def ask(
        say: Say, state: FSMContext, uow: UnitOfWork, settings: Settings, _: Gettext
    ) -> None:
        await _ask(step, say, state, uow, settings, _)

    return ask


async def _next(
    current: State,
    say: Say,
    state: FSMContext,
    uow: UnitOfWork,
    settings: Settings,
    participant: Participant,
    permissions: Permissions,
    _: Gettext,
) -> None:
    """The step after ``current``: the audience with the picker, any other by ``_ask``."""
    following = ORDER[ORDER.index(current) + 1]
    if following == Setup.audience:
        await PICKER.open(say, state, uow, participant, permissions, _)
    else:
        await _ask(following, say, state, uow, settings, _)


async def _summary(draft: CampaignDraft, settings: Settings, _: Gettext) -> str:
    spec = campaign_spec_from_mapping(draft.spec, settings.zone)
    theme = draft.theme or draft.usual or Theme.OTHER
    rules = spec.rules

    def seconds(value: int | None) -> str:
        if value is None:
            return _.plain("campaign.setup.unlimited")
        return _.plain("campaign.setup.seconds", seconds=value)

    names = list(spec.unit_names)
    audience = _.join(names) if names else _.plain("campaign.setup.everyone")
    if spec.roles:
        audience += " · " + _.join(_.plain(f"role.{r.value}") for r in spec.roles)
    yes_no = {True: _.plain("campaign.setup.yes"), False: _.plain("campaign.setup.no")}
    partial = "partial_yes" if rules.partial_credit else "partial_no"
    level = (
        _.plain(f"campaign.level.{rules.level.name.lower()}")
        if rules.level is not None
        else _.plain("campaign.setup.level_all")
    )
    return _(
        "campaign.setup.summary",
        name=spec.name,
        banks=_.join(spec.bank_names),
        level=level,
        theme=_.plain(f"activity.theme.{theme.value}"),
        pool=draft.pool,
        questions=rules.questions,
        per_question=seconds(rules.seconds_per_question),
        per_attempt=seconds(rules.seconds_per_attempt),
        attempts=rules.attempts_allowed,
        pass_mark=rules.pass_mark,
        distinction=(
            _.plain("campaign.setup.distinction_mark", mark=rules.distinction)
            if rules.distinction is not None
            else _.plain("campaign.setup.no_distinction")
        ),
        feedback=_.plain(f"campaign.setup.feedback_{rules.feedback.value}"),
        partial=_.plain(f"campaign.setup.{partial}"),
        opens=_local(spec.opens_at, settings),
        closes=_local(spec.closes_at, settings),
        audience=audience,
        certificate=yes_no[rules.certificate],
    )


# ---------------------------------------------------------------------- typing


async def start_setup(
    message: Message,
    permissions: Permissions,
    uow: UnitOfWork,
    state: FSMContext,
    settings: Settings,
    bot: Bot,
    _: Gettext,
    usual: Theme | None = None,
) -> None:
    """``permissions``: those of whoever asked (admins only reach here); ``usual``: the
    theme to mark (a key date's reminder)."""
    await state.clear()
    if not await banks_on_offer(uow):
        await message.answer(_("campaign.setup.no_banks"))
        return
    await CampaignDraft(token=secrets.token_urlsafe(6), suggested=usual).save(state)
    await _ask(Setup.name, replier(bot, message.chat.id, None), state, uow, settings, _)


async def refuse_setup(message: Message, _: Gettext) -> None:
    await message.answer(_("errors.admins_only"))


async def not_text(message: Message, _: Gettext) -> None:
    await message.answer(_("campaign.setup.use_buttons"))


async def receive_text(
    message: Message,
    participant: Participant,
    permissions: Permissions,
    uow: UnitOfWork,
    state: FSMContext,
    settings: Settings,
    clock: Clock,
    bot: Bot,
    _: Gettext,
) -> None:
    current = _step(await state.get_state())
    key = _short(current)
    draft = await CampaignDraft.load(state)
    raw = dict(draft.spec)
    text = (message.text or "").strip()
    value: object = text
    if key in NUMBER_KEYS:
        value = None if key in NONE_KEYS and text.lower() in NONE_WORDS else _number(text)
    elif key == "opens" and text.lower() in NOW_WORDS:
        value = _now_text(settings, clock)
    raw[key] = value
    problems = await answer_problems(
        uow, key, raw, pool=draft.pool, zone=settings.zone, clock=clock
    )
    say = replier(bot, message.chat.id, None)
    if problems:  # the same step again, with what was wrong
        await _ask(current, say, state, uow, settings, _, before=describe(problems, _))
        return
    draft.spec = raw
    await draft.save(state)
    await _next(current, say, state, uow, settings, participant, permissions, _)


def _step(name: str | None) -> State:
    return next(s for s in ORDER if s.state == name)


# ---------------------------------------------------------------------- the buttons


async def _answered(
    key: str,
    value: object,
    callback: CallbackQuery,
    draft: CampaignDraft,
    state: FSMContext,
    uow: UnitOfWork,
    *,
    settings: Settings,
    bot: Bot,
    participant: Participant,
    permissions: Permissions,
    _: Gettext,
    **_unused: Any,
) -> None:
    """A step answered with a button: keep the answer, ask the next step (``_unused``:
    what else the pressed button's handler was given)."""
    draft.spec = {**draft.spec, key: value}
    await draft.save(state)
    await callback.answer()
    message = callback.message if isinstance(callback.message, Message) else None
    say = replier(bot, callback.from_user.id, message)
    current = _step(await state.get_state())
    await _next(current, say, state, uow, settings, participant, permissions, _)


async def tick_bank(
    callback: CallbackQuery,
    callback_data: SetupCb,
    state: FSMContext,
    uow: UnitOfWork,
    _: Gettext,
) -> None:
    if callback_data.id not in {bank.id for bank in await banks_on_offer(uow)}:
        await callback.answer(_.plain("errors.stale_button"))
        return
    draft = await CampaignDraft.load(state)
    if callback_data.id in draft.bank_ids:
        draft.bank_ids.remove(callback_data.id)
    else:
        draft.bank_ids.append(callback_data.id)
    await draft.save(state)
    await callback.answer()
    if isinstance(callback.message, Message):
        markup = await _keyboard(Setup.banks, draft, uow, _)
        await callback.message.edit_reply_markup(reply_markup=markup)


async def banks_done(
    callback: CallbackQuery, state: FSMContext, uow: UnitOfWork, _: Gettext, **data: Any
) -> None:
    draft = await CampaignDraft.load(state)
    choice = await chosen_banks(uow, draft.bank_ids)
    if not choice.banks:
        await callback.answer(_.plain("campaign.setup.choose_bank"), show_alert=True)
        return
    draft.pool = choice.pool
    banks_theme = campaign_theme(bank_theme(b.name, b.source_filename) for b in choice.banks)
    draft.usual = draft.suggested or banks_theme
    names = [bank.name for bank in choice.banks]
    await _answered("banks", names, callback, draft, state, uow, _=_, **data)


async def choose_level(
    callback: CallbackQuery,
    callback_data: SetupCb,
    state: FSMContext,
    uow: UnitOfWork,
    _: Gettext,
    **data: Any,
) -> None:
    if callback_data.id != 0 and callback_data.id not in set(LEVELS):
        await callback.answer(_.plain("errors.stale_button"))
        return
    # The pool is now what a campaign for this level may draw.
    level = Level(callback_data.id) if callback_data.id else None
    draft = await CampaignDraft.load(state)
    draft.pool = (await chosen_banks(uow, draft.bank_ids, level)).pool
    label = level.label if level is not None else None
    await _answered("level", label, callback, draft, state, uow, _=_, **data)


async def choose_theme(
    callback: CallbackQuery,
    callback_data: ThemeCb,
    state: FSMContext,
    uow: UnitOfWork,
    settings: Settings,
    bot: Bot,
    participant: Participant,
    permissions: Permissions,
    _: Gettext,
) -> None:
    """What the campaign is about (not a spec key: the use case takes it apart)."""
    if callback_data.theme not in {theme.value for theme in Theme}:
        await callback.answer(_.plain("errors.stale_button"))
        return
    await callback.answer()
    draft = await CampaignDraft.load(state)
    draft.theme = Theme(callback_data.theme)
    await draft.save(state)
    message = callback.message if isinstance(callback.message, Message) else None
    say = replier(bot, callback.from_user.id, message)
    await _next(Setup.theme, say, state, uow, settings, participant, permissions, _)


async def no_limit(
    callback: CallbackQuery, state: FSMContext, uow: UnitOfWork, **data: Any
) -> None:
    """No limit for the time step at hand; no distinction mark."""
    key = _short(await state.get_state())
    draft = await CampaignDraft.load(state)
    await _answered(key, None, callback, draft, state, uow, **data)


async def choose_feedback(
    callback: CallbackQuery,
    callback_data: SetupCb,
    state: FSMContext,
    uow: UnitOfWork,
    _: Gettext,
    **data: Any,
) -> None:
    if not 0 <= callback_data.id < len(FEEDBACKS):
        await callback.answer(_.plain("errors.stale_button"))
        return
    draft = await CampaignDraft.load(state)
    value = FEEDBACKS[callback_data.id].value
    await _answered("feedback", value, callback, draft, state, uow, _=_, **data)


async def yes_or_no(
    callback: CallbackQuery,
    callback_data: SetupCb,
    state: FSMContext,
    uow: UnitOfWork,
    _: Gettext,
    **data: Any,
) -> None:
    """Partial credit, or a certificate: 1 yes, 0 no."""
    if callback_data.id not in (0, 1):
        await callback.answer(_.plain("errors.stale_button"))
        return
    key = _short(await state.get_state())
    draft = await CampaignDraft.load(state)
    await _answered(key, bool(callback_data.id), callback, draft, state, uow, _=_, **data)


async def open_now(
    callback: CallbackQuery,
    state: FSMContext,
    uow: UnitOfWork,
    settings: Settings,
    clock: Clock,
    **data: Any,
) -> None:
    draft = await CampaignDraft.load(state)
    now = _now_text(settings, clock)
    await _answered("opens", now, callback, draft, state, uow, settings=settings, **data)


async def audience_chosen(
    callback: CallbackQuery,
    audience: Audience,
    state: FSMContext,
    uow: UnitOfWork,
    settings: Settings,
    bot: Bot,
    participant: Participant,
    permissions: Permissions,
    _: Gettext,
) -> None:
    """The picker's last press: the audience as the spec names it (units by name)."""
    named = await named_units(uow, audience.unit_ids)
    if named.shared:  # a name the spec could not tell apart: choose above it
        pick = await Pick.load(state)
        pick.level = pick.came_from
        await pick.save(state)
        await bot.send_message(
            callback.from_user.id,
            _("campaign.setup.ambiguous_units", names=_.join(named.shared)),
        )
        await PICKER.reopen(
            replier(bot, callback.from_user.id, None), state, uow, participant, permissions, _
        )
        return
    roles = [role.value for role in ROLES if role in audience.roles]
    draft = await CampaignDraft.load(state)
    draft.spec = {**draft.spec, "audience": {"units": named.names, "roles": roles}}
    await draft.save(state)
    message = callback.message if isinstance(callback.message, Message) else None
    say = replier(bot, callback.from_user.id, message)
    await _ask(Setup.certificate, say, state, uow, settings, _)


async def confirm(
    callback: CallbackQuery,
    permissions: Permissions,
    uow: UnitOfWork,
    state: FSMContext,
    settings: Settings,
    clock: Clock,
    bot: Bot,
    _: Gettext,
    scheduler: Scheduler | None = None,
) -> None:
    await callback.answer()
    message = callback.message if isinstance(callback.message, Message) else None
    say = replier(bot, callback.from_user.id, message)
    draft = await CampaignDraft.load(state)
    await state.clear()
    created = await create_from_answers(
        uow,
        draft.spec,
        viewer=permissions,
        created_by=callback.from_user.id,
        zone=settings.zone,
        clock=clock,
        scheduler=scheduler,
        theme=draft.theme,
    )
    if isinstance(created, SetupRefusal):
        await say(_("errors.admins_only"), None)
        return
    if isinstance(created, CampaignNotCreated):
        lines = [_("campaign.setup.not_created")]
        lines += [
            _(
                "campaign.setup.problem_line",
                message=_.plain(f"campaign.problem.{p.code}", **p.params),
            )
            for p in created.problems
        ]
        await say("\n".join([*lines, "", _("campaign.setup.start_again")]), None)
        return
    campaign = created.campaign
    await say(
        _(
            "campaign.cli.created",
            id=campaign.id,
            name=campaign.name,
            opens=_local(campaign.opens_at, settings),
            closes=_local(campaign.closes_at, settings),
            pool=created.question_pool,
        ),
        None,
    )


async def _stale(callback: CallbackQuery, _: Gettext) -> None:
    await callback.answer(_.plain("errors.stale_button"))


PICKER = AudiencePicker(
    step=Setup.audience,
    ask="campaign.setup.ask_audience",
    finish=audience_chosen,
    rule=may_set_up_campaigns,
    back=_asker(Setup.closes),
)
for _before, _after in itertools.pairwise(ORDER):
    if _after != Setup.audience:  # the picker's own 返回 leads out of it
        on_back(_after, _before, PICKER.reopen if _before == Setup.audience else _asker(_before))


def create_router() -> Router:
    router = Router(name=__name__)
    admin = Allowed(may_set_up_campaigns)
    router.message.register(start_setup, Command("newcampaign"), F.chat.type == "private", admin)
    router.message.register(refuse_setup, Command("newcampaign"), F.chat.type == "private")

    def on(action: str, *steps: State) -> tuple[Any, ...]:
        return (SetupCb.filter(F.action == action), StateFilter(*steps), admin, ThisDialogue())

    register = router.callback_query.register
    register(tick_bank, *on("bank", Setup.banks))
    register(banks_done, *on("banks_done", Setup.banks))
    register(choose_level, *on("level", Setup.level))
    register(choose_theme, ThemeCb.filter(), StateFilter(Setup.theme), admin)
    register(no_limit, *on("no_limit", Setup.time_per_question, Setup.time_per_attempt))
    register(no_limit, *on("no_distinction", Setup.distinction))
    register(choose_feedback, *on("feedback", Setup.feedback))
    register(yes_or_no, *on("partial", Setup.partial_credit))
    register(open_now, *on("now", Setup.opens))
    register(yes_or_no, *on("certificate", Setup.certificate))
    register(confirm, *on("confirm", Setup.confirm))
    # A button of another step or dialogue (pressed late, or forged) changes nothing.
    register(_stale, SetupCb.filter())
    PICKER.attach(router)
    router.message.register(
        receive_text, StateFilter(*TEXT_STEPS), F.text, ~F.text.startswith("/"), admin
    )
    router.message.register(not_text, StateFilter(Setup), ~F.text.startswith("/"))
    return router
