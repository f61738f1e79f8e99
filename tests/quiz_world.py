"""A known quiz world for tests: a small bank, an open campaign, registered participants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from quizzes.bank import Question, QuestionBank, QuestionType
from quizzes.campaigns import Audience, Campaign, Rules
from quizzes.engine import Feedback
from quizzes.participants import Participant, Role
from storage.models_quiz import AttemptQuestionRow
from storage.repositories import Repositories

SMALL_BANK = QuestionBank(
    name="宪法小题库",
    questions=(
        Question(
            QuestionType.SINGLE,
            "我国的根本大法是什么？",
            ("宪法", "刑法", "民法典", "教育法"),
            frozenset({0}),
            "《宪法》序言：本宪法……是国家的根本法，具有最高的法律效力。",
            ("总纲",),
        ),
        Question(
            QuestionType.SINGLE,
            "国家宪法日是每年的哪一天？",
            ("3月15日", "12月4日", "10月1日", "7月1日"),
            frozenset({1}),
            "2014年全国人大常委会决定将12月4日设立为国家宪法日。",
            ("国家宪法日",),
        ),
        Question(
            QuestionType.MULTIPLE,
            "下列哪些属于我国国家象征？",
            ("国旗", "国歌", "国徽", "市花"),
            frozenset({0, 1, 2}),
            "《宪法》第四章规定了国旗、国歌、国徽、首都。",
            ("国旗国歌国徽首都",),
        ),
        Question(
            QuestionType.TRUE_FALSE,
            "中华人民共和国的首都是北京。",
            ("正确", "错误"),
            frozenset({0}),
            "《宪法》第一百四十三条：中华人民共和国首都是北京。",
            ("国旗国歌国徽首都",),
        ),
        Question(
            QuestionType.SINGLE,
            "年满多少周岁的公民有选举权和被选举权？",
            ("十六周岁", "十八周岁", "二十周岁", "二十二周岁"),
            frozenset({1}),
            "《宪法》第三十四条。",
            ("公民的基本权利和义务",),
        ),
    ),
)


async def open_campaign(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    questions: int = 5,
    seconds_per_question: int | None = None,
    attempts_allowed: int = 2,
    feedback: Feedback = Feedback.EACH,
    partial_credit: bool = False,
    unit_ids: tuple[int, ...] = (),
    closes_in: timedelta = timedelta(days=1),
    name: str = "宪法卫士测试",
) -> Campaign:
    async with session_factory() as session:
        repo = Repositories.over(session)
        bank = await repo.banks.by_name(SMALL_BANK.name)
        if bank is None:
            imported = await repo.banks.import_bank(
                SMALL_BANK, source_filename="small.yaml", content_sha256="x", imported_by=None
            )
            bank = imported.bank
        now = datetime.now(UTC)
        campaign = await repo.campaigns.create(
            name=name,
            bank_ids=[bank.id],
            rules=Rules(
                questions=questions,
                seconds_per_question=seconds_per_question,
                attempts_allowed=attempts_allowed,
                pass_mark=60,
                feedback=feedback,
                partial_credit=partial_credit,
            ),
            opens_at=now - timedelta(minutes=1),
            closes_at=now + closes_in,
            audience=Audience(unit_ids, ()),
            created_by=None,
        )
        await session.commit()
    return campaign


async def registered(
    session_factory: async_sessionmaker[AsyncSession],
    telegram_id: int,
    unit_id: int,
    role: Role = Role.STUDENT,
    name: str = "小明",
) -> Participant:
    async with session_factory() as session:
        repo = Repositories.over(session)
        participant = await repo.participants.get_or_create(telegram_id, "zh-CN")
        participant = await repo.participants.update(
            participant, unit_id=unit_id, role=role, display_name=name
        )
        participant = await repo.participants.mark_joined(participant, datetime.now(UTC))
        await session.commit()
    return participant


async def right_positions(
    session_factory: async_sessionmaker[AsyncSession], attempt_id: int, seq: int
) -> list[int]:
    """The display positions of the right answers of one asked question."""
    async with session_factory() as session:
        row = await session.scalar(
            select(AttemptQuestionRow).where(
                AttemptQuestionRow.attempt_id == attempt_id, AttemptQuestionRow.seq == seq
            )
        )
        assert row is not None
        question = await Repositories.over(session).attempts.questions([row.question_id])
    correct = question[row.question_id].correct
    return [position for position, original in enumerate(row.option_order) if original in correct]
