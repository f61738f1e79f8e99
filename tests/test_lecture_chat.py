"""Scheduling and cancelling online lectures in chat (/newlecture, /lectures), in process:
updates are fed to the dispatcher and the Bot API calls recorded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiogram import Dispatcher
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.methods import AnswerCallbackQuery, SendMessage
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.broadcaster import Broadcaster
from bot.config import Settings
from bot.factory import create_dispatcher
from bot.i18n import Translator
from bot.lectures import schedule_lecture
from bot.middlewares import ThrottlingMiddleware
from bot.publicity_jobs import job_id, plan_articles, publish_article
from bot.scheduler import Scheduler
from bot.services import ServiceContext
from bot.views.audience import BackCb, DoneCb, EveryoneCb, LevelCb, OwnCb, PageCb, RoleCb, UnitCb
from bot.views.publicity import CheckinCb
from handlers.dialogue import LeaveCb, StepBackCb
from handlers.lectures import CancelLectureCb, LectureDraft, NewLectureCb
from quizzes.ordering import by_name
from quizzes.participants import GrantKind, Role
from quizzes.publicity import Audience
from storage.models import ParticipantRow
from storage.models_publicity import ArticleRow, BroadcastRow, DeliveryRow, LectureRow
from storage.publicity import PublicityRepository
from storage.repositories import Repositories
from tests.factories import World, build_world
from tests.mocked_bot import MockedBot, callback_update, text_update, user
from tests.publicity_factories import add_people, status_counts

SHANGHAI = ZoneInfo("Asia/Shanghai")
ADMIN = 1
COORDINATOR = 2
STUDENT = 3000
LINK = "https://example.org/live"


@dataclass
class Chat:
    dp: Dispatcher
    bot: MockedBot
    scheduler: Scheduler
    context: ServiceContext
    world: World
    session_factory: async_sessionmaker[AsyncSession]

    async def say(self, telegram_id: int, text: str) -> None:
        await self.dp.feed_update(self.bot, text_update(user(telegram_id), text))

    async def press(self, telegram_id: int, data: str) -> AnswerCallbackQuery:
        await self.dp.feed_update(self.bot, callback_update(user(telegram_id), data))
        answers = [m for m in self.bot.recorder.requests if isinstance(m, AnswerCallbackQuery)]
        return answers[-1]

    def last_text(self, chat_id: int) -> str:
        return self.bot.sent_texts(chat_id)[-1]


@pytest.fixture
async def chat(
    session_factory: async_sessionmaker[AsyncSession], database_url: str
) -> AsyncIterator[Chat]:
    world = await build_world(session_factory)
    first, other = world.schools["胡杨河市第一中学"], world.schools["一三一团中学"]
    await add_people(session_factory, [STUDENT, 3001, 3002], world.classes["七年级1班"].id)
    await add_people(session_factory, [3003], first.id, "teacher")
    await add_people(session_factory, [3100, 3101], other.id)
    await add_people(session_factory, [COORDINATOR], first.id, "teacher")
    async with session_factory() as session:
        repo = Repositories.over(session)
        coordinator = await repo.participants.by_telegram_id(COORDINATOR)
        assert coordinator is not None
        await repo.grants.grant(coordinator.id, GrantKind.COORDINATOR, first.id, ADMIN)
        await session.commit()
    settings = Settings(
        bot_token="42:TEST-token", database_url=database_url, admin_ids=frozenset({ADMIN})
    )
    dp = create_dispatcher(
        settings, session_factory, storage=MemoryStorage(), events_isolation=SimpleEventIsolation()
    )
    for middleware in dp.message.outer_middleware:
        if isinstance(middleware, ThrottlingMiddleware):  # a dialogue is many messages
            middleware.rate = 1000
    bot = MockedBot()
    context = ServiceContext(settings, session_factory, bot, Translator.load())
    scheduler = Scheduler(context, replan_every=timedelta(0))
    dp["scheduler"] = scheduler
    yield Chat(dp, bot, scheduler, context, world, session_factory)
    await scheduler.stop()


def local(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def in_two_days() -> datetime:
    return (datetime.now(UTC) + timedelta(days=2)).replace(second=0, microsecond=0)


async def lectures(chat: Chat) -> list[LectureRow]:
    async with chat.session_factory() as session:
        return list(await session.scalars(select(LectureRow).order_by(LectureRow.id)))


async def articles_of(chat: Chat, lecture_id: int) -> list[ArticleRow]:
    async with chat.session_factory() as session:
        rows = await session.scalars(
            select(ArticleRow).where(ArticleRow.lecture_id == lecture_id).order_by(ArticleRow.id)
        )
        return list(rows)


async def fill_in(chat: Chat, telegram_id: int, starts_at: datetime) -> None:
    """Title, speaker, time, minutes and link, all valid."""
    await chat.say(telegram_id, "/newlecture")
    await chat.say(telegram_id, "宪法与生活")
    await chat.say(telegram_id, "李老师")
    await chat.say(telegram_id, local(starts_at))
    await chat.say(telegram_id, "90")
    await chat.say(telegram_id, LINK)


async def test_an_admin_schedules_a_lecture_in_chat(chat: Chat) -> None:
    await chat.say(ADMIN, "/newlecture")
    assert "课程标题" in chat.last_text(ADMIN)
    await chat.say(ADMIN, "宪法与生活")
    await chat.say(ADMIN, "李老师")
    assert "什么时候开讲" in chat.last_text(ADMIN)

    # Garbage and the past are refused with the reason, and the question stands.
    await chat.say(ADMIN, "下周三下午")
    assert "时间格式不对" in chat.last_text(ADMIN)
    await chat.say(ADMIN, "2020-01-01 10:00")
    assert "已经过去" in chat.last_text(ADMIN)
    starts_at = in_two_days()
    await chat.say(ADMIN, local(starts_at))
    assert "多长时间" in chat.last_text(ADMIN)
    await chat.say(ADMIN, "一个半小时")
    assert "整数分钟" in chat.last_text(ADMIN)
    await chat.say(ADMIN, "90")
    await chat.say(ADMIN, "ftp://example.org/live")
    assert "链接无效" in chat.last_text(ADMIN)
    await chat.say(ADMIN, LINK)

    # Everyone, or regiments, schools, classes (the shared picker).
    assert chat.bot.last_markup_data() == [
        EveryoneCb().pack(),
        *(LevelCb(level=level).pack() for level in ("regiments", "schools", "classes")),
        BackCb().pack(),
        LeaveCb().pack(),
    ]
    await chat.press(ADMIN, LevelCb(level="schools").pack())
    assert chat.bot.last_markup_data() == [
        # In natural order (quizzes.ordering): 一三一团中学, 一三七团第一小学, 胡杨河市第一中学.
        *(UnitCb(unit=s.id).pack() for s in by_name(chat.world.schools.values())),
        BackCb().pack(),
        DoneCb().pack(),
        LeaveCb().pack(),
    ]
    await chat.press(ADMIN, BackCb().pack())
    await chat.press(ADMIN, EveryoneCb().pack())
    assert "面向哪些身份" in chat.last_text(ADMIN)
    assert chat.bot.last_markup_data() == [
        *(RoleCb(role=n).pack() for n in range(len(Role))),
        BackCb().pack(),
        DoneCb().pack(),
        LeaveCb().pack(),
    ]
    chat.bot.clear()
    await chat.press(ADMIN, DoneCb().pack())
    sent = [m for m in chat.bot.recorder.requests if isinstance(m, SendMessage)]
    preview, summary = sent[-2], sent[-1]
    assert preview.text.startswith("<b>网络公开课：宪法与生活</b>")
    assert "主讲：李老师" in preview.text
    buttons = preview.reply_markup.inline_keyboard  # type: ignore[union-attr]
    assert [b.text for row in buttons for b in row] == ["✅ 已阅读", "📝 签到", "🎥 进入课堂"]
    assert buttons[1][0].url == LINK
    assert "全体订阅者" in summary.text and "人数：7" in summary.text
    assert local(starts_at - timedelta(hours=1)) in summary.text
    assert chat.bot.last_markup_data() == [
        NewLectureCb(action="go").pack(),
        StepBackCb().pack(),
        LeaveCb().pack(),
    ]
    assert await lectures(chat) == []  # nothing stored before confirming

    await chat.press(ADMIN, NewLectureCb(action="go").pack())
    assert "已安排公开课" in chat.last_text(ADMIN)
    [lecture] = await lectures(chat)
    assert (lecture.title, lecture.speaker, lecture.link) == ("宪法与生活", "李老师", LINK)
    assert lecture.starts_at == starts_at
    assert lecture.ends_at - lecture.starts_at == timedelta(minutes=90)
    assert (lecture.status, lecture.created_by, lecture.audience) == (
        "scheduled",
        ADMIN,
        {"units": [], "roles": []},
    )
    announcement, reminder = await articles_of(chat, lecture.id)
    assert announcement.status == "published" and reminder.status == "scheduled"
    assert reminder.publish_at == starts_at - timedelta(hours=1)
    async with chat.session_factory() as session:
        stored = await PublicityRepository(session).article(announcement.id)
        broadcast_id = await session.scalar(
            select(BroadcastRow.id).where(BroadcastRow.article_id == announcement.id)
        )
    # The preview was the announcement exactly as it goes out.
    assert stored is not None and stored.text == preview.text
    assert broadcast_id is not None
    assert await status_counts(chat.session_factory, broadcast_id) == {"pending": 7}
    # The reminder is scheduled at once, and planned again from the tables after a restart.
    reminder_job = (job_id(reminder.id), starts_at.astimezone(SHANGHAI) - timedelta(hours=1))
    assert reminder_job in chat.scheduler.upcoming()
    restarted = Scheduler(chat.context, replan_every=timedelta(0))
    restarted.add_planner(plan_articles)
    await restarted.plan()
    assert reminder_job in restarted.upcoming()

    # A second press of the same button changes nothing.
    answer = await chat.press(ADMIN, NewLectureCb(action="go").pack())
    assert answer.text is not None and "过期" in answer.text
    assert len(await lectures(chat)) == 1


async def test_cancel_leaves_the_dialogue_at_any_step(chat: Chat) -> None:
    await chat.say(ADMIN, "/newlecture")
    await chat.say(ADMIN, "宪法与生活")
    await chat.say(ADMIN, "/cancel")
    assert "已退出" in chat.last_text(ADMIN)
    await chat.say(ADMIN, "李老师")  # no longer an answer to anything
    assert "主讲" not in chat.last_text(ADMIN) and "什么时候开讲" not in chat.last_text(ADMIN)

    await fill_in(chat, ADMIN, in_two_days())
    await chat.say(ADMIN, "/cancel")
    assert "已退出" in chat.last_text(ADMIN)
    # The picker's buttons are stale now.
    answer = await chat.press(ADMIN, EveryoneCb().pack())
    assert answer.text is not None and "过期" in answer.text

    await fill_in(chat, ADMIN, in_two_days())
    await chat.press(ADMIN, LeaveCb().pack())
    assert "已退出" in chat.last_text(ADMIN)

    await fill_in(chat, ADMIN, in_two_days())
    await chat.press(ADMIN, EveryoneCb().pack())
    await chat.press(ADMIN, LeaveCb().pack())  # at the roles
    assert "已退出" in chat.last_text(ADMIN)

    await fill_in(chat, ADMIN, in_two_days())
    await chat.press(ADMIN, EveryoneCb().pack())
    await chat.press(ADMIN, DoneCb().pack())
    await chat.press(ADMIN, LeaveCb().pack())
    assert "已退出" in chat.last_text(ADMIN)
    answer = await chat.press(ADMIN, NewLectureCb(action="go").pack())
    assert answer.text is not None and "过期" in answer.text
    assert await lectures(chat) == []


async def test_only_staff_schedule_and_forged_buttons_change_nothing(chat: Chat) -> None:
    await chat.say(STUDENT, "/newlecture")
    assert "只有管理员和学校联络员" in chat.last_text(STUDENT)
    await chat.say(STUDENT, "宪法与生活")
    assert "课程" not in chat.last_text(STUDENT)
    for data in (
        NewLectureCb(action="go").pack(),
        EveryoneCb().pack(),
        NewLectureCb(action="launch").pack(),
    ):
        answer = await chat.press(STUDENT, data)
        assert answer.text is not None and "过期" in answer.text
    # Forged while an admin is mid-dialogue: an unknown action is refused too.
    await fill_in(chat, ADMIN, in_two_days())
    answer = await chat.press(ADMIN, LevelCb(level="everything").pack())
    assert answer.text is not None and "过期" in answer.text
    answer = await chat.press(ADMIN, NewLectureCb(action="go").pack())  # not at confirm yet
    assert answer.text is not None and "过期" in answer.text
    assert await lectures(chat) == []


async def test_a_coordinator_reaches_only_their_own_school(chat: Chat) -> None:
    first = chat.world.schools["胡杨河市第一中学"]
    other = chat.world.schools["一三一团中学"]
    third = chat.world.schools["一三七团第一小学"]
    # One school: the whole of it, or some of its classes; then who in it.
    await fill_in(chat, COORDINATOR, in_two_days())
    assert chat.bot.last_buttons()[:2] == [f"全校（{first.name}）", "按班级选择"]
    await chat.press(COORDINATOR, OwnCb().pack())
    assert f"对象：{first.name}。面向哪些身份" in chat.last_text(COORDINATOR)
    await chat.press(COORDINATOR, DoneCb().pack())
    assert first.name in chat.last_text(COORDINATOR)
    assert "人数：5" in chat.last_text(COORDINATOR)
    for forged in (EveryoneCb(), UnitCb(unit=other.id)):
        answer = await chat.press(COORDINATOR, forged.pack())
        assert answer.text is not None and "过期" in answer.text
    await chat.press(COORDINATOR, NewLectureCb(action="go").pack())
    [lecture] = await lectures(chat)
    assert lecture.audience == {"units": [first.id], "roles": []}
    assert lecture.created_by == COORDINATOR
    async with chat.session_factory() as session:
        total = await session.scalar(select(BroadcastRow.total))
    assert total == 5  # three students, a teacher and the coordinator: not the other school

    # Two schools: those two to choose from, never everyone nor a third.
    async with chat.session_factory() as session:
        repo = Repositories.over(session)
        coordinator = await repo.participants.by_telegram_id(COORDINATOR)
        assert coordinator is not None
        await repo.grants.grant(coordinator.id, GrantKind.COORDINATOR, other.id, ADMIN)
        await session.commit()
    await fill_in(chat, COORDINATOR, in_two_days())
    assert chat.bot.last_markup_data() == [
        LevelCb(level="schools").pack(),
        LevelCb(level="classes").pack(),
        BackCb().pack(),
        LeaveCb().pack(),
    ]
    answer = await chat.press(COORDINATOR, EveryoneCb().pack())
    assert answer.text is not None and "过期" in answer.text
    await chat.press(COORDINATOR, LevelCb(level="schools").pack())
    assert chat.bot.last_markup_data()[:2] == [
        UnitCb(unit=other.id).pack(),  # 一三一团中学 before 胡杨河市第一中学
        UnitCb(unit=first.id).pack(),
    ]
    answer = await chat.press(COORDINATOR, UnitCb(unit=third.id).pack())
    assert answer.text is not None and "只能选择自己负责的学校" in answer.text
    await chat.press(COORDINATOR, UnitCb(unit=other.id).pack())
    await chat.press(COORDINATOR, DoneCb().pack())
    await chat.press(COORDINATOR, DoneCb().pack())
    assert other.name in chat.last_text(COORDINATOR) and "人数：2" in chat.last_text(COORDINATOR)
    await chat.press(COORDINATOR, NewLectureCb(action="go").pack())
    assert [row.audience for row in await lectures(chat)][-1] == {
        "units": [other.id],
        "roles": [],
    }


async def test_a_lecture_for_teachers_is_announced_to_teachers_only(chat: Chat) -> None:
    teacher = list(Role).index(Role.TEACHER)
    student = list(Role).index(Role.STUDENT)
    await fill_in(chat, ADMIN, in_two_days())
    answer = await chat.press(ADMIN, RoleCb(role=teacher).pack())
    assert answer.text is not None and "过期" in answer.text  # no audience chosen yet
    await chat.press(ADMIN, EveryoneCb().pack())
    for stale in (PageCb(page=0), EveryoneCb()):
        answer = await chat.press(ADMIN, stale.pack())  # the audience is behind us now
        assert answer.text is not None and "过期" in answer.text
    for index in (teacher, student, student):  # students on, then off again
        await chat.press(ADMIN, RoleCb(role=index).pack())
    assert "✅ 教职工" in chat.bot.last_buttons() and "✅ 学生" not in chat.bot.last_buttons()
    answer = await chat.press(ADMIN, RoleCb(role=len(Role)).pack())
    assert answer.text is not None and "过期" in answer.text  # a forged role
    await chat.press(ADMIN, DoneCb().pack())
    assert "全体订阅者 · 教职工" in chat.last_text(ADMIN)
    await chat.press(ADMIN, NewLectureCb(action="go").pack())

    [lecture] = await lectures(chat)
    assert lecture.audience == {"units": [], "roles": ["teacher"]}
    announcement, _reminder = await articles_of(chat, lecture.id)
    async with chat.session_factory() as session:
        roles = list(
            await session.scalars(
                select(ParticipantRow.role)
                .join(DeliveryRow, DeliveryRow.participant_id == ParticipantRow.id)
                .join(BroadcastRow, BroadcastRow.id == DeliveryRow.broadcast_id)
                .where(BroadcastRow.article_id == announcement.id)
            )
        )
    assert roles and set(roles) == {"teacher"}
    summary = chat.bot.sent_texts(ADMIN)[-2]
    assert f"人数：{len(roles)}" in summary


async def test_cancelling_an_upcoming_lecture(chat: Chat) -> None:
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    async with chat.session_factory() as session:
        scheduled = await schedule_lecture(
            session,
            title="民法典",
            speaker="王老师",
            starts_at=tomorrow,
            minutes=60,
            link=LINK,
            audience=Audience(),
            created_by=ADMIN,
            zone=SHANGHAI,
            now=datetime.now(UTC),
            _=Translator.load().bind("zh-CN"),
        )
        await session.commit()
    lecture_id = scheduled.lecture.id
    assert scheduled.reminder is not None
    reminder_id = scheduled.reminder.id
    # The announcement reached two people so far (one of them chose English), is being
    # sent to a third, and the rest are still pending.
    reached, in_flight = [STUDENT, 3100], 3101
    async with chat.session_factory() as session:
        await session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.chat_id.in_(reached))
            .values(status="sent", sent_at=datetime.now(UTC))
        )
        await session.execute(
            update(DeliveryRow).where(DeliveryRow.chat_id == in_flight).values(status="sending")
        )
        await session.execute(
            update(ParticipantRow).where(ParticipantRow.telegram_id == 3100).values(locale="en")
        )
        await session.commit()
    chat.scheduler.add_planner(plan_articles)
    await chat.scheduler.start()
    assert chat.scheduler.scheduled(job_id(reminder_id))

    # Students see the list without buttons; the admin gets a cancel button.
    await chat.say(STUDENT, "/lectures")
    assert "民法典" in chat.last_text(STUDENT) and chat.bot.last_markup_data() == []
    cancel = CancelLectureCb(lecture=lecture_id, action="yes").pack()
    answer = await chat.press(STUDENT, cancel)  # forged
    assert answer.show_alert and answer.text is not None and "只有管理员" in answer.text
    answer = await chat.press(COORDINATOR, cancel)  # staff, but not theirs
    assert answer.show_alert
    assert [row.status for row in await lectures(chat)] == ["scheduled"]

    await chat.say(ADMIN, "/lectures")
    ask = CancelLectureCb(lecture=lecture_id, action="ask").pack()
    assert chat.bot.last_markup_data() == [ask]
    await chat.press(ADMIN, ask)
    assert "确定取消公开课《民法典》" in chat.last_text(ADMIN)
    await chat.press(ADMIN, CancelLectureCb(lecture=lecture_id, action="no").pack())
    assert "照常进行" in chat.last_text(ADMIN)
    assert [row.status for row in await lectures(chat)] == ["scheduled"]

    chat.bot.clear()
    answer = await chat.press(ADMIN, cancel)
    assert answer.text == "已取消"
    assert "已取消" in chat.last_text(ADMIN)
    [row] = await lectures(chat)
    assert row.status == "cancelled"
    announcement, reminder, *notices = await articles_of(chat, lecture_id)
    assert reminder.status == "cancelled"
    assert all(n.cancels_lecture and n.status == "published" for n in notices)
    # One notice per language of those to tell.
    assert sorted(n.title for n in notices) == [
        "Lecture cancelled: 民法典",
        "网络公开课取消：民法典",
    ]
    async with chat.session_factory() as session:
        states = dict(
            (await session.execute(select(BroadcastRow.article_id, BroadcastRow.state))).all()
        )
        told = list(
            await session.scalars(
                select(DeliveryRow.chat_id)
                .join(BroadcastRow, BroadcastRow.id == DeliveryRow.broadcast_id)
                .where(
                    BroadcastRow.article_id.in_([n.id for n in notices]),
                    DeliveryRow.status == "pending",
                )
                .order_by(DeliveryRow.chat_id)
            )
        )
    # The announcement stops where it was; the notices wait in the outbox, written with
    # the cancelling, for those the announcement reached or was reaching, nobody else.
    assert states == {
        announcement.id: "cancelled",
        **{n.id: "running" for n in notices},
    }
    assert told == sorted([*reached, in_flight])
    assert not chat.scheduler.scheduled(job_id(reminder_id))
    assert chat.bot.sent_texts(STUDENT) == []  # nothing sent yet: the broadcaster's job

    # The broadcaster (here, or after a restart) tells each of them once, in their language.
    broadcaster = Broadcaster(chat.context, bot=chat.bot, rate=1000.0, poll_s=0.05)
    await broadcaster.start()
    try:
        for _ in range(200):
            async with chat.session_factory() as session:
                running = await session.scalar(
                    select(func.count()).where(
                        BroadcastRow.article_id.in_([n.id for n in notices]),
                        BroadcastRow.state != "done",
                    )
                )
            if running == 0:
                break
            await asyncio.sleep(0.05)
    finally:
        await broadcaster.stop()
    assert running == 0
    for telegram_id in (STUDENT, in_flight):
        [text] = chat.bot.sent_texts(telegram_id)
        assert "网络公开课取消：民法典" in text and "已取消" in text
    [english] = chat.bot.sent_texts(3100)
    assert "Lecture cancelled: 民法典" in english and "is cancelled" in english
    assert chat.bot.sent_texts(3001) == []
    sent = [m for m in chat.bot.recorder.requests if isinstance(m, SendMessage)]
    markup: Any = sent[-1].reply_markup
    assert len(markup.inline_keyboard) == 1 == len(markup.inline_keyboard[0])  # no check-in

    # No reminder fires afterwards: not planned again, and its job, should it run, sends
    # nothing.
    await chat.scheduler.plan()
    assert not chat.scheduler.scheduled(job_id(reminder_id))
    await publish_article(chat.context, reminder_id)
    async with chat.session_factory() as session:
        reminded = await session.scalar(
            select(BroadcastRow.id).where(BroadcastRow.article_id == reminder_id)
        )
    assert reminded is None
    # Check-in is closed, and the list no longer offers it.
    answer = await chat.press(STUDENT, CheckinCb(lecture=lecture_id).pack())
    assert answer.text == "这次公开课已取消。"
    answer = await chat.press(ADMIN, cancel)
    assert answer.text is not None and "过期" in answer.text
    await chat.say(ADMIN, "/lectures")
    assert "近期没有网络公开课" in chat.last_text(ADMIN)
    del announcement


async def test_a_start_time_passed_while_confirming_is_asked_again(chat: Chat) -> None:
    await fill_in(chat, ADMIN, in_two_days())
    await chat.press(ADMIN, EveryoneCb().pack())
    await chat.press(ADMIN, DoneCb().pack())
    # The admin left the preview open past the start time.
    state = chat.dp.fsm.get_context(chat.bot, chat_id=ADMIN, user_id=ADMIN)
    draft = await LectureDraft.load(state)
    draft.starts_at = datetime.now(UTC) - timedelta(minutes=1)
    await draft.save(state)
    await chat.press(ADMIN, NewLectureCb(action="go").pack())
    assert "已经过去" in chat.last_text(ADMIN)
    assert await lectures(chat) == []
    starts_at = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=40)
    await chat.say(ADMIN, local(starts_at))
    assert "一小时内开讲" in chat.last_text(ADMIN)  # the summary again, the rest kept
    await chat.press(ADMIN, NewLectureCb(action="go").pack())
    [lecture] = await lectures(chat)
    assert lecture.starts_at == starts_at and lecture.link == LINK
    assert [a.status for a in await articles_of(chat, lecture.id)] == ["published"]
    assert chat.scheduler.upcoming() == []  # no reminder to schedule
