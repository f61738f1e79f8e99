"""Answering in chat, in-process on SQLite and PostgreSQL: press in, rows, message out."""

from __future__ import annotations

import asyncio
import io
import itertools
import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiogram import Dispatcher
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageReplyMarkup,
    EditMessageText,
    SendMessage,
)
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.application import UnitOfWork
from bot.application.quiz import answer_options
from bot.config import Settings
from bot.factory import create_dispatcher
from bot.i18n import Translator
from bot.quiz_clock import QuizClock
from bot.services import ServiceContext
from bot.views.quiz import AnswerCb, CampaignCb, SubmitCb
from quizzes.attempts import Verdict
from quizzes.bank import LETTERS, QuestionType
from quizzes.clock import system_clock
from quizzes.engine import Feedback, shows_deadline
from quizzes.participants import Participant, Role
from storage.models_quiz import AttemptQuestionRow, AttemptRow, CampaignRow
from storage.repositories import Repositories
from tests.factories import World, build_world
from tests.mocked_bot import MockedBot, callback_update, text_update, user
from tests.quiz_world import open_campaign, registered, right_positions


@pytest.fixture
async def world(session_factory: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(session_factory)


@pytest.fixture
def settings() -> Settings:
    return Settings(bot_token="42:TEST-token")


@pytest.fixture
def dp(session_factory: async_sessionmaker[AsyncSession], settings: Settings) -> Dispatcher:
    return create_dispatcher(
        settings, session_factory, storage=MemoryStorage(), events_isolation=SimpleEventIsolation()
    )


@pytest.fixture
def bot() -> MockedBot:
    return MockedBot()


async def attempt_row(
    session_factory: async_sessionmaker[AsyncSession], participant_id: int
) -> AttemptRow:
    async with session_factory() as session:
        row = await session.scalar(
            select(AttemptRow)
            .where(AttemptRow.participant_id == participant_id)
            .order_by(AttemptRow.id.desc())
        )
        assert row is not None
        return row


async def participant_of(
    session_factory: async_sessionmaker[AsyncSession], telegram_id: int
) -> Participant:
    async with session_factory() as session:
        found = await Repositories.over(session).participants.by_telegram_id(telegram_id)
    assert found is not None
    return found


def toasts(bot: MockedBot) -> list[str]:
    return [m.text or "" for m in bot.recorder.requests if isinstance(m, AnswerCallbackQuery)]


async def start(dp: Dispatcher, bot: MockedBot, telegram_id: int, campaign_id: int) -> None:
    await dp.feed_update(bot, text_update(user(telegram_id), "/quiz"))
    assert CampaignCb(campaign=campaign_id).pack() in bot.last_markup_data()
    await dp.feed_update(
        bot, callback_update(user(telegram_id), CampaignCb(campaign=campaign_id).pack())
    )


async def answer_all(
    dp: Dispatcher,
    bot: MockedBot,
    session_factory: async_sessionmaker[AsyncSession],
    telegram_id: int,
    attempt_id: int,
    count: int,
    *,
    wrong: set[int] = frozenset(),  # type: ignore[assignment]
) -> None:
    for seq in range(1, count + 1):
        right = await right_positions(session_factory, attempt_id, seq)
        if seq in wrong:
            options = len(bot.last_markup_data()) - (1 if len(right) > 1 else 0)
            picks = [next(p for p in range(options) if p not in right)]
        else:
            picks = right
        for position in picks:
            data = AnswerCb(attempt=attempt_id, seq=seq, option=position).pack()
            await dp.feed_update(bot, callback_update(user(telegram_id), data))
        markup = bot.last_markup_data()
        submit = SubmitCb(attempt=attempt_id, seq=seq).pack()
        if submit in markup:
            await dp.feed_update(bot, callback_update(user(telegram_id), submit))


async def test_a_whole_attempt_scores_ranks_and_explains(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    campaign = await open_campaign(session_factory)
    student = await registered(session_factory, 301, world.classes["七年级1班"].id)

    await start(dp, bot, 301, campaign.id)
    first = next(
        m for m in bot.recorder.requests if isinstance(m, SendMessage) and "第 1/5 题" in m.text
    )
    assert "【宪法卫士测试】" in first.text
    attempt = await attempt_row(session_factory, student.id)

    await answer_all(dp, bot, session_factory, 301, attempt.id, 5, wrong={2})

    attempt = await attempt_row(session_factory, student.id)
    assert attempt.status == "finished" and attempt.points == 4.0 and attempt.passed is True
    texts = bot.sent_texts(301)
    result = next(t for t in texts if "答题完成" in t)
    assert "得分：4 / 5（80%）" in result and "合格" in result
    assert "本校学生排名：第 1 名（共 1 人）" in result
    assert "答错或未答的题目" in result
    # The missed question shows what was pressed next to the right answer.
    shown = re.search(r"^2\. .*\n你的答案：(.+)\n正确答案：(.+)$", result, re.M)
    assert shown is not None and shown.group(1) != shown.group(2), result
    assert "❌ 答错了" in " ".join(toasts(bot))


async def test_double_press_records_one_answer(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    campaign = await open_campaign(session_factory)
    student = await registered(session_factory, 302, world.classes["七年级1班"].id)
    await start(dp, bot, 302, campaign.id)
    attempt = await attempt_row(session_factory, student.id)
    right = await right_positions(session_factory, attempt.id, 1)
    press = AnswerCb(attempt=attempt.id, seq=1, option=right[0]).pack()
    if len(right) > 1:  # multiple choice: tick the answers, then press "submit" twice
        for position in right:
            tick = AnswerCb(attempt=attempt.id, seq=1, option=position).pack()
            await dp.feed_update(bot, callback_update(user(302), tick))
        press = SubmitCb(attempt=attempt.id, seq=1).pack()

    await asyncio.gather(
        dp.feed_update(bot, callback_update(user(302), press)),
        dp.feed_update(bot, callback_update(user(302), press)),
    )
    await dp.feed_update(bot, callback_update(user(302), press))

    attempt = await attempt_row(session_factory, student.id)
    assert attempt.current_seq == 2 and attempt.points in (0.0, 1.0)
    async with session_factory() as session:
        answered = await session.scalars(
            select(AttemptQuestionRow).where(
                AttemptQuestionRow.attempt_id == attempt.id,
                AttemptQuestionRow.answered_at.is_not(None),
            )
        )
        assert len(list(answered)) == 1
    assert sum("过去了" in t or "已经记录" in t for t in toasts(bot)) == 2


async def test_someone_elses_attempt_and_forged_data_change_nothing(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    campaign = await open_campaign(session_factory)
    owner = await registered(session_factory, 303, world.classes["七年级1班"].id)
    await registered(session_factory, 304, world.classes["七年级2班"].id)
    await start(dp, bot, 303, campaign.id)
    attempt = await attempt_row(session_factory, owner.id)

    await dp.feed_update(
        bot, callback_update(user(304), AnswerCb(attempt=attempt.id, seq=1, option=0).pack())
    )
    await dp.feed_update(
        bot, callback_update(user(303), AnswerCb(attempt=attempt.id, seq=1, option=7).pack())
    )
    await dp.feed_update(
        bot, callback_update(user(303), AnswerCb(attempt=attempt.id, seq=3, option=0).pack())
    )
    await dp.feed_update(bot, callback_update(user(303), "a:notanumber:1:1"))

    assert "这道题不是发给你的" in toasts(bot)[-4]
    assert all("过期" in t or "过去了" in t for t in toasts(bot)[-3:])
    attempt = await attempt_row(session_factory, owner.id)
    assert attempt.current_seq == 1 and attempt.points == 0.0


async def test_multiple_choice_toggles_then_submits(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    campaign = await open_campaign(session_factory, partial_credit=True)
    student = await registered(session_factory, 305, world.classes["七年级1班"].id)
    await start(dp, bot, 305, campaign.id)
    attempt = await attempt_row(session_factory, student.id)
    async with session_factory() as session:
        rows = list(
            await session.scalars(
                select(AttemptQuestionRow).where(AttemptQuestionRow.attempt_id == attempt.id)
            )
        )
    # Walk to the multiple-choice question, answering the others right.
    for seq in range(1, 6):
        right = await right_positions(session_factory, attempt.id, seq)
        if len(right) > 1:
            empty = SubmitCb(attempt=attempt.id, seq=seq).pack()
            await dp.feed_update(bot, callback_update(user(305), empty))
            assert "至少选择一个" in toasts(bot)[-1]
            for position in right[:2]:  # two of three right: partial credit
                await dp.feed_update(
                    bot,
                    callback_update(
                        user(305), AnswerCb(attempt=attempt.id, seq=seq, option=position).pack()
                    ),
                )
            assert sum(b.startswith("☑") for b in bot.last_buttons()) == 2
            await dp.feed_update(bot, callback_update(user(305), empty))
        else:
            await dp.feed_update(
                bot,
                callback_update(
                    user(305), AnswerCb(attempt=attempt.id, seq=seq, option=right[0]).pack()
                ),
            )
    attempt = await attempt_row(session_factory, student.id)
    assert attempt.status == "finished"
    assert attempt.points == pytest.approx(4 + 2 / 3)
    assert len(rows) == 5


async def test_time_runs_out_into_no_answer_and_moves_on(
    dp: Dispatcher,
    bot: MockedBot,
    world: World,
    session_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    campaign = await open_campaign(session_factory, seconds_per_question=1)
    student = await registered(session_factory, 306, world.classes["七年级1班"].id)
    await start(dp, bot, 306, campaign.id)
    attempt = await attempt_row(session_factory, student.id)
    clock = QuizClock(ServiceContext(settings, session_factory, bot, Translator.load()))
    await asyncio.sleep(1.1)

    assert await clock.tick() == 1

    attempt = await attempt_row(session_factory, student.id)
    assert attempt.current_seq == 2
    edits = [m for m in bot.recorder.requests if isinstance(m, EditMessageText)]
    assert "上一题时间到" in edits[-1].text and "第 2/5 题" in edits[-1].text
    # A late press on the timed-out question is refused and changes nothing.
    await dp.feed_update(
        bot, callback_update(user(306), AnswerCb(attempt=attempt.id, seq=1, option=0).pack())
    )
    assert "过去了" in toasts(bot)[-1]
    assert await clock.tick() == 0  # nothing else is overdue yet


async def test_interrupted_attempt_resumes_where_it_was(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    campaign = await open_campaign(session_factory)
    student = await registered(session_factory, 307, world.classes["七年级1班"].id)
    await start(dp, bot, 307, campaign.id)
    attempt = await attempt_row(session_factory, student.id)
    await answer_all(dp, bot, session_factory, 307, attempt.id, 1)

    await start(dp, bot, 307, campaign.id)

    resumed = [m.text for m in bot.recorder.requests if isinstance(m, SendMessage)][-1]
    assert "继续上次未完成的答题" in resumed and "第 2/5 题" in resumed
    async with session_factory() as session:
        count = len(
            list(
                await session.scalars(
                    select(AttemptRow).where(AttemptRow.participant_id == student.id)
                )
            )
        )
    assert count == 1


async def test_attempts_allowed_and_audience_are_enforced(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    school = world.schools["一三一团中学"]
    campaign = await open_campaign(
        session_factory,
        attempts_allowed=1,
        questions=1,
        unit_ids=(school.id,),
        feedback=Feedback.END,
    )
    outsider = await registered(session_factory, 308, world.classes["七年级1班"].id)
    insider = await registered(session_factory, 309, school.id)

    await dp.feed_update(bot, text_update(user(308), "/quiz"))
    assert "没有你可以参加的答题活动" in bot.sent_texts(308)[-1]
    await dp.feed_update(bot, callback_update(user(308), CampaignCb(campaign=campaign.id).pack()))
    assert "不对你所在的学校（班级）或身份开放" in toasts(bot)[-1]

    await start(dp, bot, 309, campaign.id)
    attempt = await attempt_row(session_factory, insider.id)
    await answer_all(dp, bot, session_factory, 309, attempt.id, 1)
    await dp.feed_update(bot, callback_update(user(309), CampaignCb(campaign=campaign.id).pack()))
    assert "次数已经用完" in toasts(bot)[-1]
    assert outsider.id != insider.id


async def test_nothing_is_accepted_after_the_window_closes(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    campaign = await open_campaign(session_factory, closes_in=timedelta(seconds=2))
    student = await registered(session_factory, 310, world.classes["七年级1班"].id)
    await start(dp, bot, 310, campaign.id)
    attempt = await attempt_row(session_factory, student.id)
    await asyncio.sleep(2.1)

    await dp.feed_update(
        bot, callback_update(user(310), AnswerCb(attempt=attempt.id, seq=1, option=0).pack())
    )

    assert "已经结束" in toasts(bot)[-1]
    attempt = await attempt_row(session_factory, student.id)
    assert attempt.status == "finished" and attempt.points == 0.0


async def test_certificate_asks_the_name_once_with_consent_and_renders_chinese(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    from aiogram.methods import SendDocument

    from handlers.certificates import AgeCb, CertificateCb

    campaign = await open_campaign(session_factory, questions=2, feedback=Feedback.END)
    student = await registered(session_factory, 311, world.classes["七年级1班"].id)
    await start(dp, bot, 311, campaign.id)
    attempt = await attempt_row(session_factory, student.id)
    await answer_all(dp, bot, session_factory, 311, attempt.id, 2)
    assert "发送 /certificate 领取证书" in bot.sent_texts(311)[-1]

    await dp.feed_update(bot, text_update(user(311), "/certificate"))
    assert CertificateCb(attempt=attempt.id).pack() in bot.last_markup_data()
    await dp.feed_update(bot, callback_update(user(311), CertificateCb(attempt=attempt.id).pack()))
    assert "满 14 周岁" in bot.sent_texts(311)[-1]
    adult = AgeCb(attempt=attempt.id, under_14=False).pack()
    await dp.feed_update(bot, callback_update(user(311), adult))
    assert "真实姓名" in bot.sent_texts(311)[-1]
    await dp.feed_update(bot, text_update(user(311), "李华"))

    documents = [m for m in bot.recorder.requests if isinstance(m, SendDocument)]
    assert len(documents) == 1
    # A second certificate does not ask again; /forgetname deletes the name.
    await dp.feed_update(bot, callback_update(user(311), CertificateCb(attempt=attempt.id).pack()))
    assert len([m for m in bot.recorder.requests if isinstance(m, SendDocument)]) == 2
    await dp.feed_update(bot, text_update(user(311), "/forgetname"))
    assert "已删除" in bot.sent_texts(311)[-1]
    # Someone else's certificate button is refused.
    await registered(session_factory, 312, world.classes["七年级1班"].id)
    await dp.feed_update(bot, callback_update(user(312), CertificateCb(attempt=attempt.id).pack()))
    assert "过期" in toasts(bot)[-1]


async def test_top_ranks_by_score_then_time_and_records_the_list(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    from aiogram.methods import SendDocument

    from storage.models_quiz import ShortlistEntryRow

    campaign = await open_campaign(session_factory, questions=2, feedback=Feedback.END)
    people = [(321, set()), (322, {1}), (323, set())]
    for telegram_id, wrong in people:
        student = await registered(
            session_factory, telegram_id, world.classes["七年级1班"].id, name=f"学生{telegram_id}"
        )
        await start(dp, bot, telegram_id, campaign.id)
        attempt = await attempt_row(session_factory, student.id)
        await answer_all(dp, bot, session_factory, telegram_id, attempt.id, 2, wrong=wrong)

    await dp.feed_update(bot, text_update(user(321), "/top 5"))
    assert "只有学校联络员和管理员" in bot.sent_texts(321)[-1]

    admin = 9100
    dispatcher = create_dispatcher(
        Settings(bot_token="42:TEST-token", admin_ids=frozenset({admin})),
        session_factory,
        storage=MemoryStorage(),
        events_isolation=SimpleEventIsolation(),
    )
    await dispatcher.feed_update(bot, text_update(user(admin), "/top 2"))
    listing = bot.sent_texts(admin)[-1]
    # Both full marks rank above the one mistake; between them, less time ranks first.
    assert "学生321" in listing and "学生323" in listing and "学生322" not in listing
    async with session_factory() as session:
        times = dict(
            (await session.execute(select(AttemptRow.participant_id, AttemptRow.total_ms))).all()
        )
    names = {
        p.id: f"学生{p.telegram_id}"
        for p in [await participant_of(session_factory, t) for t in (321, 323)]
    }
    first = min(names, key=lambda pid: (times[pid], pid))
    assert f"1. {names[first]}" in listing
    assert any(isinstance(m, SendDocument) for m in bot.recorder.requests)
    # Scripted answers come faster than anyone can read: flagged for the admin, still counted.
    assert "快于读题所需时间" in listing
    async with session_factory() as session:
        flagged = set((await session.scalars(select(AttemptRow.flagged))).all())
    assert flagged == {2}
    async with session_factory() as session:
        entries = list(
            await session.scalars(select(ShortlistEntryRow).order_by(ShortlistEntryRow.rank))
        )
    assert [e.rank for e in entries] == [1, 2]

    await dispatcher.feed_update(bot, text_update(user(admin), "/qstats"))
    assert "各题统计" in bot.sent_texts(admin)[-1]


async def test_reimporting_a_bank_keeps_the_questions_attempts_were_given(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    from dataclasses import replace

    from tests.quiz_world import SMALL_BANK

    campaign = await open_campaign(session_factory, feedback=Feedback.END)
    student = await registered(session_factory, 331, world.classes["七年级1班"].id)
    await start(dp, bot, 331, campaign.id)
    attempt = await attempt_row(session_factory, student.id)
    await answer_all(dp, bot, session_factory, 331, attempt.id, 5)
    # The teacher changes one answer and drops the last question, then imports again.
    changed = list(SMALL_BANK.questions[:4])
    changed[0] = replace(changed[0], correct=frozenset({1}))
    async with session_factory() as session:
        repo = Repositories.over(session)
        await repo.banks.import_bank(
            replace(SMALL_BANK, questions=tuple(changed)),
            source_filename="small.yaml",
            content_sha256="y",
            imported_by=None,
        )
        await session.commit()
        asked = await repo.attempts.all_questions(attempt.id)
        bank = await repo.banks.by_name(SMALL_BANK.name)
        assert bank is not None
        live = await repo.banks.questions([bank.id])
    # The finished attempt still shows what was asked, with the answer it was marked against.
    assert len(asked) == 5 and all((q.points or 0) == 1 for q in asked)
    first = next(q for q in asked if q.question.stem == SMALL_BANK.questions[0].stem)
    assert first.question.correct == frozenset({0})
    # New draws see the bank as it is now.
    assert len(live) == 4
    assert next(q for q in live if q.stem == SMALL_BANK.questions[0].stem).correct == {1}


async def test_a_campaign_left_open_by_long_downtime_still_closes(
    world: World, session_factory: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    from bot.campaign_jobs import plan_campaigns
    from bot.scheduler import Scheduler

    campaign = await open_campaign(session_factory, closes_in=timedelta(seconds=1))
    async with session_factory() as session:
        row = await session.get(CampaignRow, campaign.id)
        assert row is not None
        row.closes_at = row.closes_at - timedelta(days=5)  # closed days ago, while down
        row.opens_at = row.closes_at - timedelta(days=1)
        row.status = "open"
        await session.commit()
    scheduler = Scheduler(
        ServiceContext(settings, session_factory, MockedBot(), Translator.load())
    )
    scheduler.add_planner(plan_campaigns)
    await scheduler.start()
    try:
        for _ in range(100):
            async with session_factory() as session:
                status = await session.scalar(select(CampaignRow.status))
            if status == "closed":
                break
            await asyncio.sleep(0.05)
    finally:
        await scheduler.stop()
    assert status == "closed"


def test_certificate_text_renders_with_real_glyphs_not_boxes() -> None:
    from bot.certificates import CertificateText, render_certificate
    from bot.fonts import missing_glyphs, require_cjk_font

    text = CertificateText(
        title="合格证书",
        name_line="李华 同学：",
        body="在“2026年“宪法卫士”网络答题”活动中成绩合格，得分率 95%，特发此证。",
        issuer="兵团第一师教育局",
        date_line="2026年12月4日",
        serial_line="证书编号：2026-000123",
        verify_line="查验方法：在 Telegram 中向 @pufa_bot 发送 /verify 7KQ2M-X9PTA",
    )
    font = require_cjk_font()
    everything = "".join(
        (
            text.title,
            text.name_line,
            text.body,
            text.issuer,
            text.date_line,
            text.serial_line,
            text.verify_line,
        )
    )
    assert missing_glyphs(font, everything) == []
    png = render_certificate(text)
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("L")
    # The title is drawn: the band where it sits has ink, not just background.
    band = image.crop((400, 150, 1200, 270))
    darkest, _lightest = band.getextrema()
    assert isinstance(darkest, int) and darkest < 128


def live_question_messages(bot: MockedBot, attempt_id: int) -> list[int]:
    """Ids of the messages whose buttons still answer the attempt, replaying what was sent
    and edited (the recording bot numbers the messages it sends from 1000)."""
    numbers = itertools.count(1000)
    markups: dict[int, Any] = {}
    for method in bot.recorder.requests:
        if isinstance(method, SendMessage):
            markups[next(numbers)] = method.reply_markup
        elif (
            isinstance(method, EditMessageText | EditMessageReplyMarkup)
            and method.message_id in markups
        ):
            markups[method.message_id] = method.reply_markup
    prefix = f"a:{attempt_id}:"
    return [
        message_id
        for message_id, markup in markups.items()
        if markup is not None
        and any(
            (button.callback_data or "").startswith(prefix)
            for row in markup.inline_keyboard
            for button in row
        )
    ]


async def test_a_double_tap_on_start_leaves_one_live_question(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    campaign = await open_campaign(session_factory)
    student = await registered(session_factory, 341, world.classes["七年级1班"].id)
    await dp.feed_update(bot, text_update(user(341), "/quiz"))
    tap = CampaignCb(campaign=campaign.id).pack()

    await asyncio.gather(
        dp.feed_update(bot, callback_update(user(341), tap)),
        dp.feed_update(bot, callback_update(user(341), tap)),
    )

    attempt = await attempt_row(session_factory, student.id)
    assert live_question_messages(bot, attempt.id) == [attempt.message_id]
    retired = [m for m in bot.recorder.requests if isinstance(m, EditMessageText)]
    assert len(retired) == 1 and retired[0].message_id != attempt.message_id
    assert "在下方的新消息中继续" in retired[0].text and retired[0].reply_markup is None


async def test_a_resumed_attempt_takes_the_buttons_off_the_old_message(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    campaign = await open_campaign(session_factory)
    student = await registered(session_factory, 342, world.classes["七年级1班"].id)
    await start(dp, bot, 342, campaign.id)
    attempt = await attempt_row(session_factory, student.id)
    first_message = attempt.message_id
    assert first_message is not None
    right = await right_positions(session_factory, attempt.id, 1)
    for position in right:  # ticks first if it is the multiple-choice question
        press = AnswerCb(attempt=attempt.id, seq=1, option=position).pack()
        await dp.feed_update(bot, callback_update(user(342), press, message_id=first_message))
    if len(right) > 1:
        submit = SubmitCb(attempt=attempt.id, seq=1).pack()
        await dp.feed_update(bot, callback_update(user(342), submit, message_id=first_message))
    assert live_question_messages(bot, attempt.id) == [first_message]  # now question 2

    await start(dp, bot, 342, campaign.id)  # days later, from /quiz

    attempt = await attempt_row(session_factory, student.id)
    assert attempt.message_id != first_message
    assert live_question_messages(bot, attempt.id) == [attempt.message_id]
    assert "第 2/5 题" in bot.sent_texts(342)[-2]  # the new message
    assert "在下方的新消息中继续" in bot.sent_texts(342)[-1]  # the old one, retired


async def test_without_a_time_limit_a_question_names_no_deadline(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    campaign = await open_campaign(session_factory, closes_in=timedelta(days=30))
    await registered(session_factory, 343, world.classes["七年级1班"].id)

    await start(dp, bot, 343, campaign.id)

    question = bot.sent_texts(343)[-1]
    assert "第 1/5 题" in question and "⏱" not in question


async def test_a_deadline_on_another_day_gives_its_date(
    dp: Dispatcher,
    bot: MockedBot,
    world: World,
    session_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    campaign = await open_campaign(session_factory, closes_in=timedelta(days=30))
    async with session_factory() as session:
        row = await session.get(CampaignRow, campaign.id)
        assert row is not None
        row.seconds_per_attempt = 3 * 24 * 3600  # three days for the whole attempt
        await session.commit()
    student = await registered(session_factory, 344, world.classes["七年级1班"].id)

    await start(dp, bot, 344, campaign.id)

    attempt = await attempt_row(session_factory, student.id)
    assert attempt.deadline is not None
    local = attempt.deadline.astimezone(settings.zone)
    expected = f"⏱ 请在 {local.month}月{local.day}日 {local:%H:%M:%S} 前作答"
    assert expected in bot.sent_texts(344)[-1]


def test_a_deadline_is_stated_under_a_time_limit_or_when_the_close_is_today() -> None:
    zone = ZoneInfo("Asia/Shanghai")
    now = datetime(2026, 12, 4, 10, 0, tzinfo=zone)
    tonight = datetime(2026, 12, 4, 18, 0, tzinfo=zone)
    next_month = datetime(2027, 1, 4, 9, 24, tzinfo=zone)
    assert shows_deadline(tonight, timed=False, now=now, zone=zone)
    assert not shows_deadline(next_month, timed=False, now=now, zone=zone)
    assert shows_deadline(next_month, timed=True, now=now, zone=zone)
    assert not shows_deadline(None, timed=True, now=now, zone=zone)
    # "Today" is Beijing's day: 01:00 in Beijing is still the day before in UTC.
    early = datetime(2026, 12, 5, 1, 0, tzinfo=zone)
    assert not shows_deadline(tonight, timed=False, now=early, zone=zone)


async def walk_questions(
    dp: Dispatcher,
    bot: MockedBot,
    session_factory: async_sessionmaker[AsyncSession],
    telegram_id: int,
    attempt_id: int,
    count: int,
) -> dict[str, list[str]]:
    """Answer every question rightly; the buttons each kind of question was shown with."""
    buttons: dict[str, list[str]] = {}
    for seq in range(1, count + 1):
        text = bot.sent_texts(telegram_id)[-1]
        kinds = ("判断题", "单选题", "多选题", "true or false", "single choice", "multiple")
        kind = next(k for k in kinds if k in text)
        buttons.setdefault(kind, bot.last_buttons())
        await answer_rightly(dp, bot, session_factory, telegram_id, attempt_id, seq)
    return buttons


async def answer_rightly(
    dp: Dispatcher,
    bot: MockedBot,
    session_factory: async_sessionmaker[AsyncSession],
    telegram_id: int,
    attempt_id: int,
    seq: int,
) -> None:
    right = await right_positions(session_factory, attempt_id, seq)
    for position in right:
        data = AnswerCb(attempt=attempt_id, seq=seq, option=position).pack()
        await dp.feed_update(bot, callback_update(user(telegram_id), data))
    if len(right) > 1:
        submit = SubmitCb(attempt=attempt_id, seq=seq).pack()
        await dp.feed_update(bot, callback_update(user(telegram_id), submit))


async def test_true_false_buttons_say_right_and_wrong(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    campaign = await open_campaign(session_factory)
    student = await registered(session_factory, 345, world.classes["七年级1班"].id)
    english = await registered(session_factory, 346, world.classes["七年级1班"].id)
    async with session_factory() as session:
        await Repositories.over(session).participants.update(english, locale="en")
        await session.commit()

    await start(dp, bot, 345, campaign.id)
    attempt = await attempt_row(session_factory, student.id)
    shown = await walk_questions(dp, bot, session_factory, 345, attempt.id, 5)
    await start(dp, bot, 346, campaign.id)
    attempt = await attempt_row(session_factory, english.id)
    shown_in_english = await walk_questions(dp, bot, session_factory, 346, attempt.id, 5)

    assert shown["判断题"] == ["正确", "错误"]
    assert shown["单选题"] == ["A", "B", "C", "D"]
    assert shown_in_english["true or false"] == ["Right", "Wrong"]


async def test_a_result_names_the_options_in_the_order_they_were_shown(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    campaign = await open_campaign(session_factory)
    student = await registered(session_factory, 347, world.classes["七年级1班"].id)
    await start(dp, bot, 347, campaign.id)
    attempt = await attempt_row(session_factory, student.id)

    await answer_all(dp, bot, session_factory, 347, attempt.id, 5, wrong={1, 2, 3, 4, 5})

    result = next(t for t in bot.sent_texts(347) if "答题完成" in t)
    async with session_factory() as session:
        asked = await Repositories.over(session).attempts.all_questions(attempt.id)
    for question in asked:
        stored, order = question.question, question.order
        if stored.type is QuestionType.TRUE_FALSE:
            assert "你的答案：错误\n正确答案：正确" in result
            continue
        positions = sorted(order.index(i) for i in stored.correct)
        answer = "；".join(f"{LETTERS[p]}. {stored.options[order[p]]}" for p in positions)
        assert f"正确答案：{answer}\n" in result, result
        if stored.type is QuestionType.MULTIPLE:  # the toast named the three, in order
            assert f"❌ 答错了，正确答案是 {answer}。" in toasts(bot)
            assert len(positions) == 3
        if question.seq < 5:  # and so does the note above the next question
            following = next(t for t in bot.sent_texts(347) if f"第 {question.seq + 1}/5 题" in t)
            assert following.startswith(f"❌ 上一题答错了，正确答案是 {answer}。继续加油！\n")


async def test_a_student_is_ranked_among_students_and_a_teacher_among_teachers(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    campaign = await open_campaign(session_factory, feedback=Feedback.END)
    school = world.schools["胡杨河市第一中学"]
    people = [  # the teacher first, with the best score of all
        (353, school.id, Role.TEACHER, set()),
        (351, world.classes["七年级1班"].id, Role.STUDENT, {2}),
        (352, world.classes["七年级2班"].id, Role.STUDENT, {2, 3}),
    ]
    for telegram_id, unit_id, role, wrong in people:
        person = await registered(session_factory, telegram_id, unit_id, role=role)
        await start(dp, bot, telegram_id, campaign.id)
        attempt = await attempt_row(session_factory, person.id)
        await answer_all(dp, bot, session_factory, telegram_id, attempt.id, 5, wrong=wrong)

    def result(telegram_id: int) -> str:
        return next(t for t in bot.sent_texts(telegram_id) if "答题完成" in t)

    assert "本校学生排名：第 1 名（共 1 人）" in result(351)
    assert "本校学生排名：第 2 名（共 2 人）" in result(352)
    assert "本校教职工排名：第 1 名（共 1 人）" in result(353)


def _buttons_of(attempt_id: int, seq: int) -> InlineKeyboardMarkup:
    """A question message's answer buttons, as Telegram sends them with a press."""
    data = AnswerCb(attempt=attempt_id, seq=seq, option=0).pack()
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="A", callback_data=data)]]
    )


async def test_a_press_sent_again_after_its_answer_was_kept_moves_the_message_on(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """The process that kept an answer was stopped before it edited the message; Telegram
    sends the press again to another: the message moves on to where the attempt is, and at
    the end the result is sent, instead of a toast that leaves the old question standing."""
    campaign = await open_campaign(session_factory, questions=2)
    student = await registered(session_factory, 304, world.classes["七年级1班"].id)
    await start(dp, bot, 304, campaign.id)
    attempt = await attempt_row(session_factory, student.id)
    assert attempt.message_id is not None

    async def kept_without_the_message(seq: int) -> None:  # what the stopped process did
        right = await right_positions(session_factory, attempt.id, seq)
        async with session_factory() as session:
            step = await answer_options(
                UnitOfWork.over(session),
                304,
                attempt.id,
                seq,
                frozenset(right),
                clock=system_clock,
            )
        assert step.verdict is not Verdict.STALE

    async def press_again(seq: int, shown: int, message_id: int | None) -> None:
        data = AnswerCb(attempt=attempt.id, seq=seq, option=0).pack()
        update = callback_update(user(304), data, message_id or 0, _buttons_of(attempt.id, shown))
        bot.clear()
        await dp.feed_update(bot, update)

    await kept_without_the_message(1)
    await press_again(1, shown=1, message_id=attempt.message_id)
    assert "过去了" in toasts(bot)[-1]
    (edit,) = [m for m in bot.recorder.requests if isinstance(m, EditMessageText)]
    assert edit.message_id == attempt.message_id and "第 2/2 题" in edit.text
    shown_seqs = {
        (SubmitCb if data.startswith(SubmitCb.__prefix__) else AnswerCb).unpack(data).seq
        for data in bot.last_markup_data()
    }
    assert shown_seqs == {2}

    # The message shows the current question already, or the press is on another message:
    # a toast, nothing edited.
    for shown, message_id in ((2, attempt.message_id), (1, attempt.message_id + 1)):
        await press_again(1, shown=shown, message_id=message_id)
        assert not [m for m in bot.recorder.requests if isinstance(m, EditMessageText)]

    await kept_without_the_message(2)  # the last answer: the attempt is finished
    await press_again(2, shown=2, message_id=attempt.message_id)
    (edit,) = [m for m in bot.recorder.requests if isinstance(m, EditMessageText)]
    assert "你已完成" in edit.text and edit.reply_markup is None
    assert any(isinstance(m, SendMessage) and "得分" in m.text for m in bot.recorder.requests)
