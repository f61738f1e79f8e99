"""Live quizzes in-process, on SQLite and PostgreSQL: shuffled options scored against the
shown order, no Telegram names kept, a stop for the teacher, a bounded end when the bot
cannot post to its group, and a helpful answer in a private chat.

The quiz clock's steps are called directly (``step``/``step_due`` with an explicit time),
so nothing here waits on a timer.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramForbiddenError
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.methods import AnswerCallbackQuery, SendMessage, SendPoll, StopPoll, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import (
    Chat,
    Message,
    MessageEntity,
    Poll,
    PollAnswer,
    PollOption,
    Update,
    User,
)
from sqlalchemy import bindparam, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.factory import create_dispatcher
from bot.i18n import Translator
from bot.livequiz_steps import LiveQuizCb, step, step_due
from bot.services import ServiceContext
from quizzes.bank import Question, QuestionBank, QuestionType, StoredQuestion
from quizzes.livequiz import (
    MAX_SEND_FAILURES,
    BoardLine,
    LiveQuiz,
    may_stop,
    plan_polls,
    unregistered_numbers,
)
from quizzes.participants import GrantKind, Role
from quizzes.permissions import Permissions
from quizzes.units import Unit, UnitKind
from storage.livequiz import LiveQuizRepository
from storage.migrate import downgrade, upgrade
from storage.models import ParticipantRow, UTCDateTime
from storage.models_livequiz import LiveAnswerRow, LivePollRow, LiveQuizRow
from storage.repositories import Repositories
from tests.factories import World, build_world
from tests.mocked_bot import BOT_USER, MockedBot, RecordingSession, callback_update, text_update
from tests.mocked_bot import user as private_user
from tests.quiz_world import registered

GROUP = -1001234567
TEACHER, STUDENT, CLASSMATE, OTHER_TEACHER, COORDINATOR = 701, 702, 703, 704, 705
ALWAYS_A = QuestionBank(
    name="答案都是A的题库",
    questions=tuple(
        Question(
            QuestionType.SINGLE,
            f"第{n}题：宪法规定的内容是哪一项？",
            (f"正确答案{n}", f"干扰项{n}甲", f"干扰项{n}乙", f"干扰项{n}丙"),
            frozenset({0}),
            "",
            (),
        )
        for n in range(1, 7)
    ),
)
_ids = itertools.count(1)


class GroupSession(RecordingSession):
    """Answers quiz polls like Telegram; a chat in ``failing`` answers with that error."""

    def __init__(self) -> None:
        super().__init__()
        self.failing: dict[int, Callable[[TelegramMethod[Any]], TelegramAPIError]] = {}

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        chat_id = getattr(method, "chat_id", None)
        if chat_id is not None and int(chat_id) in self.failing:
            self.requests.append(method)
            raise self.failing[int(chat_id)](method)
        if isinstance(method, SendPoll):
            self.requests.append(method)
            poll = Poll(
                id=f"poll-{next(_ids)}",
                question=method.question,
                options=[
                    PollOption(persistent_id=str(n), text=str(o), voter_count=0)
                    for n, o in enumerate(method.options)
                ],
                total_voter_count=0,
                is_closed=False,
                is_anonymous=False,
                type="quiz",
                allows_multiple_answers=False,
                allows_revoting=False,
                members_only=False,
                correct_option_id=method.correct_option_id,
            )
            message = Message(
                message_id=next(_ids),
                date=datetime.now(UTC),
                chat=Chat(id=int(method.chat_id), type="supergroup"),
                from_user=BOT_USER,
                poll=poll,
            )
            return message  # type: ignore[return-value]
        if isinstance(method, StopPoll):
            self.requests.append(method)
            raise TelegramBadRequest(method, "Bad Request: poll has already been closed")
        return await super().make_request(bot, method, timeout)


def chat_not_found(method: TelegramMethod[Any]) -> TelegramAPIError:
    return TelegramBadRequest(method, "Bad Request: chat not found")


def bot_kicked(method: TelegramMethod[Any]) -> TelegramAPIError:
    return TelegramForbiddenError(method, "Forbidden: bot was kicked from the supergroup chat")


@pytest.fixture
def bot() -> MockedBot:
    mocked = MockedBot()
    mocked.session = GroupSession()
    return mocked


@pytest.fixture
def session_recorder(bot: MockedBot) -> GroupSession:
    assert isinstance(bot.session, GroupSession)
    return bot.session


@pytest.fixture
def settings() -> Settings:
    return Settings(bot_token="42:TEST-token")


@pytest.fixture
def dp(session_factory: async_sessionmaker[AsyncSession], settings: Settings) -> Dispatcher:
    dispatcher = create_dispatcher(
        settings, session_factory, storage=MemoryStorage(), events_isolation=SimpleEventIsolation()
    )
    dispatcher["livequiz_rng"] = random.Random(20)
    return dispatcher


@pytest.fixture
def context(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession], bot: MockedBot
) -> ServiceContext:
    return ServiceContext(settings, session_factory, bot, Translator.load())


@pytest.fixture
async def world(session_factory: async_sessionmaker[AsyncSession]) -> World:
    world = await build_world(session_factory)
    async with session_factory() as session:
        await Repositories.over(session).banks.import_bank(
            ALWAYS_A, source_filename="a.yaml", content_sha256="a", imported_by=None
        )
        await session.commit()
    klass = world.classes["七年级1班"]
    await registered(session_factory, TEACHER, klass.id, role=Role.TEACHER, name="王老师")
    await registered(session_factory, STUDENT, klass.id, name="李华")
    await registered(session_factory, CLASSMATE, klass.id, name="张明")
    other = world.classes["七年级2班"]
    await registered(session_factory, OTHER_TEACHER, other.id, role=Role.TEACHER, name="赵老师")
    coordinator = await registered(
        session_factory,
        COORDINATOR,
        world.schools["胡杨河市第一中学"].id,
        Role.TEACHER,
        "校联络员",
    )
    async with session_factory() as session:
        await Repositories.over(session).grants.grant(
            coordinator.id, GrantKind.COORDINATOR, world.schools["胡杨河市第一中学"].id, 0
        )
        await session.commit()
    return world


def group_update(telegram_id: int, text: str) -> Update:
    command = text.split()[0]
    message = Message(
        message_id=next(_ids),
        date=datetime.now(UTC),
        chat=Chat(id=GROUP, type="supergroup", title="七年级1班"),
        from_user=User(id=telegram_id, is_bot=False, first_name="群成员", language_code="zh-hans"),
        text=text,
        entities=[MessageEntity(type="bot_command", offset=0, length=len(command))],
    )
    return Update(update_id=next(_ids), message=message)


def vote(telegram_id: int, poll_id: str, option: int, first_name: str = "群成员") -> Update:
    answer = PollAnswer(
        poll_id=poll_id,
        user=User(id=telegram_id, is_bot=False, first_name=first_name, language_code="zh-hans"),
        option_ids=[option],
        option_persistent_ids=[str(option)],
    )
    return Update(update_id=next(_ids), poll_answer=answer)


def polls(bot: MockedBot) -> list[SendPoll]:
    return [m for m in bot.recorder.requests if isinstance(m, SendPoll)]


def sent_to(bot: MockedBot, chat_id: int) -> list[str]:
    return [
        m.text
        for m in bot.recorder.requests
        if isinstance(m, SendMessage) and int(m.chat_id) == chat_id
    ]


def all_texts(bot: MockedBot) -> str:
    return "\n".join(bot.sent_texts())


async def live_quizzes(session_factory: async_sessionmaker[AsyncSession]) -> list[LiveQuizRow]:
    async with session_factory() as session:
        return list(await session.scalars(select(LiveQuizRow).order_by(LiveQuizRow.id)))


async def start_quiz(
    dp: Dispatcher, bot: MockedBot, session_factory: async_sessionmaker[AsyncSession], args: str
) -> LiveQuizRow:
    await dp.feed_update(bot, group_update(TEACHER, f"/livequiz {args}"))
    assert "课堂竞答开始" in sent_to(bot, GROUP)[-1]
    return (await live_quizzes(session_factory))[-1]


async def test_live_quiz_options_are_shuffled_and_scored_against_the_shown_order(
    dp: Dispatcher,
    bot: MockedBot,
    context: ServiceContext,
    world: World,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    live = await start_quiz(dp, bot, session_factory, "6 30")
    for seq in range(6):
        await step(context, live.id, seq)
    sent = polls(bot)
    assert len(sent) == 6
    for poll in sent:  # the right option is where the poll says it is
        assert poll.correct_option_id is not None
        assert str(poll.options[poll.correct_option_id]).startswith("正确答案")
    # Every right answer is A in the bank; pressing the first option must not win.
    positions = [poll.correct_option_id for poll in sent]
    assert len(set(positions)) > 1, positions
    first = next(i for i, p in enumerate(positions) if p != 0)
    async with session_factory() as session:
        rows = list(await session.scalars(select(LivePollRow).order_by(LivePollRow.seq)))
    poll_id = rows[first].poll_id
    right = sent[first].correct_option_id
    assert right is not None and right != 0
    await dp.feed_update(bot, vote(STUDENT, poll_id, right))
    await dp.feed_update(bot, vote(CLASSMATE, poll_id, 0))  # the old sure winner, A
    async with session_factory() as session:
        answers = {
            a.participant_id: a
            for a in await session.scalars(
                select(LiveAnswerRow).where(LiveAnswerRow.poll_id == poll_id)
            )
        }
        by_tg = {p.telegram_id: p.id for p in await session.scalars(select(ParticipantRow))}
    student, classmate = answers[by_tg[STUDENT]], answers[by_tg[CLASSMATE]]
    assert student.correct and student.option == 0  # the bank's option: its right answer
    assert not classmate.correct and classmate.option != 0


def test_plan_polls_shuffles_like_a_campaign_and_keeps_true_false_in_order() -> None:
    def stored(n: int, kind: QuestionType, options: tuple[str, ...]) -> StoredQuestion:
        return StoredQuestion(n, 1, n, kind, f"题{n}", options, frozenset({0}))

    pool = [stored(n, QuestionType.SINGLE, ("甲", "乙", "丙", "丁")) for n in range(1, 9)]
    pool.append(stored(9, QuestionType.TRUE_FALSE, ("正确", "错误")))
    plan = plan_polls(pool, 9, random.Random(7))
    assert plan == plan_polls(pool, 9, random.Random(7))  # the source decides, nothing else
    assert all(sorted(p.order) == list(range(len(p.order))) for p in plan)
    assert {p.order for p in plan if p.question_id != 9} != {(0, 1, 2, 3)}
    assert next(p.order for p in plan if p.question_id == 9) == (0, 1)


async def test_a_poll_answer_from_someone_who_never_registered_stores_no_name(
    dp: Dispatcher,
    bot: MockedBot,
    context: ServiceContext,
    world: World,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:  # a name kept by the old code, never registered
        session.add(ParticipantRow(telegram_id=9002, display_name="Tom Lee", locale="zh-CN"))
        await session.commit()
    live = await start_quiz(dp, bot, session_factory, "2 30")
    await step(context, live.id, 0)
    poll = polls(bot)[0]
    async with session_factory() as session:
        poll_id = (await session.scalars(select(LivePollRow))).one().poll_id
    assert poll.correct_option_id is not None
    await dp.feed_update(bot, vote(9001, poll_id, poll.correct_option_id, first_name="陈小雨"))
    await dp.feed_update(bot, vote(STUDENT, poll_id, poll.correct_option_id))
    await dp.feed_update(bot, vote(9002, poll_id, (poll.correct_option_id + 1) % 4, "Tom Lee"))
    await step(context, live.id, 1)  # the board after question 1
    async with session_factory() as session:
        stranger = await session.scalar(
            select(ParticipantRow).where(ParticipantRow.telegram_id == 9001)
        )
    assert stranger is not None and stranger.display_name is None
    board = next(t for t in sent_to(bot, GROUP) if "实时排行榜" in t)
    assert "陈小雨" not in all_texts(bot) and "Tom Lee" not in all_texts(bot)
    assert "1. 李华 — 答对 1 题" in board
    assert "2. 未注册的同学 1 — 答对 1 题" in board
    assert "3. 未注册的同学 2 — 答对 0 题" in board


def test_unregistered_numbers_follow_the_first_answer() -> None:
    early, late = datetime(2026, 12, 7, 2, tzinfo=UTC), datetime(2026, 12, 7, 3, tzinfo=UTC)
    lines = [
        BoardLine(5, None, 1, 1, late),
        BoardLine(9, None, 0, 1, early),
        BoardLine(2, "甲", 1, 1),
    ]
    assert unregistered_numbers(lines) == {9: 1, 5: 2}


@pytest.mark.parametrize("error", [chat_not_found, bot_kicked])
async def test_a_live_quiz_the_bot_cannot_post_to_ends_and_tells_the_teacher(
    error: Callable[[TelegramMethod[Any]], TelegramAPIError],
    dp: Dispatcher,
    bot: MockedBot,
    session_recorder: GroupSession,
    context: ServiceContext,
    world: World,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    live = await start_quiz(dp, bot, session_factory, "3 30")
    session_recorder.failing[GROUP] = error
    now = datetime.now(UTC)
    for tick in range(MAX_SEND_FAILURES):
        assert await step_due(context, now + timedelta(seconds=tick)) == 1
    assert len(polls(bot)) == MAX_SEND_FAILURES  # tried again each tick, then no more
    assert await step_due(context, now + timedelta(hours=1)) == 0
    [ended] = await live_quizzes(session_factory)
    assert ended.id == live.id and ended.finished_at is not None
    [told] = sent_to(bot, TEACHER)
    assert "课堂竞答已自动结束" in told and "在“七年级1班”群里" in told and "/livequiz" in told
    del session_recorder.failing[GROUP]  # the bot is back in the group
    await dp.feed_update(bot, group_update(TEACHER, "/livequiz 2 30"))
    assert "课堂竞答开始" in sent_to(bot, GROUP)[-1]
    assert len(await live_quizzes(session_factory)) == 2


async def test_a_live_quiz_whose_bot_is_removed_midway_ends_instead_of_counting_on(
    dp: Dispatcher,
    bot: MockedBot,
    session_recorder: GroupSession,
    context: ServiceContext,
    world: World,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    live = await start_quiz(dp, bot, session_factory, "2 5")
    now = datetime.now(UTC)
    assert await step_due(context, now) == 1
    assert len(polls(bot)) == 1
    session_recorder.failing[GROUP] = bot_kicked  # removed while question 1 is open
    for tick in range(1, 20):
        await step_due(context, now + timedelta(minutes=tick))
    [ended] = await live_quizzes(session_factory)
    assert ended.id == live.id and ended.finished_at is not None
    assert ended.current_seq <= ended.question_count  # never "question 26 of 5"
    assert len(sent_to(bot, TEACHER)) == 1


async def test_only_the_teacher_who_started_it_or_staff_can_stop_a_live_quiz(
    dp: Dispatcher,
    bot: MockedBot,
    context: ServiceContext,
    world: World,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    live = await start_quiz(dp, bot, session_factory, "3 30")
    await step(context, live.id, 0)
    for stranger in (STUDENT, OTHER_TEACHER):
        await dp.feed_update(bot, group_update(stranger, "/livequiz stop"))
        assert "只有发起这次竞答的老师" in sent_to(bot, GROUP)[-1]
    button = LiveQuizCb(action="stop", live=live.id).pack()
    await dp.feed_update(bot, callback_update(private_user(STUDENT), button))
    refused = [m for m in bot.recorder.requests if isinstance(m, AnswerCallbackQuery)][-1]
    assert refused.text is not None and "只有发起这次竞答的老师" in refused.text
    assert (await live_quizzes(session_factory))[-1].finished_at is None

    await dp.feed_update(bot, callback_update(private_user(TEACHER), button))
    assert (await live_quizzes(session_factory))[-1].finished_at is not None
    assert "课堂竞答已提前结束" in sent_to(bot, GROUP)[-1]
    assert "已出 1/3 题" in sent_to(bot, GROUP)[-1]
    assert any(isinstance(m, StopPoll) for m in bot.recorder.requests)
    await dp.feed_update(bot, group_update(TEACHER, "/livequiz stop"))
    assert "没有进行中的课堂竞答" in sent_to(bot, GROUP)[-1]

    # The school's coordinator may end a quiz another teacher started; then it can start again.
    second = await start_quiz(dp, bot, session_factory, "2 30")
    await dp.feed_update(bot, group_update(COORDINATOR, "/livequiz stop"))
    assert (await live_quizzes(session_factory))[-1].finished_at is not None
    assert "课堂竞答已提前结束" in sent_to(bot, GROUP)[-1]
    assert await step_due(context, datetime.now(UTC) + timedelta(hours=1)) == 0
    assert second.id != live.id


async def test_livequiz_in_a_private_chat_says_where_it_works(
    dp: Dispatcher, bot: MockedBot, world: World
) -> None:
    await dp.feed_update(bot, text_update(private_user(TEACHER), "/livequiz"))
    [reply] = sent_to(bot, TEACHER)
    assert "没有这个命令" not in reply
    assert "班级群" in reply and "@pufa_test_bot" in reply and "添加成员" in reply


async def test_the_migration_forgets_telegram_names_and_keeps_every_live_answer(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with session_factory() as session:
        repo = Repositories.over(session)
        await repo.banks.import_bank(
            ALWAYS_A, source_filename="a.yaml", content_sha256="a", imported_by=None
        )
        question_id = (await repo.banks.questions([b.id for b in await repo.banks.list()]))[0].id
        await session.commit()
    await downgrade(engine, "0017")
    try:
        ids = await old_live_quiz(engine, question_id)
    finally:
        await upgrade(engine)
    async with session_factory() as session:
        names = dict(
            (await session.execute(select(ParticipantRow.id, ParticipantRow.display_name))).all()
        )
        live = await LiveQuizRepository(session).get(1)
        answers = len(list(await session.scalars(select(LiveAnswerRow))))
    assert names == {ids["Tom Lee"]: None, ids["Amy"]: "Amy", ids["李华"]: "李华"}
    assert live is not None and live.failures == 0 and live.current_seq == 1
    assert answers == 2  # SQLite must not cascade a table copy into the answers
    await downgrade(engine, "0017")
    try:
        async with engine.connect() as connection:
            kept = (await connection.execute(text("SELECT count(*) FROM live_answers"))).scalar()
    finally:
        await upgrade(engine)
    assert kept == 2


async def old_live_quiz(engine: AsyncEngine, question_id: int) -> dict[str, int]:
    """A live quiz as the schema before 0018 held it, answered by a registered student and
    by someone whose Telegram name the old code stored."""
    now = datetime.now(UTC)
    at = {"now": now}
    typed = [bindparam("now", type_=UTCDateTime())]
    ids = {}
    async with engine.begin() as connection:
        people = {"Tom Lee": None, "Amy": None, "李华": now}  # Amy never answered a live poll
        for telegram_id, (name, joined_at) in enumerate(people.items(), start=1):
            ids[name] = (
                await connection.execute(
                    insert(ParticipantRow)
                    .values(telegram_id=telegram_id, display_name=name, joined_at=joined_at)
                    .returning(ParticipantRow.id)
                )
            ).scalar_one()
        await connection.execute(
            text(
                "INSERT INTO live_quizzes (id, chat_id, started_by, started_at,"
                " seconds_per_question, question_count, question_ids, current_seq)"
                " VALUES (1, :chat, 1, :now, 30, 1, :ids, 1)"
            ).bindparams(*typed),
            {"chat": GROUP, "ids": f"[{question_id}]", **at},
        )
        await connection.execute(
            text(
                "INSERT INTO live_polls (poll_id, live_quiz_id, seq, question_id,"
                " correct_option, message_id, closes_at) VALUES ('p', 1, 1, :q, 0, 5, :now)"
            ).bindparams(*typed),
            {"q": question_id, **at},
        )
        for name in ("Tom Lee", "李华"):
            await connection.execute(
                text(
                    "INSERT INTO live_answers (poll_id, participant_id, option, correct,"
                    " answered_at) VALUES ('p', :p, 0, :c, :now)"
                ).bindparams(*typed),
                {"p": ids[name], "c": True, **at},
            )
    return ids


def test_who_may_stop_a_live_quiz() -> None:
    klass = Unit(3, UnitKind.CLASS, "七年级1班", 2, "/1/2/3/")
    live = LiveQuiz(1, GROUP, TEACHER, datetime.now(UTC), None, 30, 5, 1, None)
    assert may_stop(live, TEACHER, Permissions(), klass)
    assert not may_stop(live, OTHER_TEACHER, Permissions(), klass)
    assert may_stop(live, COORDINATOR, Permissions(coordinator_of=frozenset({2})), klass)
    assert not may_stop(live, COORDINATOR, Permissions(coordinator_of=frozenset({9})), klass)
    assert may_stop(live, 1, Permissions(is_admin=True), None)
    assert not may_stop(live, COORDINATOR, Permissions(coordinator_of=frozenset({2})), None)
