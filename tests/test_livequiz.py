"""A live quiz in a class group, end to end through the sandbox's quiz polls."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import running_bot
from bot.config import Settings
from bot.sandbox.config import SandboxConfig
from bot.sandbox.server import RunningSandbox, run_sandbox
from quizzes.livequiz import BoardLine, board, parse_livequiz_args
from quizzes.participants import Role
from storage.models_livequiz import LiveAnswerRow, LiveQuizRow
from tests.factories import World, build_world
from tests.quiz_world import open_campaign, registered

GROUP = -1001234567


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    async with run_sandbox(SandboxConfig()) as running:
        yield running


@pytest.fixture
async def world(session_factory: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(session_factory)


async def wait_for_poll(sandbox: RunningSandbox, count: int) -> dict[str, object]:
    for _ in range(400):
        polls = [m for m in await sandbox.client.messages(GROUP) if "poll" in m]
        if len(polls) >= count:
            return polls[count - 1]
        await asyncio.sleep(0.05)
    raise AssertionError(f"poll {count} never came")


async def test_live_quiz_polls_record_answers_and_keep_a_leaderboard(
    sandbox: RunningSandbox,
    database_url: str,
    world: World,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await open_campaign(session_factory)
    klass = world.classes["七年级1班"]
    await registered(session_factory, 701, klass.id, role=Role.TEACHER, name="王老师")
    await registered(session_factory, 702, klass.id, name="李华")
    await registered(session_factory, 703, klass.id, name="张明")
    client = sandbox.client
    await client.create_group(GROUP, "七年级1班")
    settings = Settings(
        bot_token=sandbox.config.token, bot_api_url=sandbox.url, database_url=database_url
    )
    async with running_bot(settings, migrate=False):
        await client.send_text(702, "/livequiz 2 5", chat_id=GROUP)  # a student may not
        messages = await client.wait_for_messages(GROUP, 1)
        assert "只有教职工" in messages[-1]["text"]
        await client.send_text(701, "/livequiz 2 5", chat_id=GROUP)
        first = await wait_for_poll(sandbox, 1)
        poll = first["poll"]
        assert isinstance(poll, dict) and poll["type"] == "quiz" and not poll["is_anonymous"]
        right = poll["correct_option_id"]
        await client.answer_poll(702, poll["id"], [right])
        await client.answer_poll(703, poll["id"], [(right + 1) % len(poll["options"])])
        second = await wait_for_poll(sandbox, 2)
        poll2 = second["poll"]
        assert isinstance(poll2, dict)
        await client.answer_poll(702, poll2["id"], [poll2["correct_option_id"]])
        for _ in range(300):
            async with session_factory() as session:
                live = await session.scalar(select(LiveQuizRow))
            if live is not None and live.finished_at is not None:
                break
            await asyncio.sleep(0.05)
        texts = [m.get("text") or "" for m in await client.messages(GROUP)]
    assert live is not None and live.finished_at is not None
    final = next(t for t in texts if "最终排行榜" in t)
    assert final.index("李华") < final.index("张明")
    assert "李华 — 答对 2 题" in final and "张明 — 答对 0 题（作答 1 题）" in final
    assert any("实时排行榜" in t for t in texts)
    async with session_factory() as session:
        answers = list(await session.scalars(select(LiveAnswerRow)))
    assert sorted(a.correct for a in answers) == [False, True, True]


def test_livequiz_arguments_and_board_order() -> None:
    assert parse_livequiz_args(None) == (5, 30)
    assert parse_livequiz_args("10 60") == (10, 60)
    assert parse_livequiz_args("0") is None and parse_livequiz_args("5 2") is None
    assert parse_livequiz_args("x") is None
    lines = [BoardLine(1, "乙", 2, 3), BoardLine(2, "甲", 2, 2), BoardLine(3, "丙", 3, 3)]
    assert [line.participant_id for line in board(lines)] == [3, 2, 1]
