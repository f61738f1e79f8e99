"""/newcampaign in chat, in-process on SQLite and PostgreSQL: answers in, campaign row out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from aiogram import Dispatcher
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.methods import AnswerCallbackQuery
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.factory import create_dispatcher
from bot.i18n import Translator
from bot.middlewares import ThrottlingMiddleware
from bot.scheduler import Scheduler
from bot.services import ServiceContext
from bot.views.audience import BackCb, DoneCb, EveryoneCb, LevelCb, OpenCb, RoleCb, UnitCb
from bot.views.calendar import CalendarCb
from bot.views.themes import ThemeCb
from handlers.campaign_setup import SetupCb
from handlers.dialogue import LeaveCb, StepBackCb
from quizzes.bank import Level
from quizzes.units import UnitKind
from storage.models_quiz import CampaignRow
from storage.repositories import Repositories
from tests.factories import World, build_world
from tests.mocked_bot import MockedBot, callback_update, text_update, user
from tests.quiz_world import SMALL_BANK, open_campaign
from tests.test_levels import GRADED

ADMIN = 1
STRANGER = 2


@pytest.fixture
async def world(session_factory: async_sessionmaker[AsyncSession]) -> World:
    world = await build_world(session_factory)
    async with session_factory() as session:
        await Repositories.over(session).banks.import_bank(
            SMALL_BANK, source_filename="small.yaml", content_sha256="x", imported_by=None
        )
        await session.commit()
    return world


@pytest.fixture
def settings() -> Settings:
    return Settings(bot_token="42:TEST-token", admin_ids=frozenset({ADMIN}))


@pytest.fixture
def bot() -> MockedBot:
    return MockedBot()


@pytest.fixture
def scheduler(
    session_factory: async_sessionmaker[AsyncSession], settings: Settings, bot: MockedBot
) -> Scheduler:
    """Not started: the test reads what the dialogue scheduled."""
    return Scheduler(ServiceContext(settings, session_factory, bot, Translator.load()))


@pytest.fixture
def dp(
    session_factory: async_sessionmaker[AsyncSession], settings: Settings, scheduler: Scheduler
) -> Dispatcher:
    dp = create_dispatcher(
        settings, session_factory, storage=MemoryStorage(), events_isolation=SimpleEventIsolation()
    )
    dp["scheduler"] = scheduler
    # An admin answering a dozen questions in a row is no flood.
    for middleware in dp.message.outer_middleware:
        if isinstance(middleware, ThrottlingMiddleware):
            middleware.rate = 1000
    return dp


class Chat:
    """One person typing and tapping; ``last`` is the newest text the bot showed them."""

    def __init__(self, dp: Dispatcher, bot: MockedBot, telegram_id: int, language: str) -> None:
        self.dp, self.bot, self.id, self.language = dp, bot, telegram_id, language

    @property
    def last(self) -> str:
        return self.bot.sent_texts(self.id)[-1]

    async def send(self, text: str) -> str:
        await self.dp.feed_update(
            self.bot, text_update(user(self.id, language_code=self.language), text)
        )
        return self.last

    def buttons(self) -> list[SetupCb]:
        return [
            SetupCb.unpack(data) for data in self.bot.last_markup_data() if data.startswith("cs:")
        ]

    async def tap(self, action: str, id: int = 0) -> str:
        """Press the button on the last keyboard; returns the toast (empty when none)."""
        [button] = [b for b in self.buttons() if b.action == action and b.id == id]
        return await self.press(button.pack())

    async def press(self, data: str) -> str:
        before = len(self.bot.recorder.requests)
        await self.dp.feed_update(
            self.bot, callback_update(user(self.id, language_code=self.language), data)
        )
        answers = [
            m for m in self.bot.recorder.requests[before:] if isinstance(m, AnswerCallbackQuery)
        ]
        assert len(answers) == 1
        return answers[0].text or ""


async def campaign_rows(session_factory: async_sessionmaker[AsyncSession]) -> list[CampaignRow]:
    async with session_factory() as session:
        return list(await session.scalars(select(CampaignRow).order_by(CampaignRow.id)))


async def test_an_admin_creates_a_scheduled_campaign_step_by_step(
    dp: Dispatcher,
    bot: MockedBot,
    world: World,
    scheduler: Scheduler,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    chat = Chat(dp, bot, ADMIN, "zh-hans")
    async with session_factory() as session:
        repo = Repositories.over(session)
        bank = await repo.banks.by_name(SMALL_BANK.name)
        regiments = {u.name: u for u in await repo.units.of_kind(UnitKind.REGIMENT)}
    assert bank is not None

    assert "活动名称" in await chat.send("/newcampaign")
    assert "题库" in await chat.send("2030年宪法卫士")
    assert await chat.tap("bank", bank.id) == ""
    assert f"✅ {SMALL_BANK.name}（5 题）" in bot.last_buttons()
    await chat.tap("banks_done")
    assert "面向哪个学段" in chat.last
    await chat.tap("level", 0)  # 全部: every question, as before levels
    assert "主题" in chat.last and "宪法（常用）" in bot.last_buttons()  # the bank's
    await chat.press(ThemeCb(theme="constitution").pack())
    assert "所选题库共 5 题" in chat.last
    assert "每题限时" in await chat.send("4")
    assert "整次答题限时" in await chat.send("30")
    await chat.tap("no_limit")
    assert "最多可以答几次" in chat.last
    assert "合格分数线" in await chat.send("2")
    assert "优秀分数线" in await chat.send("80")
    assert "不设优秀" in bot.last_buttons()
    assert "优秀分数线必须高于合格分数线" in await chat.send("80")
    assert "对错" in await chat.send("95")
    await chat.tap("feedback", 1)  # at the end
    assert "多选题" in chat.last
    await chat.tap("partial", 1)
    assert "什么时候开始" in chat.last
    assert "什么时候截止" in await chat.send("2030-12-01 08:00")
    assert "谁可以参加" in await chat.send("2030-12-04 22:00")
    await chat.press(LevelCb(level="regiments").pack())
    await chat.press(UnitCb(unit=regiments["129团"].id).pack())
    await chat.press(DoneCb().pack())
    await chat.press(RoleCb(role=0).pack())  # student
    await chat.press(DoneCb().pack())
    assert "证书" in chat.last
    await chat.tap("certificate", 0)
    [confirm] = [b for b in chat.buttons() if b.action == "confirm"]
    summary = chat.last
    assert "名称：<b>2030年宪法卫士</b>" in summary and "适用学段：全部" in summary
    assert "主题：宪法" in summary
    assert "每题限时：30 秒" in summary and "整次限时：不限时" in summary
    assert "合格线：80%\n优秀线：95%" in summary
    assert "对错提示：全部答完后" in summary and "多选题：按选对的比例得分" in summary
    assert "2030-12-01 08:00 — 2030-12-04 22:00" in summary
    assert "对象：129团 · 学生" in summary and "合格证书：否" in summary
    await chat.tap("confirm")
    assert chat.last == (
        "已创建答题活动 #1“2030年宪法卫士”：2030-12-01 08:00 开始，2030-12-04 22:00 截止；"
        "题库共 5 题。"
    )

    [row] = await campaign_rows(session_factory)
    assert row.status == "scheduled" and row.bank_ids == [bank.id]
    assert (row.questions, row.seconds_per_question, row.seconds_per_attempt) == (4, 30, None)
    assert (row.attempts_allowed, row.pass_mark, row.feedback) == (2, 80, "end")
    assert row.partial_credit is True and row.certificate is False and row.distinction == 95
    assert row.opens_at == datetime(2030, 12, 1, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
    assert row.closes_at == datetime(2030, 12, 4, 14, 0, tzinfo=UTC)
    assert row.audience_units == [regiments["129团"].id] and row.audience_roles == ["student"]
    assert row.created_by == ADMIN and row.per_tag == {}
    assert row.level is None and row.difficulty_mix is None
    assert row.theme == "constitution"
    # Its jobs are scheduled at once (the planner keeps them from then on).
    planned = {job_id: when for job_id, when in scheduler.upcoming()}
    assert planned[f"campaign-{row.id}-open"] == row.opens_at
    assert planned[f"campaign-{row.id}-remind"] == row.closes_at - timedelta(days=1)
    assert planned[f"campaign-{row.id}-close"] == row.closes_at
    # The dialogue is over: pressing "create" again makes nothing.
    assert await chat.press(confirm.pack()) == "这个按钮已经过期，请重新操作。"
    assert len(await campaign_rows(session_factory)) == 1


async def test_bad_answers_are_explained_and_asked_again(
    dp: Dispatcher,
    bot: MockedBot,
    world: World,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await open_campaign(session_factory, name="Constitution Day")
    chat = Chat(dp, bot, ADMIN, "en")
    await chat.send("/newcampaign")
    assert "is too long (at most 100 characters)" in await chat.send("x" * 101)
    assert 'a campaign called "Constitution Day" exists already' in await chat.send(
        "Constitution Day"
    )
    assert "Which question banks" in await chat.send("Law Week quiz")
    [bank, done] = chat.buttons()
    assert await chat.tap("banks_done") == "Choose at least one bank."
    # Typing at a step of buttons: a hint, and the buttons above still work.
    assert await chat.send("5") == "Please use the buttons above, or send /cancel to stop."
    assert await chat.press(bank.pack()) == ""
    assert await chat.press(done.pack()) == ""
    assert "Which school level" in chat.last
    await chat.tap("level", 0)
    await chat.press(ThemeCb(theme="constitution").pack())
    assert "The banks hold 5" in chat.last

    bad = await chat.send("ten")
    assert "should be a whole number from 1 to 200" in bad and "How many questions" in bad
    assert "the banks hold 5 suitable questions, not enough to draw 9" in await chat.send("9")
    assert "Seconds allowed per question" in await chat.send("5")
    assert "from 5 to 3600" in await chat.send("2")
    assert "whole attempt" in await chat.send("none")
    assert "How many attempts" in await chat.send("600")
    assert "from 1 to 100" in await chat.send("0")
    assert "pass mark" in await chat.send("1")
    assert "from 0 to 100" in await chat.send("150")
    assert "distinction mark" in await chat.send("60")
    assert "from 1 to 100" in await chat.send("101")
    assert "When do participants learn" in await chat.send("none")
    await chat.tap("feedback", 0)
    await chat.tap("partial", 0)
    assert "times look like 2026-12-01 08:00" in await chat.send("tomorrow morning")
    assert "already passed" in await chat.send("2020-01-01 08:00")
    assert "When does it close" in await chat.send("2030-12-01 08:00")
    assert "must be later than the opening time" in await chat.send("2030-11-30 08:00")
    assert "Who takes part" in await chat.send("2030-12-08 08:00")
    await chat.press(EveryoneCb().pack())
    await chat.press(DoneCb().pack())
    await chat.tap("certificate", 1)
    summary = chat.last
    assert "Audience: everyone" in summary and "Certificate: Yes" in summary
    assert "Time per question: no limit" in summary and "Attempts allowed: 1" in summary
    assert "Distinction: No distinction" in summary
    await chat.tap("confirm")
    assert chat.last.startswith('Created campaign #2 "Law Week quiz"')
    row = (await campaign_rows(session_factory))[-1]
    assert (row.questions, row.seconds_per_question, row.attempts_allowed, row.pass_mark) == (
        5,
        None,
        1,
        60,
    )
    assert row.audience_units == [] and row.audience_roles == [] and row.distinction is None


def key_for(telegram_id: int) -> StorageKey:
    return StorageKey(bot_id=42, chat_id=telegram_id, user_id=telegram_id)


async def test_cancel_leaves_the_dialogue_and_creates_nothing(
    dp: Dispatcher,
    bot: MockedBot,
    world: World,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    chat = Chat(dp, bot, ADMIN, "zh-hans")
    await chat.send("/newcampaign")
    await chat.send("普法周")
    assert await chat.send("/cancel") == "已取消，没有创建答题活动。"
    assert "没有创建" not in await chat.send("4")  # no longer in the dialogue
    # Cancelling from the button at a later step works the same.
    await chat.send("/newcampaign")
    await chat.send("普法周")
    assert await chat.press(LeaveCb().pack()) == ""
    assert chat.last == "已取消，没有创建答题活动。"
    assert await campaign_rows(session_factory) == []


async def test_a_non_admin_is_refused_and_forged_or_stale_buttons_change_nothing(
    dp: Dispatcher,
    bot: MockedBot,
    world: World,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    stranger = Chat(dp, bot, STRANGER, "zh-hans")
    assert await stranger.send("/newcampaign") == "只有管理员可以使用这个命令。"

    admin = Chat(dp, bot, ADMIN, "zh-hans")
    await admin.send("/newcampaign")
    await admin.send("普法周")
    [bank_button] = [b for b in admin.buttons() if b.action == "bank"]
    stale = "这个按钮已经过期，请重新操作。"
    # The admin's own button, pressed by someone else (forged): nothing happens.
    assert await stranger.press(bank_button.pack()) == stale
    # A button of another step, or of an older dialogue, is stale for the admin too.
    token = bank_button.token
    assert await admin.press(SetupCb(token=token, action="confirm").pack()) == stale
    assert (
        await admin.press(SetupCb(token="old", action="bank", id=bank_button.id).pack()) == stale
    )
    assert await admin.press(SetupCb(token=token, action="bank", id=9999).pack()) == stale
    assert await admin.press(SetupCb(token=token, action="feedback", id=7).pack()) == stale
    state = await dp.storage.get_data(key_for(ADMIN))
    assert state["campaign"]["bank_ids"] == []
    # The real button still works.
    assert await admin.press(bank_button.pack()) == ""
    state = await dp.storage.get_data(key_for(ADMIN))
    assert state["campaign"]["bank_ids"] == [bank_button.id]
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(CampaignRow)) == 0


# --------------------------------------------------------------------------- /newcampaign


async def test_newcampaign_asks_the_level_after_the_banks(
    dp: Dispatcher,
    bot: MockedBot,
    world: World,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        imported = await Repositories.over(session).banks.import_bank(
            GRADED, source_filename="g.yaml", content_sha256="1", imported_by=None
        )
        await session.commit()
    chat = Chat(dp, bot, ADMIN, "zh-hans")
    await chat.send("/newcampaign")
    await chat.send("2030年小学宪法晨读答题")
    await chat.tap("bank", imported.bank.id)
    await chat.tap("banks_done")
    assert "面向哪个学段" in chat.last
    assert [text for text in bot.last_buttons() if text not in ("取消", "« 返回")] == [
        "全部",
        "小学",
        "初中",
        "高中及教职工",
    ]
    token = chat.buttons()[0].token
    forged = SetupCb(token=token, action="level", id=99).pack()
    assert await chat.press(forged) == "这个按钮已经过期，请重新操作。"
    await chat.tap("level", int(Level.PRIMARY))
    await chat.press(ThemeCb(theme="constitution").pack())
    # The pool is what a 小学 campaign may draw: 9 of the 17 (never the 小学 难 one).
    assert "所选题库共 9 题" in chat.last and "1 到 9" in chat.last
    assert "题库中适用的题目只有 9 题" in await chat.send("10")
    await chat.send("9")
    await chat.tap("no_limit")
    await chat.tap("no_limit")
    await chat.send("1")
    await chat.send("60")
    await chat.tap("no_distinction")
    await chat.tap("feedback", 0)
    await chat.tap("partial", 0)
    await chat.send("2030-12-01 08:00")
    await chat.send("2030-12-04 22:00")
    await chat.press(EveryoneCb().pack())
    await chat.press(DoneCb().pack())
    await chat.tap("certificate", 1)
    assert "适用学段：小学" in chat.last and "共 9 题" in chat.last
    await chat.tap("confirm")
    assert chat.last.startswith("已创建答题活动")
    [row] = [r for r in await campaign_rows(session_factory) if r.name.startswith("2030年小学")]
    assert (row.level, row.difficulty_mix, row.questions) == (1, None, 9)


async def test_back_goes_one_step_back_and_a_namesake_unit_is_not_taken(
    dp: Dispatcher,
    bot: MockedBot,
    world: World,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """A campaign's spec names its units, so a class whose name another class carries
    cannot be its audience: the picker says so and stays; 返回 works at every step."""
    school = world.schools["胡杨河市第一中学"]
    async with session_factory() as session:
        repo = Repositories.over(session)
        other = world.schools["一三一团中学"]
        await repo.units.ensure(other, UnitKind.CLASS, "七年级1班")
        bank = await repo.banks.by_name(SMALL_BANK.name)
        await session.commit()
    assert bank is not None
    chat = Chat(dp, bot, ADMIN, "zh-hans")
    await chat.send("/newcampaign")
    assert StepBackCb().pack() not in bot.last_markup_data()  # nothing before the name
    await chat.send("普法周答题")
    await chat.press(StepBackCb().pack())
    assert "活动名称" in chat.last
    assert "题库" in await chat.send("普法周答题")
    await chat.tap("bank", bank.id)
    await chat.tap("banks_done")
    await chat.tap("level", 0)
    await chat.press(ThemeCb(theme="anti_fraud").pack())  # not the bank's: a choice
    for answer in ("3", "none", "none", "1", "60"):
        await chat.send(answer)
    await chat.tap("no_distinction")
    await chat.tap("feedback", 0)
    await chat.tap("partial", 0)
    await chat.send("2030-12-01 08:00")
    assert "谁可以参加" in await chat.send("2030-12-04 22:00")
    # 返回 from the picker's first question: the closing time again.
    await chat.press(BackCb().pack())
    assert "什么时候截止" in chat.last
    assert "谁可以参加" in await chat.send("2030-12-05 22:00")

    await chat.press(LevelCb(level="classes").pack())
    await chat.press(OpenCb(school=school.id).pack())
    await chat.press(UnitCb(unit=world.classes["七年级1班"].id).pack())
    await chat.press(DoneCb().pack())
    await chat.press(DoneCb().pack())
    assert "有不止一个单位叫“七年级1班”" in bot.sent_texts(ADMIN)[-2]
    assert "的班级" in chat.last  # the classes again, to choose otherwise
    await chat.press(UnitCb(unit=world.classes["七年级2班"].id).pack())
    await chat.press(UnitCb(unit=world.classes["七年级1班"].id).pack())  # unticked
    await chat.press(DoneCb().pack())
    await chat.press(DoneCb().pack())
    assert "证书" in chat.last
    # 返回 from the certificate: the roles, as they were left.
    await chat.press(StepBackCb().pack())
    assert "面向哪些身份" in chat.last
    await chat.press(DoneCb().pack())
    await chat.tap("certificate", 1)
    assert "对象：七年级2班" in chat.last
    await chat.press(StepBackCb().pack())  # from the summary to the certificate
    assert "证书" in chat.last
    await chat.tap("certificate", 0)
    await chat.tap("confirm")
    [row] = await campaign_rows(session_factory)
    assert row.audience_units == [world.classes["七年级2班"].id]
    assert row.theme == "anti_fraud"
    assert row.certificate is False and row.closes_at == datetime(2030, 12, 5, 14, tzinfo=UTC)


async def test_a_key_dates_button_marks_its_theme_as_the_usual_one(
    dp: Dispatcher,
    bot: MockedBot,
    world: World,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        bank = await Repositories.over(session).banks.by_name(SMALL_BANK.name)
    assert bank is not None
    chat = Chat(dp, bot, ADMIN, "zh-hans")
    await chat.press(CalendarCb(action="campaign", code="national_security_day", year=2027).pack())
    assert "题库" in await chat.send("2027年国家安全教育日答题")
    await chat.tap("bank", bank.id)  # 宪法小题库: its own theme is 宪法
    await chat.tap("banks_done")
    await chat.tap("level", 0)
    assert "国家安全（常用）" in bot.last_buttons() and "宪法（常用）" not in bot.last_buttons()
