"""The audience picker every dialogue shares: everyone / regiments / schools / classes,
then the roles, scoped by the presser's grants (the bureau the tree, a coordinator their
schools, a teacher their class).

A dialogue builds one :class:`AudiencePicker` for its step and ``attach``-es it to its
router: each button action (``bot.views.audience``) gets its own handler, chosen by its
``CallbackData`` filter, the dialogue's step and the picker's own question
(:class:`At`). The picker's answers are a typed :class:`Pick` in the FSM data. When the
choice is made it calls the dialogue's ``finish`` with the :class:`Audience` chosen;
返回 on its first question calls the dialogue's ``back``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from aiogram import Bot, Router
from aiogram.dispatcher.event.handler import CallableObject
from aiogram.filters import Filter, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from pydantic import Field

from bot.application import UnitOfWork
from bot.application.audience import (
    UNIT_LEVELS,
    Level,
    Scope,
    UnitRefusal,
    chosen_labels,
    labels_of,
    pick_refusal,
    picker_scope,
    units_at,
)
from bot.application.publicity import may_address_everyone
from bot.i18n import Gettext
from bot.views.audience import (
    PER_PAGE,
    ROLES,
    BackCb,
    DoneCb,
    EveryoneCb,
    LevelCb,
    OpenCb,
    OwnCb,
    PageCb,
    RoleCb,
    UnitCb,
    roles_keyboard,
    top_keyboard,
    units_keyboard,
)
from handlers.dialogue import Asker, DialogueState, Say, leave_button, replier
from handlers.rights import Allowed
from quizzes.participants import Participant, Role
from quizzes.permissions import Permissions
from quizzes.publicity import Audience

__all__ = ["At", "AudiencePicker", "Pick"]


class Pick(DialogueState):
    """The picker's answers so far and the question it is at."""

    key = "audience"

    level: Level = Level.TOP
    school: int = 0  # choosing classes: whose (0: the schools first)
    page: int = 0
    units: list[int] = Field(default_factory=list)
    roles: list[Role] = Field(default_factory=list)
    everyone: bool = False  # "everyone" was chosen
    came_from: Level = Level.TOP  # what 返回 from the roles goes back to

    @property
    def audience(self) -> Audience:
        return Audience(frozenset(self.units), frozenset(self.roles))


class At(Filter):
    """Passes when the picker is at one of ``levels``."""

    def __init__(self, *levels: Level) -> None:
        self.levels = levels

    async def __call__(self, event: object, state: FSMContext) -> bool:
        return (await Pick.load(state)).level in self.levels


def _say(callback: CallbackQuery, bot: Bot) -> Say:
    message = callback.message if isinstance(callback.message, Message) else None
    return replier(bot, callback.from_user.id, message)


@dataclass(frozen=True)
class AudiencePicker:
    """The picker as one dialogue's step ``step`` uses it.

    ``ask``: the catalog key of the first question; ``many``: several units (an audience)
    or one (an organiser, chosen by a press); ``roles``: ask the roles after the units;
    ``everyone``: offer "everyone" to the bureau; ``teachers``: a teacher may choose
    their own class; ``ask_bureau``: the first question for the bureau when it differs
    (it may also type a name, say); ``regiments``: offer the regiments; ``rule``: who
    may press at all;
    ``finish(callback, audience, ...)`` takes the choice; ``back`` asks the dialogue's
    step before (None: no 返回 on the first question).
    """

    step: State
    ask: str
    finish: Asker
    rule: Callable[[Permissions], bool]
    back: Asker | None = None
    many: bool = True
    roles: bool = True
    everyone: bool = True
    teachers: bool = False
    ask_bureau: str = ""  # the first question for the bureau, when it differs
    regiments: bool = True  # offer the regiments (an activity is a school's or a class's)

    # ------------------------------------------------------------------ asking

    async def open(
        self,
        say: Say,
        state: FSMContext,
        uow: UnitOfWork,
        participant: Participant,
        permissions: Permissions,
        _: Gettext,
    ) -> Scope:
        """Ask the first question afresh; its scope (``empty``: nothing to offer, and
        nothing was said). When the scope is one unit of one's own and nothing else,
        that unit is taken: for one unit the dialogue goes on by itself (``own`` in the
        scope returned, no level), for an audience the roles are asked."""
        scope = await self._scope(uow, participant, permissions)
        pick = Pick()
        await state.set_state(self.step)
        only_own = scope.own is not None and not scope.levels and not self._everyone(scope)
        if scope.empty or (only_own and not self.many):
            await pick.save(state)
            return scope
        if only_own and scope.own is not None:
            pick.units = [scope.own.id]
            await self._after_units(pick, say, state, uow, _)
            return scope
        await pick.save(state)
        await say(_(self._ask(scope)), self._top(scope, _))
        return scope

    async def reopen(
        self,
        say: Say,
        state: FSMContext,
        uow: UnitOfWork,
        participant: Participant,
        permissions: Permissions,
        _: Gettext,
    ) -> None:
        """Ask again the question the picker was at (返回 from the dialogue's next step)."""
        await state.set_state(self.step)
        pick = await Pick.load(state)
        await self._show(
            pick, say, state, uow, _, permissions=permissions, participant=participant
        )

    async def _scope(
        self, uow: UnitOfWork, participant: Participant, permissions: Permissions
    ) -> Scope:
        """What the presser may choose from here (without regiments where they are none
        of this dialogue's)."""
        scope = await picker_scope(uow, participant, permissions, teachers=self.teachers)
        if self.regiments:
            return scope
        return replace(scope, levels=tuple(lv for lv in scope.levels if lv is not Level.REGIMENTS))

    def _ask(self, scope: Scope) -> str:
        return self.ask_bureau if self.ask_bureau and scope.everyone else self.ask

    def _everyone(self, scope: Scope) -> bool:
        return self.everyone and self.many and scope.everyone

    def _top(self, scope: Scope, _: Gettext) -> InlineKeyboardMarkup:
        return top_keyboard(
            scope, _, leave_button(_), everyone=self._everyone(scope), back=self.back is not None
        )

    async def _show(
        self,
        pick: Pick,
        say: Say,
        state: FSMContext,
        uow: UnitOfWork,
        _: Gettext,
        *,
        permissions: Permissions | None = None,
        participant: Participant | None = None,
    ) -> None:
        """Show the question ``pick`` is at (a level's list, or the first question)."""
        if pick.level is Level.TOP:
            assert participant is not None and permissions is not None
            scope = await self._scope(uow, participant, permissions)
            await say(_(self._ask(scope)), self._top(scope, _))
            return
        if pick.level is Level.ROLES:
            await self._ask_roles(pick, say, state, uow, _)
            return
        assert permissions is not None
        markup, text = await self._list(pick, permissions, uow, _)
        await say(text, markup)

    async def _list(
        self, pick: Pick, permissions: Permissions, uow: UnitOfWork, _: Gettext
    ) -> tuple[InlineKeyboardMarkup, str]:
        units = await units_at(uow, permissions, pick.level, pick.school)
        schools = pick.level is Level.CLASSES and not pick.school
        labels = await labels_of(uow, units) if pick.level is not Level.CLASSES or schools else {}
        markup = units_keyboard(
            units,
            pick.units,
            _,
            leave_button(_),
            labels=labels,
            page=pick.page,
            schools=schools,
            many=self.many,
        )
        if schools:
            return markup, _("audience.choose_class_school")
        number = "many" if self.many else "one"
        if pick.level is Level.CLASSES:
            school = "".join(await chosen_labels(uow, [pick.school]))
            return markup, _(f"audience.choose_classes_{number}", school=school)
        return markup, _(f"audience.choose_{pick.level.value}_{number}")

    async def _ask_roles(
        self, pick: Pick, say: Say, state: FSMContext, uow: UnitOfWork, _: Gettext
    ) -> None:
        pick.level = Level.ROLES
        await pick.save(state)
        chosen = await chosen_labels(uow, pick.units)
        who = _.join(chosen) if chosen else _.plain("audience.everyone")
        await say(
            _("audience.ask_roles", audience=who), roles_keyboard(pick.roles, _, leave_button(_))
        )

    async def _after_units(
        self,
        pick: Pick,
        say: Say,
        state: FSMContext,
        uow: UnitOfWork,
        _: Gettext,
        callback: CallbackQuery | None = None,
        **data: Any,
    ) -> None:
        """The units are chosen: the roles next, or the dialogue's next step."""
        pick.came_from = pick.level if pick.level in UNIT_LEVELS else Level.TOP
        if self.roles and self.many:
            await self._ask_roles(pick, say, state, uow, _)
            return
        await pick.save(state)
        assert callback is not None
        await self._finish(callback, pick, state=state, uow=uow, _=_, **data)

    async def _finish(self, callback: CallbackQuery, pick: Pick, **data: Any) -> None:
        await CallableObject(self.finish).call(callback, audience=pick.audience, **data)

    # ------------------------------------------------------------------ the buttons

    async def choose_everyone(
        self,
        callback: CallbackQuery,
        state: FSMContext,
        uow: UnitOfWork,
        bot: Bot,
        permissions: Permissions,
        _: Gettext,
        **data: Any,
    ) -> None:
        if not (self.everyone and self.many):
            await callback.answer(_.plain("errors.stale_button"))
            return
        await callback.answer()
        pick = Pick(everyone=True)
        await self._after_units(
            pick,
            _say(callback, bot),
            state,
            uow,
            _,
            callback,
            bot=bot,
            permissions=permissions,
            **data,
        )

    async def choose_own(
        self,
        callback: CallbackQuery,
        state: FSMContext,
        uow: UnitOfWork,
        bot: Bot,
        participant: Participant,
        permissions: Permissions,
        _: Gettext,
        **data: Any,
    ) -> None:
        scope = await self._scope(uow, participant, permissions)
        if scope.own is None:
            await callback.answer(_.plain("errors.stale_button"))
            return
        await callback.answer()
        pick = Pick(units=[scope.own.id])
        await self._after_units(
            pick,
            _say(callback, bot),
            state,
            uow,
            _,
            callback,
            bot=bot,
            participant=participant,
            permissions=permissions,
            **data,
        )

    async def open_level(
        self,
        callback: CallbackQuery,
        callback_data: LevelCb,
        state: FSMContext,
        uow: UnitOfWork,
        bot: Bot,
        participant: Participant,
        permissions: Permissions,
        _: Gettext,
    ) -> None:
        scope = await self._scope(uow, participant, permissions)
        level = next((lv for lv in scope.levels if lv.value == callback_data.level), None)
        if level is None:
            await callback.answer(_.plain("errors.stale_button"))
            return
        units = await units_at(uow, permissions, level)
        if not units:
            await callback.answer(_.plain("audience.no_units"), show_alert=True)
            return
        await callback.answer()
        pick = Pick(level=level)
        if level is Level.CLASSES and len(units) == 1:  # one school: its classes at once
            pick.school = units[0].id
        await pick.save(state)
        await self._show(pick, _say(callback, bot), state, uow, _, permissions=permissions)

    async def open_school(
        self,
        callback: CallbackQuery,
        callback_data: OpenCb,
        state: FSMContext,
        uow: UnitOfWork,
        bot: Bot,
        participant: Participant,
        permissions: Permissions,
        _: Gettext,
    ) -> None:
        if not await units_at(uow, permissions, Level.CLASSES, callback_data.school):
            await self._refuse(callback, callback_data.school, uow, participant, permissions, _)
            return
        pick = await Pick.load(state)
        if pick.school:  # the classes are shown, not the schools: an old button
            await callback.answer(_.plain("errors.stale_button"))
            return
        await callback.answer()
        pick.school, pick.page = callback_data.school, 0
        await pick.save(state)
        await self._show(pick, _say(callback, bot), state, uow, _, permissions=permissions)

    async def tick_unit(
        self,
        callback: CallbackQuery,
        callback_data: UnitCb,
        state: FSMContext,
        uow: UnitOfWork,
        bot: Bot,
        participant: Participant,
        permissions: Permissions,
        _: Gettext,
        **data: Any,
    ) -> None:
        pick = await Pick.load(state)
        listed = pick.level is not Level.CLASSES or pick.school
        units = await units_at(uow, permissions, pick.level, pick.school) if listed else []
        if callback_data.unit not in {u.id for u in units}:
            await self._refuse(callback, callback_data.unit, uow, participant, permissions, _)
            return
        await callback.answer()
        if not self.many:
            pick.units = [callback_data.unit]
            await pick.save(state)
            await self._finish(
                callback,
                pick,
                state=state,
                uow=uow,
                bot=bot,
                participant=participant,
                permissions=permissions,
                _=_,
                **data,
            )
            return
        if callback_data.unit in pick.units:
            pick.units.remove(callback_data.unit)
        else:
            pick.units.append(callback_data.unit)
        await pick.save(state)
        message = callback.message if isinstance(callback.message, Message) else None
        if message is not None:
            markup, _text = await self._list(pick, permissions, uow, _)
            await message.edit_reply_markup(reply_markup=markup)

    async def turn_page(
        self,
        callback: CallbackQuery,
        callback_data: PageCb,
        state: FSMContext,
        uow: UnitOfWork,
        permissions: Permissions,
        _: Gettext,
    ) -> None:
        pick = await Pick.load(state)
        units = await units_at(uow, permissions, pick.level, pick.school)
        if not 0 <= callback_data.page * PER_PAGE < len(units):
            await callback.answer(_.plain("errors.stale_button"))
            return
        await callback.answer()
        pick.page = callback_data.page
        await pick.save(state)
        message = callback.message if isinstance(callback.message, Message) else None
        if message is not None:
            markup, _text = await self._list(pick, permissions, uow, _)
            await message.edit_reply_markup(reply_markup=markup)

    async def tick_role(
        self, callback: CallbackQuery, callback_data: RoleCb, state: FSMContext, _: Gettext
    ) -> None:
        if not 0 <= callback_data.role < len(ROLES):
            await callback.answer(_.plain("errors.stale_button"))
            return
        await callback.answer()
        pick = await Pick.load(state)
        role = ROLES[callback_data.role]
        pick.roles = (
            [r for r in pick.roles if r != role] if role in pick.roles else [*pick.roles, role]
        )
        await pick.save(state)
        message = callback.message if isinstance(callback.message, Message) else None
        if message is not None:
            markup = roles_keyboard(pick.roles, _, leave_button(_))
            await message.edit_reply_markup(reply_markup=markup)

    async def units_done(
        self,
        callback: CallbackQuery,
        state: FSMContext,
        uow: UnitOfWork,
        bot: Bot,
        _: Gettext,
        **data: Any,
    ) -> None:
        pick = await Pick.load(state)
        if not pick.units:
            await callback.answer(_.plain("audience.choose_one"), show_alert=True)
            return
        await callback.answer()
        await self._after_units(
            pick, _say(callback, bot), state, uow, _, callback, bot=bot, **data
        )

    async def roles_done(self, callback: CallbackQuery, state: FSMContext, **data: Any) -> None:
        await callback.answer()
        await self._finish(callback, await Pick.load(state), state=state, **data)

    async def back_inside(
        self,
        callback: CallbackQuery,
        state: FSMContext,
        uow: UnitOfWork,
        bot: Bot,
        participant: Participant,
        permissions: Permissions,
        _: Gettext,
    ) -> None:
        """One question back: the roles to the units they followed (kept), a school's
        classes to the schools (when there are several), a list to the first question."""
        await callback.answer()
        pick = await Pick.load(state)
        if pick.level is Level.ROLES:
            pick.level = pick.came_from
            if pick.level is Level.TOP:
                pick.units, pick.everyone = [], False
        elif pick.level is Level.CLASSES and pick.school:
            several = len(await units_at(uow, permissions, Level.CLASSES)) > 1
            pick.school, pick.page = 0, 0
            if not several:
                pick.level, pick.units = Level.TOP, []
        else:
            pick.level, pick.units, pick.page = Level.TOP, [], 0
        pick.roles = pick.roles if pick.level is not Level.TOP else []
        await pick.save(state)
        await self._show(
            pick,
            _say(callback, bot),
            state,
            uow,
            _,
            permissions=permissions,
            participant=participant,
        )

    async def back_out(
        self, callback: CallbackQuery, state: FSMContext, bot: Bot, _: Gettext, **data: Any
    ) -> None:
        """返回 on the first question: the dialogue's step before."""
        if self.back is None:
            await callback.answer(_.plain("errors.stale_button"))
            return
        await callback.answer()
        say = _say(callback, bot)
        await CallableObject(self.back).call(say=say, state=state, bot=bot, _=_, **data)

    async def stale(self, callback: CallbackQuery, _: Gettext) -> None:
        """A button of another question (pressed late, or forged): nothing changes."""
        await callback.answer(_.plain("errors.stale_button"))

    async def _refuse(
        self,
        callback: CallbackQuery,
        unit_id: int,
        uow: UnitOfWork,
        participant: Participant,
        permissions: Permissions,
        _: Gettext,
    ) -> None:
        """A unit not on offer: someone else's (a forged button) is said so; a stale one
        is an old button."""
        if await pick_refusal(uow, unit_id, participant, permissions) is UnitRefusal.OUTSIDE:
            await callback.answer(_.plain("audience.outside"), show_alert=True)
        else:
            await callback.answer(_.plain("errors.stale_button"))

    # ------------------------------------------------------------------ wiring

    def attach(self, router: Router) -> None:
        """One handler per action, at this dialogue's step and the picker's question, for
        those ``rule`` allows (the question is checked first: it costs no query)."""
        step, allowed = StateFilter(self.step), Allowed(self.rule)

        def at(*levels: Level) -> tuple[Filter, ...]:
            return (step, At(*levels), allowed)

        units = at(*UNIT_LEVELS)
        register = router.callback_query.register
        bureau = Allowed(may_address_everyone)
        register(self.choose_everyone, EveryoneCb.filter(), *at(Level.TOP), bureau)
        register(self.choose_own, OwnCb.filter(), *at(Level.TOP))
        register(self.open_level, LevelCb.filter(), *at(Level.TOP))
        register(self.open_school, OpenCb.filter(), *at(Level.CLASSES))
        register(self.tick_unit, UnitCb.filter(), *units)
        register(self.turn_page, PageCb.filter(), *units)
        register(self.units_done, DoneCb.filter(), *units)
        register(self.tick_role, RoleCb.filter(), *at(Level.ROLES))
        register(self.roles_done, DoneCb.filter(), *at(Level.ROLES))
        register(self.back_out, BackCb.filter(), *at(Level.TOP))
        register(self.back_inside, BackCb.filter(), *at(*UNIT_LEVELS, Level.ROLES))
        for button in (EveryoneCb, OwnCb, LevelCb, OpenCb, UnitCb, PageCb, RoleCb, BackCb, DoneCb):
            register(self.stale, button.filter(), StateFilter(self.step))
