"""The audience picker every dialogue shares, through /post in chat: what it offers by
the presser's grants, the way back from each of its questions, and presses it refuses
(another school's unit, a level not offered, a button of another question, a button
after the dialogue ended)."""

from __future__ import annotations

import uuid

from aiogram.fsm.storage.base import DefaultKeyBuilder, StorageKey
from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiogram.fsm.storage.redis import RedisStorage

from bot.factory import create_dispatcher
from bot.middlewares import ThrottlingMiddleware
from bot.views.audience import (
    BackCb,
    DoneCb,
    EveryoneCb,
    LevelCb,
    OpenCb,
    OwnCb,
    PageCb,
    RoleCb,
    UnitCb,
)
from bot.views.publicity import PostCb
from bot.views.themes import ThemeCb
from handlers.dialogue import StepBackCb
from quizzes.participants import GrantKind, Role
from quizzes.units import UnitKind
from storage.repositories import Repositories
from tests.conftest import REDIS_URL
from tests.publicity_chat import ADMIN, COORDINATOR, Chat, chat
from tests.publicity_factories import add_people

__all__ = ["chat"]  # the fixture

STALE = "这个按钮已经过期，请重新操作。"
ONE_SCHOOL = 2500  # a coordinator of 一三一团中学 only


async def to_audience(chat: Chat, telegram_id: int) -> None:
    await chat.say(telegram_id, "/post")
    assert "主题" in await chat.say(telegram_id, "宪法宣传周\n学习宪法。")
    await chat.press(telegram_id, ThemeCb(theme="constitution").pack())
    assert "推送给谁" in chat.bot.sent_texts(telegram_id)[-1]


async def test_the_bureau_sees_the_whole_tree(chat: Chat) -> None:
    await to_audience(chat, ADMIN)
    assert chat.bot.last_buttons() == [
        "全体订阅者",
        "按团场选择",
        "按学校选择",
        "按班级选择",
        "« 返回",
        "取消",
    ]
    await chat.press(ADMIN, LevelCb(level="regiments").pack())
    assert [t for t in chat.bot.last_buttons() if t.endswith("团")] == ["129团", "131团", "137团"]
    await chat.press(ADMIN, BackCb().pack())
    await chat.press(ADMIN, LevelCb(level="classes").pack())
    assert "请选择班级所在的学校" in chat.bot.sent_texts(ADMIN)[-1]
    schools = [t for t in chat.bot.last_buttons() if "学" in t]
    assert schools == ["一三一团中学", "一三七团第一小学", "胡杨河市第一中学"]


async def test_a_coordinator_sees_their_schools_only(chat: Chat) -> None:
    await to_audience(chat, COORDINATOR)
    assert chat.bot.last_buttons() == ["按学校选择", "按班级选择", "« 返回", "取消"]
    for refused in (EveryoneCb(), LevelCb(level="regiments"), OwnCb()):
        answer = await chat.press(COORDINATOR, refused.pack())
        assert answer.text == STALE
    await chat.press(COORDINATOR, LevelCb(level="schools").pack())
    assert [t for t in chat.bot.last_buttons() if "学" in t] == [
        "一三一团中学",
        "胡杨河市第一中学",
    ]


async def test_a_coordinator_of_one_school_may_take_it_whole(chat: Chat) -> None:
    school = chat.world.schools["一三一团中学"]
    await add_people(chat.session_factory, [ONE_SCHOOL], school.id, "teacher")
    async with chat.session_factory() as session:
        repo = Repositories.over(session)
        person = await repo.participants.by_telegram_id(ONE_SCHOOL)
        assert person is not None
        await repo.grants.grant(person.id, GrantKind.COORDINATOR, school.id, ADMIN)
        await session.commit()
    await to_audience(chat, ONE_SCHOOL)
    assert chat.bot.last_buttons() == ["全校（一三一团中学）", "按班级选择", "« 返回", "取消"]
    await chat.press(ONE_SCHOOL, OwnCb().pack())
    assert "对象：一三一团中学" in chat.bot.sent_texts(ONE_SCHOOL)[-1]
    await chat.press(ONE_SCHOOL, DoneCb().pack())
    await chat.press(ONE_SCHOOL, PostCb(action="now").pack())
    summary = chat.bot.sent_texts(ONE_SCHOOL)[-1]
    assert "请确认" in summary and "一三一团中学" in summary


async def test_back_goes_one_question_back_and_keeps_the_ticks(chat: Chat) -> None:
    first = chat.world.schools["胡杨河市第一中学"]
    class_2 = chat.world.classes["七年级2班"]
    await to_audience(chat, COORDINATOR)
    await chat.press(COORDINATOR, LevelCb(level="classes").pack())
    await chat.press(COORDINATOR, OpenCb(school=first.id).pack())
    await chat.press(COORDINATOR, UnitCb(unit=class_2.id).pack())
    assert "✅ 七年级2班" in chat.bot.last_buttons()
    await chat.press(COORDINATOR, DoneCb().pack())
    await chat.press(COORDINATOR, RoleCb(role=list(Role).index(Role.STUDENT)).pack())
    # From the roles back to the classes, still ticked.
    await chat.press(COORDINATOR, BackCb().pack())
    assert "胡杨河市第一中学的班级" in chat.bot.sent_texts(COORDINATOR)[-1]
    assert "✅ 七年级2班" in chat.bot.last_buttons()
    # From the classes back to their schools, then to the first question.
    await chat.press(COORDINATOR, BackCb().pack())
    assert "请选择班级所在的学校" in chat.bot.sent_texts(COORDINATOR)[-1]
    await chat.press(COORDINATOR, BackCb().pack())
    assert "推送给谁" in chat.bot.sent_texts(COORDINATOR)[-1]
    # From the first question back to the step before the picker: the theme, then the
    # article.
    await chat.press(COORDINATOR, BackCb().pack())
    assert "主题" in chat.bot.sent_texts(COORDINATOR)[-1]
    await chat.press(COORDINATOR, StepBackCb().pack())
    assert "请发送要推送的文章" in chat.bot.sent_texts(COORDINATOR)[-1]
    assert "主题" in await chat.say(COORDINATOR, "另一篇\n正文。")


async def test_the_step_after_the_picker_goes_back_into_it(chat: Chat) -> None:
    await to_audience(chat, ADMIN)
    await chat.press(ADMIN, EveryoneCb().pack())
    await chat.press(ADMIN, RoleCb(role=0).pack())
    await chat.press(ADMIN, DoneCb().pack())
    assert "什么时候" in chat.bot.sent_texts(ADMIN)[-1]
    await chat.press(ADMIN, PostCb(action="now").pack())
    assert "请确认" in chat.bot.sent_texts(ADMIN)[-1]
    await chat.press(ADMIN, StepBackCb().pack())  # 返回 to the time
    assert "什么时候" in chat.bot.sent_texts(ADMIN)[-1]
    await chat.press(ADMIN, StepBackCb().pack())  # 返回 to the roles
    assert "哪些身份" in chat.bot.sent_texts(ADMIN)[-1]
    assert "✅ 学生" in chat.bot.last_buttons()


async def test_forged_and_stale_presses_are_refused_and_change_nothing(chat: Chat) -> None:
    elsewhere = chat.world.classes["三年级1班"]  # 一三七团第一小学: no school of theirs
    other_school = chat.world.schools["一三七团第一小学"]
    first = chat.world.schools["胡杨河市第一中学"]
    await to_audience(chat, COORDINATOR)
    # A button of another question: nothing happens.
    for early in (UnitCb(unit=first.id), RoleCb(role=0), DoneCb(), PageCb(page=1)):
        assert (await chat.press(COORDINATOR, early.pack())).text == STALE
    await chat.press(COORDINATOR, LevelCb(level="classes").pack())
    # Someone else's school or class, forged: said so.
    for forged in (OpenCb(school=other_school.id),):
        answer = await chat.press(COORDINATOR, forged.pack())
        assert answer.show_alert and "只能选择自己负责的学校" in (answer.text or "")
    await chat.press(COORDINATOR, OpenCb(school=first.id).pack())
    answer = await chat.press(COORDINATOR, UnitCb(unit=elsewhere.id).pack())
    assert answer.show_alert and "只能选择自己负责的学校" in (answer.text or "")
    # "Next" with nothing ticked: asked to choose.
    answer = await chat.press(COORDINATOR, DoneCb().pack())
    assert answer.show_alert and "请至少选择一个" in (answer.text or "")
    # A role index that is no role.
    await chat.press(COORDINATOR, UnitCb(unit=chat.world.classes["七年级1班"].id).pack())
    await chat.press(COORDINATOR, DoneCb().pack())
    assert (await chat.press(COORDINATOR, RoleCb(role=len(Role)).pack())).text == STALE
    # After /cancel every picker button is stale.
    await chat.say(COORDINATOR, "/cancel")
    for late in (DoneCb(), RoleCb(role=0), BackCb(), LevelCb(level="schools")):
        assert (await chat.press(COORDINATOR, late.pack())).text == STALE
    # A student (no grants) pressing the picker's buttons gets nothing either.
    assert (await chat.press(3000, EveryoneCb().pack())).text == STALE


async def test_a_long_list_comes_in_pages(chat: Chat) -> None:
    async with chat.session_factory() as session:
        repo = Repositories.over(session)
        school = chat.world.schools["胡杨河市第一中学"]
        for number in range(3, 26):
            await repo.units.ensure(school, UnitKind.CLASS, f"八年级{number}班")
        await session.commit()
    await to_audience(chat, ADMIN)
    await chat.press(ADMIN, LevelCb(level="classes").pack())
    await chat.press(ADMIN, OpenCb(school=chat.world.schools["胡杨河市第一中学"].id).pack())
    first_page = [t for t in chat.bot.last_buttons() if t.endswith("班")]
    assert len(first_page) == 20 and "更多（2/2）»" in chat.bot.last_buttons()
    await chat.press(ADMIN, PageCb(page=1).pack())
    second_page = [t for t in chat.bot.last_buttons() if t.endswith("班")]
    assert len(second_page) == 25 - 20 and not set(first_page) & set(second_page)
    assert (await chat.press(ADMIN, PageCb(page=2).pack())).text == STALE


async def test_the_typed_state_lives_in_redis_between_presses(chat: Chat) -> None:
    """With the production FSM storage: each press reads the picker's and the draft's
    typed state back from Redis (plain JSON there), so another process could take the
    next press."""
    prefix = f"picker-{uuid.uuid4().hex}"
    storage = RedisStorage.from_url(REDIS_URL, key_builder=DefaultKeyBuilder(prefix=prefix))
    dp = create_dispatcher(
        chat.context.settings,
        chat.session_factory,
        storage=storage,
        events_isolation=SimpleEventIsolation(),
    )
    for middleware in dp.message.outer_middleware:
        if isinstance(middleware, ThrottlingMiddleware):
            middleware.rate = 1000
    dp["broadcaster"] = chat.broadcaster
    redis_chat = Chat(
        dp, chat.bot, chat.broadcaster, chat.world, chat.session_factory, chat.context
    )
    first = chat.world.schools["胡杨河市第一中学"]
    try:
        await to_audience(redis_chat, COORDINATOR)
        await redis_chat.press(COORDINATOR, LevelCb(level="classes").pack())
        await redis_chat.press(COORDINATOR, OpenCb(school=first.id).pack())
        await redis_chat.press(COORDINATOR, UnitCb(unit=chat.world.classes["七年级2班"].id).pack())
        await redis_chat.press(COORDINATOR, DoneCb().pack())
        await redis_chat.press(COORDINATOR, RoleCb(role=list(Role).index(Role.TEACHER)).pack())
        await redis_chat.press(COORDINATOR, DoneCb().pack())
        await redis_chat.say(COORDINATOR, "2099-01-01 08:00")
        stored = await storage.get_data(
            StorageKey(bot_id=42, chat_id=COORDINATOR, user_id=COORDINATOR)
        )
        assert stored["audience"]["units"] == [chat.world.classes["七年级2班"].id]
        assert stored["audience"]["roles"] == ["teacher"]
        assert stored["post"]["when"].startswith("2099-01-01T")
        summary = chat.bot.sent_texts(COORDINATOR)[-1]
        assert "七年级2班 · 教职工" in summary and "2099-01-01 08:00" in summary
    finally:
        async for key in storage.redis.scan_iter(f"{prefix}:*"):
            await storage.redis.delete(key)
        await storage.close()
