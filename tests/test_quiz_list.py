"""/quiz's list in chat, on SQLite and PostgreSQL: a button to start, continue or try again
only where the server would allow a press, the best result so far, the certificate of a
passed campaign, and a stale Start pressed once every attempt is used changes nothing.
The participant pages' home lists campaigns with the same use case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiogram import Dispatcher
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.methods import AnswerCallbackQuery, SendMessage
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.application import UnitOfWork
from bot.application.quiz import Offer, answer_options, open_campaigns, start_attempt
from bot.config import Settings
from bot.factory import create_dispatcher
from bot.views.quiz import CampaignCb
from handlers.certificates import CertificateCb
from quizzes.attempts import Attempt
from quizzes.campaigns import Campaign
from quizzes.clock import system_clock
from quizzes.engine import Feedback
from quizzes.participants import Participant
from storage.models_quiz import AttemptQuestionRow, AttemptRow
from storage.repositories import Repositories
from tests.factories import World, build_world
from tests.mocked_bot import MockedBot, callback_update, text_update, user
from tests.quiz_world import open_campaign, registered

NAME = "宪法卫士测试"


@pytest.fixture
async def world(session_factory: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(session_factory)


@pytest.fixture
def dp(session_factory: async_sessionmaker[AsyncSession]) -> Dispatcher:
    # An https address: the list would offer the pages as a web app wherever it may start.
    settings = Settings(bot_token="42:TEST-token", public_url="https://pufa.example.cn")
    return create_dispatcher(
        settings, session_factory, storage=MemoryStorage(), events_isolation=SimpleEventIsolation()
    )


@pytest.fixture
def bot() -> MockedBot:
    return MockedBot()


async def take(
    session_factory: async_sessionmaker[AsyncSession],
    participant: Participant,
    campaign: Campaign,
    *,
    right: int,
) -> Attempt:
    """An attempt in chat, its first ``right`` questions answered right and the rest wrong."""
    assert participant.telegram_id is not None
    async with session_factory() as session:
        uow = UnitOfWork.over(session)
        begun = await start_attempt(
            uow, campaign.id, participant, chat_id=participant.telegram_id, clock=system_clock
        )
        assert begun is not None and begun.started.attempt is not None
        attempt = begun.started.attempt
        for seq in range(1, attempt.question_count + 1):
            row = await session.scalar(
                select(AttemptQuestionRow).where(
                    AttemptQuestionRow.attempt_id == attempt.id, AttemptQuestionRow.seq == seq
                )
            )
            assert row is not None
            stored = await Repositories.over(session).attempts.questions([row.question_id])
            correct = stored[row.question_id].correct
            shown = list(enumerate(row.option_order))
            picks = frozenset(
                position for position, original in shown if (original in correct) == (seq <= right)
            )
            if seq > right:  # one wrong option is a wrong answer of any type
                picks = frozenset([min(picks)])
            step = await answer_options(
                uow, participant.telegram_id, attempt.id, seq, picks, clock=system_clock
            )
            assert step.attempt is not None
            attempt = step.attempt
    assert attempt.finished
    return attempt


async def attempt_count(session_factory: async_sessionmaker[AsyncSession], owner: int) -> int:
    async with session_factory() as session:
        count = await session.scalar(
            select(func.count()).select_from(AttemptRow).where(AttemptRow.participant_id == owner)
        )
    return int(count or 0)


async def quiz_list(dp: Dispatcher, bot: MockedBot, telegram_id: int) -> tuple[str, list[Any]]:
    """/quiz's text and its buttons (each as sent: callback data or web app)."""
    bot.clear()
    await dp.feed_update(bot, text_update(user(telegram_id), "/quiz"))
    sent = [m for m in bot.recorder.requests if isinstance(m, SendMessage)]
    assert len(sent) == 1
    markup: Any = sent[0].reply_markup
    buttons = [b for row in markup.inline_keyboard for b in row] if markup else []
    return sent[0].text, buttons


def sent_markup(bot: MockedBot) -> Any:
    return next(m for m in bot.recorder.requests if isinstance(m, SendMessage)).reply_markup


def labels(buttons: list[Any]) -> list[str]:
    return [button.text for button in buttons]


async def test_every_attempt_used_offers_no_start_and_a_stale_start_changes_nothing(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    campaign = await open_campaign(
        session_factory, questions=2, attempts_allowed=2, feedback=Feedback.END
    )
    student = await registered(session_factory, 3901, world.classes["七年级1班"].id)
    await take(session_factory, student, campaign, right=0)
    await take(session_factory, student, campaign, right=1)

    text, buttons = await quiz_list(dp, bot, 3901)

    assert "已答 2 次，共可答 2 次" in text
    assert "最好成绩：1/2（50%），未合格（合格线 60%）" in text
    assert "已完成：2 次答题机会都已用完。" in text
    assert buttons == [] and sent_markup(bot) is None  # no start, web app nor certificate

    bot.clear()
    stale = CampaignCb(campaign=campaign.id).pack()
    await dp.feed_update(bot, callback_update(user(3901), stale))

    answered = [m for m in bot.recorder.requests if isinstance(m, AnswerCallbackQuery)]
    assert [(m.text, m.show_alert) for m in answered] == [("你的答题次数已经用完了。", True)]
    assert [m for m in bot.recorder.requests if not isinstance(m, AnswerCallbackQuery)] == []
    assert await attempt_count(session_factory, student.id) == 2


async def test_a_failed_participant_with_tries_left_is_offered_to_try_again(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    campaign = await open_campaign(
        session_factory, questions=2, attempts_allowed=2, feedback=Feedback.END
    )
    student = await registered(session_factory, 3902, world.classes["七年级1班"].id)

    text, buttons = await quiz_list(dp, bot, 3902)
    assert "最好成绩" not in text and "已完成" not in text
    assert labels(buttons) == [f"开始答题：{NAME}", f"在页面中作答：{NAME}"]

    await take(session_factory, student, campaign, right=0)
    text, buttons = await quiz_list(dp, bot, 3902)

    assert "最好成绩：0/2（0%），未合格（合格线 60%）" in text
    assert "已完成" not in text
    assert labels(buttons) == [f"再答一次：{NAME}", f"在页面中作答：{NAME}"]
    assert buttons[0].callback_data == CampaignCb(campaign=campaign.id).pack()
    assert buttons[1].web_app.url == f"https://pufa.example.cn/m/app?campaign={campaign.id}"

    await dp.feed_update(bot, callback_update(user(3902), buttons[0].callback_data))
    assert "第 1/2 题" in bot.sent_texts(3902)[-1]
    assert await attempt_count(session_factory, student.id) == 2


async def test_a_passed_campaign_offers_the_certificate_of_the_best_attempt(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    campaign = await open_campaign(
        session_factory, questions=2, attempts_allowed=3, feedback=Feedback.END
    )
    student = await registered(session_factory, 3903, world.classes["七年级1班"].id)
    best = await take(session_factory, student, campaign, right=2)
    await take(session_factory, student, campaign, right=1)  # a later, worse one

    text, buttons = await quiz_list(dp, bot, 3903)

    assert "最好成绩：2/2（100%），合格（合格线 60%）" in text
    assert labels(buttons) == [f"再答一次：{NAME}", f"在页面中作答：{NAME}", f"领取证书：{NAME}"]
    assert buttons[2].callback_data == CertificateCb(attempt=best.id).pack()

    await take(session_factory, student, campaign, right=0)  # the last attempt allowed
    text, buttons = await quiz_list(dp, bot, 3903)

    assert "最好成绩：2/2（100%），合格" in text and "已完成：3 次答题机会都已用完。" in text
    assert [b.callback_data for b in buttons] == [CertificateCb(attempt=best.id).pack()]
    await dp.feed_update(bot, callback_update(user(3903), buttons[0].callback_data))
    assert "满 14 周岁" in bot.sent_texts(3903)[-1]  # the certificate's own dialogue


async def test_an_attempt_whose_time_ran_out_is_not_offered_to_continue(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    two = await open_campaign(session_factory, questions=2, attempts_allowed=2, name="两次")
    one = await open_campaign(session_factory, questions=2, attempts_allowed=1, name="一次")
    student = await registered(session_factory, 3904, world.classes["七年级1班"].id)
    async with session_factory() as session:
        uow = UnitOfWork.over(session)
        for campaign in (two, one):
            await start_attempt(uow, campaign.id, student, chat_id=3904, clock=system_clock)

    text, buttons = await quiz_list(dp, bot, 3904)
    assert [b.text for b in buttons if b.callback_data] == ["继续答题：两次", "继续答题：一次"]

    async with session_factory() as session:  # both attempts' time ran out an hour ago
        await session.execute(
            update(AttemptRow)
            .where(AttemptRow.participant_id == student.id)
            .values(deadline=datetime.now(UTC) - timedelta(hours=1))
        )
        await session.commit()
        listed = await open_campaigns(UnitOfWork.over(session), student, now=datetime.now(UTC))
    assert [c.offer for c in listed.campaigns] == [Offer.AGAIN, Offer.USED_UP]

    text, buttons = await quiz_list(dp, bot, 3904)

    assert "继续答题" not in " ".join(labels(buttons))
    assert [b.text for b in buttons if b.callback_data] == ["再答一次：两次"]
    assert "已完成：1 次答题机会都已用完。" in text
    await dp.feed_update(bot, callback_update(user(3904), CampaignCb(campaign=two.id).pack()))
    assert "第 1/2 题" in bot.sent_texts(3904)[-1] and "继续上次" not in bot.sent_texts(3904)[-1]
    assert await attempt_count(session_factory, student.id) == 3


async def test_the_list_in_english(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tried = await open_campaign(
        session_factory, questions=2, attempts_allowed=2, feedback=Feedback.END, name="Tried"
    )
    done = await open_campaign(
        session_factory, questions=2, attempts_allowed=1, feedback=Feedback.END, name="Done"
    )
    student = await registered(session_factory, 3905, world.classes["七年级1班"].id)
    async with session_factory() as session:
        await Repositories.over(session).participants.update(student, locale="en")
        await session.commit()
    await take(session_factory, student, tried, right=0)
    passed = await take(session_factory, student, done, right=2)

    text, buttons = await quiz_list(dp, bot, 3905)

    assert "Best score: 0/2 (0%), not passed (pass mark 60%)" in text
    assert "Best score: 2/2 (100%), passed (pass mark 60%)" in text
    assert "Finished: all 1 attempt(s) used." in text
    assert labels(buttons) == [
        "Try again: Tried",
        "Answer on the page: Tried",
        "Certificate: Done",
    ]
    assert buttons[2].callback_data == CertificateCb(attempt=passed.id).pack()
