"""What students and staff read: who is told what when a quiz closes, dates written the way
each language writes them, check-in times that agree with the code, and refusals that name
what was refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from aiogram import Dispatcher
from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.methods import SendDocument, TelegramMethod
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.bank_messages import describe_problem
from bot.campaign_jobs import close_campaign, open_campaign
from bot.config import Settings
from bot.factory import create_dispatcher
from bot.i18n import Translator
from bot.services import ServiceContext
from quizzes.bank import BankProblem
from quizzes.campaigns import Audience, CampaignStatus, Rules
from quizzes.engine import Feedback
from quizzes.lectures import CHECKIN_EARLY, CHECKIN_LATE
from quizzes.participants import Participant
from storage.models import ParticipantRow
from storage.models_quiz import AttemptRow
from storage.repositories import Repositories
from tests.factories import World, build_world
from tests.mocked_bot import MockedBot, RecordingSession, text_update, user
from tests.quiz_world import SMALL_BANK, registered
from tests.quiz_world import open_campaign as add_open_campaign
from tests.test_lecture_chat import ADMIN, Chat, chat, in_two_days, local  # noqa: F401
from tests.test_quiz import answer_all, attempt_row, start

REPORT_ADMIN = 9


@pytest.fixture
async def world(session_factory: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(session_factory)


@pytest.fixture
def settings() -> Settings:
    return Settings(bot_token="42:TEST-token", admin_ids=frozenset({REPORT_ADMIN}))


@pytest.fixture
def context(
    session_factory: async_sessionmaker[AsyncSession], settings: Settings
) -> ServiceContext:
    return ServiceContext(settings, session_factory, MockedBot(), Translator.load())


@pytest.fixture
def dp(session_factory: async_sessionmaker[AsyncSession], settings: Settings) -> Dispatcher:
    return create_dispatcher(
        settings, session_factory, storage=MemoryStorage(), events_isolation=SimpleEventIsolation()
    )


async def finished(
    session_factory: async_sessionmaker[AsyncSession],
    campaign_id: int,
    participant: Participant,
    *,
    passed: bool,
    number: int = 1,
) -> None:
    now = datetime.now(UTC)
    async with session_factory() as session:
        session.add(
            AttemptRow(
                campaign_id=campaign_id,
                participant_id=participant.id,
                number=number,
                status="finished",
                started_at=now - timedelta(minutes=10),
                finished_at=now,
                question_count=5,
                chat_id=participant.telegram_id,
                passed=passed,
            )
        )
        await session.commit()


async def speaks_english(
    session_factory: async_sessionmaker[AsyncSession], telegram_id: int
) -> None:
    async with session_factory() as session:
        await session.execute(
            update(ParticipantRow)
            .where(ParticipantRow.telegram_id == telegram_id)
            .values(locale="en")
        )
        await session.commit()


async def test_only_those_who_passed_are_told_to_fetch_a_certificate_when_a_quiz_closes(
    world: World, session_factory: async_sessionmaker[AsyncSession], context: ServiceContext
) -> None:
    """Regression: "已经结束，感谢参与！发送 /certificate 领取合格证书" went to the whole
    audience, those who failed and those who never took part included."""
    campaign = await add_open_campaign(session_factory, name="宪法周")
    klass = world.classes["七年级1班"].id
    passed = await registered(session_factory, 601, klass)
    failed = await registered(session_factory, 602, klass)
    again = await registered(session_factory, 603, klass)  # failed, then passed
    absent = await registered(session_factory, 604, klass)
    english = await registered(session_factory, 605, klass)
    await speaks_english(session_factory, english.telegram_id)
    await finished(session_factory, campaign.id, passed, passed=True)
    await finished(session_factory, campaign.id, failed, passed=False)
    await finished(session_factory, campaign.id, again, passed=False)
    await finished(session_factory, campaign.id, again, passed=True, number=2)
    await finished(session_factory, campaign.id, english, passed=True)

    await close_campaign(context, campaign_id=campaign.id)

    bot = context.bot
    assert isinstance(bot, MockedBot)
    for person in (passed, again):
        [text] = bot.sent_texts(person.telegram_id)
        assert "“宪法周”已结束" in text and "/certificate" in text and "合格" in text
    for person in (failed, absent):
        [text] = bot.sent_texts(person.telegram_id)
        assert "“宪法周”已结束" in text
        assert "/certificate" not in text and "证书" not in text
    [text] = bot.sent_texts(english.telegram_id)
    assert "You passed" in text and "/certificate" in text


async def test_announcements_write_dates_as_each_language_does(
    world: World, session_factory: async_sessionmaker[AsyncSession], context: ServiceContext
) -> None:
    """Regression: "将于 12-04 22:00 截止" (and the same to English readers, who cannot tell
    the day from the month)."""
    klass = world.classes["七年级1班"].id
    chinese = await registered(session_factory, 611, klass)
    english = await registered(session_factory, 612, klass)
    await speaks_english(session_factory, english.telegram_id)
    now = datetime.now(UTC)
    closes = datetime(now.year + 1, 12, 4, 14, 0, tzinfo=UTC)  # 22:00 in Shanghai
    async with session_factory() as session:
        repo = Repositories.over(session)
        bank = (
            await repo.banks.import_bank(
                SMALL_BANK, source_filename="small.yaml", content_sha256="x", imported_by=None
            )
        ).bank
        campaign = await repo.campaigns.create(
            name="宪法日",
            bank_ids=[bank.id],
            rules=Rules(questions=3),
            opens_at=now - timedelta(minutes=1),
            closes_at=closes,
            audience=Audience(),
            created_by=None,
            draft=False,
        )
        await session.commit()
    assert campaign.status is CampaignStatus.SCHEDULED

    await open_campaign(context, campaign_id=campaign.id)

    bot = context.bot
    assert isinstance(bot, MockedBot)
    [zh] = bot.sent_texts(chinese.telegram_id)
    assert "12月4日 22:00截止" in zh and "12-04" not in zh
    [en] = bot.sent_texts(english.telegram_id)
    assert "closes 4 December 22:00" in en


async def test_the_quiz_list_writes_the_closing_date_in_chinese(
    world: World, session_factory: async_sessionmaker[AsyncSession], dp: Dispatcher
) -> None:
    campaign = await add_open_campaign(session_factory, name="宪法周")
    await registered(session_factory, 621, world.classes["七年级1班"].id)
    bot = MockedBot()
    await dp.feed_update(bot, text_update(user(621), "/quiz"))
    closes = campaign.closes_at.astimezone(Settings().zone)
    expected = f"{closes.month}月{closes.day}日 {closes:%H:%M}截止（已答 0 次，共可答 2 次）"
    assert expected in bot.sent_texts(621)[-1]


async def test_the_lecture_dialogue_states_the_check_in_window_the_code_opens(chat: Chat) -> None:  # noqa: F811
    """Regression: the zh text said 开讲前后各 10 分钟, but check-in closes 10 minutes after
    the *end*."""
    await chat.say(ADMIN, "/newlecture")
    await chat.say(ADMIN, "宪法与生活")
    await chat.say(ADMIN, "李老师")
    await chat.say(ADMIN, local(in_two_days()))
    early = int(CHECKIN_EARLY.total_seconds() // 60)
    late = int(CHECKIN_LATE.total_seconds() // 60)
    assert f"签到时间为开讲前 {early} 分钟至下课后 {late} 分钟" in chat.last_text(ADMIN)
    assert "前后各" not in chat.last_text(ADMIN)


async def test_refusals_name_the_command_refused(world: World, dp: Dispatcher) -> None:
    """Regression: /export and /reports answered a student "只有……可以生成报告"."""
    bot = MockedBot()
    student = user(631)
    await dp.feed_update(bot, text_update(student, "/start"))
    await dp.feed_update(bot, text_update(student, "/report"))
    assert "可以生成报告" in bot.sent_texts(631)[-1]
    await dp.feed_update(bot, text_update(student, "/export"))
    assert "可以导出各学校参与情况表（CSV）" in bot.sent_texts(631)[-1]
    await dp.feed_update(bot, text_update(student, "/reports"))
    assert "可以查看和重新获取已生成的报告" in bot.sent_texts(631)[-1]


class RefusingDocuments(RecordingSession):
    """Telegram refuses the files (too large, a network cut): the report is kept."""

    async def make_request(self, bot, method: TelegramMethod, timeout=None):  # type: ignore[no-untyped-def, override]
        if isinstance(method, SendDocument):
            raise TelegramBadRequest(method, "Bad Request: file is too big")
        return await super().make_request(bot, method, timeout)


async def test_a_report_whose_files_are_not_sent_points_to_reports(
    world: World, dp: Dispatcher
) -> None:
    bot = MockedBot()
    bot.session = RefusingDocuments()
    await dp.feed_update(bot, text_update(user(REPORT_ADMIN), "/report 2022"))
    last = bot.sent_texts(REPORT_ADMIN)[-1]
    assert "报告已生成并保存" in last and "/reports" in last
    bot.session = RecordingSession()
    await dp.feed_update(bot, text_update(user(REPORT_ADMIN), "/reports"))
    assert bot.last_markup_data(), "the kept report is offered again"


async def test_grant_messages_read_as_sentences(
    world: World, dp: Dispatcher, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """Regression: "已授予 张老师 学校联络员权限 胡杨河市第一中学" and, in English,
    "… is now a school coordinator 胡杨河市第一中学"."""
    await registered(session_factory, 641, world.schools["胡杨河市第一中学"].id, name="张老师")
    bot = MockedBot()
    await dp.feed_update(bot, text_update(user(REPORT_ADMIN), "/start"))
    await dp.feed_update(
        bot, text_update(user(REPORT_ADMIN), "/grant coordinator 641 胡杨河市第一中学")
    )
    assert bot.sent_texts(REPORT_ADMIN)[-1] == "已授予 张老师 胡杨河市第一中学的学校联络员权限。"
    await dp.feed_update(bot, text_update(user(REPORT_ADMIN), "/grant admin 641"))
    assert bot.sent_texts(REPORT_ADMIN)[-1] == "已授予 张老师 管理员权限。"
    english = user(REPORT_ADMIN, language_code="en")
    await speaks_english(session_factory, REPORT_ADMIN)
    await dp.feed_update(bot, text_update(english, "/grant coordinator 641 胡杨河市第一中学"))
    assert bot.sent_texts(REPORT_ADMIN)[-1] == (
        "张老师 is already a school coordinator for 胡杨河市第一中学."
    )


async def test_a_failed_attempt_encourages_and_counts_the_attempts_left(
    world: World, session_factory: async_sessionmaker[AsyncSession], dp: Dispatcher
) -> None:
    """Regression: a failed attempt said only "未合格", with no word of another try."""
    campaign = await add_open_campaign(
        session_factory, questions=1, attempts_allowed=2, feedback=Feedback.END
    )
    student = await registered(session_factory, 651, world.classes["七年级1班"].id)
    bot = MockedBot()
    for tries_left in (1, 0):
        await start(dp, bot, 651, campaign.id)
        attempt = await attempt_row(session_factory, student.id)
        await answer_all(dp, bot, session_factory, 651, attempt.id, 1, wrong={1})
        result = next(t for t in reversed(bot.sent_texts(651)) if "答题完成" in t)
        assert "未合格，再接再厉！" in result
        if tries_left:
            assert "你还可以再答 1 次，发送 /quiz 再试一次。" in result
        else:
            assert "还可以再答" not in result


def test_a_duplicate_stem_names_a_row_or_a_question_not_both() -> None:
    """Regression: "与第 3 行（题）的题干重复" whatever the file was."""
    _ = Translator.load().bind("zh-CN")
    problem = BankProblem(
        row=5, column="题干", code="duplicate_question", params={"first_row": 3, "stem": "国旗"}
    )
    assert describe_problem(problem, _, numbering="row").endswith("与第 3 行题干重复：“国旗”。")
    assert describe_problem(problem, _, numbering="question").endswith(
        "与第 3 题题干重复：“国旗”。"
    )
