"""``/qstats``: per-question statistics in chat, read by teachers and staff."""

from __future__ import annotations

import pytest
from aiogram import Dispatcher
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.methods import SendMessage
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.factory import create_dispatcher
from bot.message_parts import split_message, visible_length
from quizzes.attempts import Attempts, Verdict
from quizzes.bank import Question, QuestionBank, QuestionType
from quizzes.campaigns import Audience, Campaign, Rules
from quizzes.participants import Role
from storage.repositories import Repositories
from tests.factories import World, build_world
from tests.mocked_bot import MockedBot, text_update, user
from tests.quiz_world import registered

TEACHER = 361
QUESTIONS = 80


def long_bank() -> QuestionBank:
    """Eighty questions with long stems and options; one option has a "<" in it."""
    questions = []
    for number in range(1, QUESTIONS + 1):
        wrong = f"第{number}题的错误说法：公民年满十六周岁就可以参加全国人民代表大会代表的选举"
        if number == 7:
            wrong = "年龄<18周岁的公民也有选举权"
        questions.append(
            Question(
                QuestionType.SINGLE,
                f"第{number}题：根据《中华人民共和国宪法》的规定，下列关于公民选举权和被选举权的说法，哪一项是正确的？",
                (
                    "年满十八周岁的公民，除依法被剥夺政治权利的人以外，都有选举权",
                    wrong,
                    "丙",
                    "丁",
                ),
                frozenset({0}),
            )
        )
    questions.append(
        Question(
            QuestionType.TRUE_FALSE, "国家宪法日是12月4日。", ("正确", "错误"), frozenset({0})
        )
    )
    return QuestionBank(name="长题库", questions=tuple(questions))


@pytest.fixture
async def world(session_factory: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(session_factory)


@pytest.fixture
def dp(session_factory: async_sessionmaker[AsyncSession]) -> Dispatcher:
    return create_dispatcher(
        Settings(bot_token="42:TEST-token"),
        session_factory,
        storage=MemoryStorage(),
        events_isolation=SimpleEventIsolation(),
    )


async def long_campaign(session_factory: async_sessionmaker[AsyncSession]) -> Campaign:
    from datetime import UTC, datetime, timedelta

    async with session_factory() as session:
        repo = Repositories.over(session)
        imported = await repo.banks.import_bank(
            long_bank(), source_filename="long.yaml", content_sha256="l", imported_by=None
        )
        now = datetime.now(UTC)
        campaign = await repo.campaigns.create(
            name="宪法知识长卷",
            bank_ids=[imported.bank.id],
            rules=Rules(questions=QUESTIONS + 1, attempts_allowed=1),
            opens_at=now - timedelta(minutes=1),
            closes_at=now + timedelta(days=1),
            audience=Audience((), ()),
            created_by=None,
        )
        await session.commit()
    return campaign


async def answer_wrongly(
    session_factory: async_sessionmaker[AsyncSession],
    campaign: Campaign,
    telegram_id: int,
    unit_id: int,
) -> None:
    """Every question answered with the bank's second option (wrong; 错误 for true/false)."""
    student = await registered(session_factory, telegram_id, unit_id)
    async with session_factory() as session:
        repo = Repositories.over(session)
        attempts = Attempts(repo.attempts, repo.campaigns)
        started = await attempts.start(
            campaign, student, await repo.units.get(unit_id), chat_id=telegram_id
        )
        await repo.commit()
        attempt = started.attempt
        assert attempt is not None
        for seq in range(1, attempt.question_count + 1):
            question = await repo.attempts.question(attempt.id, seq)
            assert question is not None
            step = await attempts.choose(telegram_id, attempt.id, seq, question.order.index(1))
            await repo.commit()
            assert step.verdict is Verdict.RECORDED


async def test_qstats_names_wrong_answers_by_their_text_and_splits_long_lists(
    dp: Dispatcher, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    campaign = await long_campaign(session_factory)
    for telegram_id in (362, 363):
        await answer_wrongly(session_factory, campaign, telegram_id, world.classes["七年级1班"].id)
    await registered(session_factory, TEACHER, world.schools["胡杨河市第一中学"].id, Role.TEACHER)
    bot = MockedBot()

    await dp.feed_update(bot, text_update(user(TEACHER), "/qstats"))

    parts = [m.text for m in bot.recorder.requests if isinstance(m, SendMessage)]
    assert len(parts) >= 2
    assert all(visible_length(part) <= 4096 for part in parts)
    lines = "\n".join(parts).split("\n")
    assert lines[0] == "<b>宪法知识长卷</b> 各题统计（按正确率从低到高）："
    # Every question once, whole, on a line of its own: cut between lines only.
    assert len(lines) == 1 + QUESTIONS + 1
    for number in range(1, QUESTIONS + 1):
        wrong = f"第{number}题的错误说法：公民年满十六周岁就可以参加全国人民代表大会代表的选举"
        if number == 7:
            wrong = "年龄&lt;18周岁的公民也有选举权"
        found = [line for line in lines if line.startswith(f"第{number}题：")]
        assert len(found) == 1, number
        assert f"最常选的错误答案“{wrong}”（2 次）" in found[0]
        assert "正确率 0%" in found[0] and "…" in found[0]
    assert any("国家宪法日是12月4日。：" in line and "“错误”（2 次）" in line for line in lines)


async def test_qstats_says_which_campaign_is_missing_and_how_to_ask(
    dp: Dispatcher, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await registered(session_factory, TEACHER, world.schools["胡杨河市第一中学"].id, Role.TEACHER)
    bot = MockedBot()

    await dp.feed_update(bot, text_update(user(TEACHER), "/qstats 99"))
    assert bot.sent_texts(TEACHER)[-1].startswith("没有编号为 99 的答题活动。")
    for junk in ("/qstats abc", "/qstats 3 4", "/qstats -1", "/qstats ²"):
        await dp.feed_update(bot, text_update(user(TEACHER), junk))
        assert bot.sent_texts(TEACHER)[-1].startswith("用法：/qstats"), junk
    await dp.feed_update(bot, text_update(user(TEACHER), "/qstats 123456789012345678901234"))
    assert "没有编号为 123456789012345678901234 的答题活动" in bot.sent_texts(TEACHER)[-1]


def test_a_long_reply_is_cut_between_lines_and_counted_as_telegram_counts() -> None:
    # Entities count as one character and tags as none: 1,000 "&lt;" are 1,000 characters.
    lines = ["<b>标题</b>", "&lt;" * 1000, "字" * 3000, "😀" * 100, "尾"]
    parts = split_message(lines)
    assert parts == ["<b>标题</b>\n" + "&lt;" * 1000 + "\n" + "字" * 3000, "😀" * 100 + "\n尾"]
    assert [visible_length(part) for part in parts] == [2 + 1 + 1000 + 1 + 3000, 200 + 1 + 1]
    # A single line longer than a message goes out in plain pieces, never a broken tag.
    pieces = split_message(["<b>" + "长" * 5000 + "</b>"])
    assert pieces == ["长" * 4096, "长" * 904]
