"""/newcampaign: an admin sets up a quiz campaign in a short guided dialogue.

The answers are collected as the very mapping a campaign YAML file holds, and every step
is checked by the spec parser of :mod:`quizzes.campaigns` (the rules of
``pufa campaign create``, one definition): a bad answer gets that rule's message and the
step is asked again. Confirming creates the campaign through
:func:`bot.application.campaign_setup.create_from_answers`, like the CLI, and schedules
its jobs.

The step after the banks asks whom the campaign is for (全部, 小学, 初中 or 高中及教职工):
the draw then takes only the questions suiting that level, in the level's default mix of
易/中/难; another mix is set in the YAML file.

The FSM data holds the answers and a short token; the buttons carry the token and ids
only, and a press that does not fit the current step (stale, forged) changes nothing.
Draws per tag are left to the YAML file.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.application import Clock, UnitOfWork
from bot.application.campaign_setup import (
    CampaignNotCreated,
    SetupRefusal,
    answer_problems,
    audience_units,
    banks_on_offer,
    chosen_banks,
    create_from_answers,
    may_set_up_campaigns,
)
from bot.config import Settings
from bot.i18n import Gettext
from bot.scheduler import Scheduler
from handlers.dialogue import Say, on_leaving, replier
from quizzes.bank import Level
from quizzes.campaigns import SpecProblem, campaign_spec_from_mapping
from quizzes.engine import Feedback
from quizzes.participants import Role
from quizzes.permissions import Permissions

__all__ = ["Setup", "SetupCb", "create_router"]

EXAMPLE_TIME = "2026-12-01 08:00"
TIME_FORMAT = "%Y-%m-%d %H:%M"
MAX_QUESTIONS = 200  # the spec's limit for ``questions``
NONE_WORDS = frozenset({"none", "no", "-", "无", "不限", "不限时", "不设", "不设优秀"})
NOW_WORDS = frozenset({"now", "现在", "立即", "立即开始"})
ROLES = tuple(Role)
# The level buttons: 0 is 全部 (no level), then each level by its number.
LEVELS = tuple(Level)


class Setup(StatesGroup):
    name = State()
    banks = State()
    level = State()
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
TEXT_KEYS = frozenset(
    {
        "name",
        "questions",
        "time_per_question",
        "time_per_attempt",
        "attempts",
        "pass_mark",
        "distinction",
        "opens",
        "closes",
    }
)

# Steps answered with a whole number, and those of them that may be left unset ("none").
NUMBER_KEYS = frozenset(
    {"questions", "attempts", "pass_mark", "distinction", "time_per_question", "time_per_attempt"}
)
NONE_KEYS = frozenset({"distinction", "time_per_question", "time_per_attempt"})

# Which step each button belongs to; a press at any other step is stale.
ACTION_STEPS: dict[str, tuple[State, ...]] = {
    "bank": (Setup.banks,),
    "banks_done": (Setup.banks,),
    "level": (Setup.level,),
    "no_limit": (Setup.time_per_question, Setup.time_per_attempt),
    "no_distinction": (Setup.distinction,),
    "feedback": (Setup.feedback,),
    "partial": (Setup.partial_credit,),
    "now": (Setup.opens,),
    "unit": (Setup.audience,),
    "role": (Setup.audience,),
    "audience_done": (Setup.audience,),
    "certificate": (Setup.certificate,),
    "confirm": (Setup.confirm,),
    "cancel": ORDER,
}

FEEDBACKS = (Feedback.EACH, Feedback.END)


def _short(step: State | str | None) -> str:
    """``"Setup:opens"`` -> ``"opens"``."""
    name = step.state if isinstance(step, State) else step
    return (name or "").rpartition(":")[2]


class SetupCb(CallbackData, prefix="cs"):
    """A button of /newcampaign: ``action`` with an id (bank, unit, role or choice index)."""

    token: str
    action: str
    id: int = 0


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


def _button(
    builder: InlineKeyboardBuilder, text: str, token: str, action: str, id: int = 0
) -> None:
    builder.button(text=text, callback_data=SetupCb(token=token, action=action, id=id))


def _cancel_row(builder: InlineKeyboardBuilder, token: str, _: Gettext) -> None:
    _button(builder, _.plain("campaign.setup.cancel"), token, "cancel")


def _ticked(text: str, chosen: bool) -> str:
    return f"✅ {text}" if chosen else text


async def _keyboard(
    step: State, data: dict[str, Any], uow: UnitOfWork, _: Gettext
) -> InlineKeyboardMarkup | None:
    token = str(data["token"])
    builder = InlineKeyboardBuilder()
    widths: list[int] = []
    if step == Setup.banks:
        chosen = set(data.get("bank_ids") or [])
        for bank in await banks_on_offer(uow):
            label = _.plain(
                "campaign.setup.bank_button", name=bank.name, count=bank.question_count
            )
            _button(builder, _ticked(label, bank.id in chosen), token, "bank", bank.id)
            widths.append(1)
        _button(builder, _.plain("campaign.setup.done"), token, "banks_done")
        widths.append(1)
    elif step == Setup.level:
        _button(builder, _.plain("campaign.setup.level_all"), token, "level", 0)
        for level in LEVELS:
            _button(
                builder, _.plain(f"campaign.level.{level.name.lower()}"), token, "level", level
            )
        widths += [2, 2]
    elif step in (Setup.time_per_question, Setup.time_per_attempt):
        _button(builder, _.plain("campaign.setup.no_limit"), token, "no_limit")
        widths.append(1)
    elif step == Setup.distinction:
        _button(builder, _.plain("campaign.setup.no_distinction"), token, "no_distinction")
        widths.append(1)
    elif step == Setup.feedback:
        for index, feedback in enumerate(FEEDBACKS):
            _button(
                builder,
                _.plain(f"campaign.setup.feedback_{feedback.value}"),
                token,
                "feedback",
                index,
            )
        widths.append(2)
    elif step == Setup.partial_credit:
        _button(builder, _.plain("campaign.setup.partial_no"), token, "partial", 0)
        _button(builder, _.plain("campaign.setup.partial_yes"), token, "partial", 1)
        widths.append(2)
    elif step == Setup.opens:
        _button(builder, _.plain("campaign.setup.now"), token, "now")
        widths.append(1)
    elif step == Setup.audience:
        units = set(data.get("unit_ids") or [])
        roles = set(data.get("roles") or [])
        top = await audience_units(uow)
        for unit in top:
            _button(builder, _ticked(unit.name, unit.id in units), token, "unit", unit.id)
        widths += [2] * ((len(top) + 1) // 2)
        for index, role in enumerate(ROLES):
            label = _ticked(_.plain(f"role.{role.value}"), role.value in roles)
            _button(builder, label, token, "role", index)
        widths.append(len(ROLES))
        _button(builder, _.plain("campaign.setup.done"), token, "audience_done")
        widths.append(1)
    elif step == Setup.certificate:
        _button(builder, _.plain("campaign.setup.yes"), token, "certificate", 1)
        _button(builder, _.plain("campaign.setup.no"), token, "certificate", 0)
        widths.append(2)
    elif step == Setup.confirm:
        _button(builder, _.plain("campaign.setup.confirm"), token, "confirm")
        widths.append(1)
    if step == Setup.confirm:
        _cancel_row(builder, token, _)
        widths[-1] += 1
    else:
        _cancel_row(builder, token, _)
        widths.append(1)
    if not widths:
        return None
    builder.adjust(*widths)
    return builder.as_markup()


# ---------------------------------------------------------------------- asking


def _prompt(step: State, data: dict[str, Any], _: Gettext) -> str:
    if step == Setup.questions:
        pool = int(data.get("pool") or 0)
        return _("campaign.setup.ask_questions", pool=pool, max=min(pool, MAX_QUESTIONS))
    if step in (Setup.opens, Setup.closes):
        return _(f"campaign.setup.ask_{_short(step)}", example=EXAMPLE_TIME)
    if step == Setup.confirm:
        raise AssertionError("the summary is rendered by _summary")
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
    await state.set_state(step)
    data = await state.get_data()
    if step == Setup.confirm:
        text = await _summary(data, uow, settings, _)
    else:
        text = _prompt(step, data, _)
    if before:
        text = f"{before}\n\n{text}"
    await say(text, await _keyboard(step, data, uow, _))


def _following(step: str | None) -> State:
    names = [s.state for s in ORDER]
    return ORDER[names.index(step) + 1] if step in names else ORDER[0]


async def _summary(data: dict[str, Any], uow: UnitOfWork, settings: Settings, _: Gettext) -> str:
    raw: dict[str, Any] = data["spec"]
    spec = campaign_spec_from_mapping(raw, settings.zone)
    rules = spec.rules

    def seconds(value: int | None) -> str:
        if value is None:
            return _.plain("campaign.setup.unlimited")
        return _.plain("campaign.setup.seconds", seconds=value)

    chosen = set(data.get("unit_ids") or [])
    units = [u.name for u in await audience_units(uow) if u.id in chosen]
    audience = _.join(units) if units else _.plain("campaign.setup.everyone")
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
        pool=int(data.get("pool") or 0),
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


# ---------------------------------------------------------------------- handlers


async def start_setup(
    message: Message,
    permissions: Permissions,
    uow: UnitOfWork,
    state: FSMContext,
    settings: Settings,
    bot: Bot,
    _: Gettext,
) -> None:
    if not may_set_up_campaigns(permissions):
        await message.answer(_("errors.admins_only"))
        return
    await state.clear()
    if not await banks_on_offer(uow):
        await message.answer(_("campaign.setup.no_banks"))
        return
    await state.set_data({"token": secrets.token_urlsafe(6), "spec": {}})
    await _ask(Setup.name, replier(bot, message.chat.id, None), state, uow, settings, _)


async def not_text(message: Message, _: Gettext) -> None:
    await message.answer(_("campaign.setup.use_buttons"))


async def receive_text(
    message: Message,
    permissions: Permissions,
    uow: UnitOfWork,
    state: FSMContext,
    settings: Settings,
    clock: Clock,
    bot: Bot,
    _: Gettext,
) -> None:
    current = await state.get_state()
    key = _short(current)
    if not may_set_up_campaigns(permissions) or key not in TEXT_KEYS:
        await state.clear()
        await message.answer(_("errors.admins_only"))
        return
    data = await state.get_data()
    raw: dict[str, Any] = dict(data["spec"])
    text = (message.text or "").strip()
    value: object = text
    if key in NUMBER_KEYS:
        value = None if key in NONE_KEYS and text.lower() in NONE_WORDS else _number(text)
    elif key == "opens" and text.lower() in NOW_WORDS:
        value = _now_text(settings, clock)
    raw[key] = value
    problems = await answer_problems(
        uow, key, raw, pool=int(data.get("pool") or 0), zone=settings.zone, clock=clock
    )
    say = replier(bot, message.chat.id, None)
    if problems:  # the same step again, with what was wrong
        await _ask(_step(current), say, state, uow, settings, _, before=describe(problems, _))
        return
    await state.update_data(spec=raw)
    await _ask(_following(current), say, state, uow, settings, _)


def _step(name: str | None) -> State:
    return next(s for s in ORDER if s.state == name)


async def press(
    callback: CallbackQuery,
    callback_data: SetupCb,
    permissions: Permissions,
    uow: UnitOfWork,
    state: FSMContext,
    settings: Settings,
    clock: Clock,
    bot: Bot,
    _: Gettext,
    scheduler: Scheduler | None = None,
) -> None:
    data: dict[str, Any] = await state.get_data()
    current = await state.get_state()
    steps = ACTION_STEPS.get(callback_data.action, ())
    if (
        not may_set_up_campaigns(permissions)
        or data.get("token") != callback_data.token
        or current not in {s.state for s in steps}
    ):
        await callback.answer(_.plain("errors.stale_button"))
        return
    message = callback.message if isinstance(callback.message, Message) else None
    say = replier(bot, callback.from_user.id, message)
    step = _step(current)
    raw: dict[str, Any] = dict(data["spec"])
    action, item = callback_data.action, callback_data.id

    async def toggled(field: str, value: int | str) -> None:
        chosen = list(data.get(field) or [])
        if value in chosen:
            chosen.remove(value)
        else:
            chosen.append(value)
        data[field] = chosen
        await state.update_data({field: chosen})
        await callback.answer()
        if message is not None:
            await message.edit_reply_markup(reply_markup=await _keyboard(step, data, uow, _))

    async def answered(key: str, value: object) -> None:
        raw[key] = value
        await state.update_data(spec=raw)
        await callback.answer()
        await _ask(_following(current), say, state, uow, settings, _)

    if action == "cancel":
        await state.clear()
        await callback.answer()
        await say(_("campaign.setup.cancelled"), None)
    elif action == "bank":
        if item not in {bank.id for bank in await banks_on_offer(uow)}:
            await callback.answer(_.plain("errors.stale_button"))
            return
        await toggled("bank_ids", item)
    elif action == "banks_done":
        choice = await chosen_banks(uow, data.get("bank_ids") or [])
        if not choice.banks:
            await callback.answer(_.plain("campaign.setup.choose_bank"), show_alert=True)
            return
        await state.update_data(pool=choice.pool)
        await answered("banks", [bank.name for bank in choice.banks])
    elif action == "level" and (item == 0 or item in set(LEVELS)):
        # The pool is now what a campaign for this level may draw.
        level = Level(item) if item else None
        choice = await chosen_banks(uow, data.get("bank_ids") or [], level)
        await state.update_data(pool=choice.pool)
        await answered("level", level.label if level is not None else None)
    elif action in ("no_limit", "no_distinction"):
        await answered(_short(step), None)
    elif action == "feedback" and 0 <= item < len(FEEDBACKS):
        await answered("feedback", FEEDBACKS[item].value)
    elif action == "partial" and item in (0, 1):
        await answered("partial_credit", bool(item))
    elif action == "now":
        await answered("opens", _now_text(settings, clock))
    elif action == "unit":
        if item not in {unit.id for unit in await audience_units(uow)}:
            await callback.answer(_.plain("errors.stale_button"))
            return
        await toggled("unit_ids", item)
    elif action == "role" and 0 <= item < len(ROLES):
        await toggled("roles", ROLES[item].value)
    elif action == "audience_done":
        chosen = set(data.get("unit_ids") or [])
        names = [unit.name for unit in await audience_units(uow) if unit.id in chosen]
        roles = [role.value for role in ROLES if role.value in set(data.get("roles") or [])]
        await answered("audience", {"units": names, "roles": roles})
    elif action == "certificate" and item in (0, 1):
        await answered("certificate", bool(item))
    elif action == "confirm":
        await callback.answer()
        await _create(
            say, raw, uow, state, settings, clock, _, scheduler, permissions, callback.from_user.id
        )
    else:
        await callback.answer(_.plain("errors.stale_button"))


async def _create(
    say: Say,
    raw: dict[str, Any],
    uow: UnitOfWork,
    state: FSMContext,
    settings: Settings,
    clock: Clock,
    _: Gettext,
    scheduler: Scheduler | None,
    permissions: Permissions,
    user_id: int,
) -> None:
    await state.clear()
    created = await create_from_answers(
        uow,
        raw,
        viewer=permissions,
        created_by=user_id,
        zone=settings.zone,
        clock=clock,
        scheduler=scheduler,
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


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(start_setup, Command("newcampaign"), F.chat.type == "private")
    router.callback_query.register(press, SetupCb.filter())
    router.message.register(
        receive_text,
        StateFilter(*(s for s in ORDER if _short(s) in TEXT_KEYS)),
        F.text,
        ~F.text.startswith("/"),
    )
    router.message.register(not_text, StateFilter(Setup), ~F.text.startswith("/"))
    return router
