"""A campaign end to end through the sandbox over HTTP, on PostgreSQL.

The bundled constitution bank is imported, a campaign is scheduled from its YAML spec,
opens on time through the scheduler, a couple of hundred simulated participants answer
(some let time run out, some press twice, some leave and resume), it closes on time, and
every figure in the database is checked against what the simulated people saw in chat.

It runs on PostgreSQL, the production database, only: its timers take real seconds, and
the same story runs on SQLite in ``make demo``, which checks the same figures.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import random
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import running_bot
from bot.config import Settings
from bot.sandbox.config import SandboxConfig
from bot.sandbox.server import RunningSandbox, run_sandbox
from bot.scheduler import Scheduler
from bot.simulation import QuizBehaviour, QuizRun, take_quiz
from quizzes.bank_parsers import load_bundled_bank
from quizzes.campaigns import parse_campaign_spec
from storage.campaign_setup import create_campaign
from storage.models_quiz import AttemptQuestionRow, AttemptRow, CampaignRow
from storage.repositories import Repositories
from tests.factories import World, build_world
from tests.quiz_world import registered

PARTICIPANTS = 200
QUESTIONS = 5
SECONDS_PER_QUESTION = 8


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    config = SandboxConfig(global_per_s=300, global_burst=300)
    async with run_sandbox(config) as running:
        yield running


@pytest.fixture
async def world(session_factory: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(session_factory)


def behaviour_of(index: int) -> str:
    return (
        QuizBehaviour.TIMES_OUT,
        QuizBehaviour.PRESSES_TWICE,
        QuizBehaviour.RESUMES,
        QuizBehaviour.PLAIN,
        QuizBehaviour.PLAIN,
        QuizBehaviour.PLAIN,
    )[index % 6]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_campaign_from_import_to_shortlist(
    sandbox: RunningSandbox,
    database_url: str,
    world: World,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    classes = list(world.classes.values())
    people = [
        (
            await registered(
                session_factory, 800_000 + i, classes[i % len(classes)].id, name=f"生{i}"
            )
        )
        for i in range(PARTICIPANTS)
    ]
    bank = load_bundled_bank()
    async with session_factory() as session:
        repo = Repositories.over(session)
        await repo.banks.import_bank(
            bank,
            source_filename="constitution.zh.yaml",
            content_sha256="bundled",
            imported_by=None,
        )
        opens = datetime.now(UTC) + timedelta(seconds=3)
        spec = parse_campaign_spec(
            f"""
name: 宪法卫士端到端
banks: [{bank.name}]
questions: {QUESTIONS}
time_per_question: {SECONDS_PER_QUESTION}
attempts: 1
pass_mark: 60
feedback: each
opens: {opens.astimezone(Settings().zone):%Y-%m-%d %H:%M:%S}
closes: {(opens + timedelta(seconds=300)).astimezone(Settings().zone):%Y-%m-%d %H:%M:%S}
audience:
  roles: [student]
""",
            Settings().zone,
        )
        created = await create_campaign(session, spec, created_by=None)
        await session.commit()
    campaign = created.campaign
    settings = Settings(
        bot_token=sandbox.config.token,
        bot_api_url=sandbox.url,
        database_url=database_url,
        admin_ids=frozenset({1}),
        # The sandbox here allows 300/s: the bot may use most of it, so the openings,
        # closings and replies of 200 people take seconds, not Telegram's real minutes
        # (pacing under Telegram's own limits is the end-to-end registration tests' job).
        broadcast_rate=250,
    )
    client = sandbox.client
    async with running_bot(settings, migrate=False) as app:
        await asyncio.sleep(
            max(0.0, (campaign.opens_at - datetime.now(UTC)).total_seconds()) + 0.5
        )
        async with session_factory() as session:
            status = await session.scalar(
                select(CampaignRow.status).where(CampaignRow.id == campaign.id)
            )
        assert status == "open"  # the scheduler opened it on time

        gate = asyncio.Semaphore(50)

        async def one(index: int) -> QuizRun:
            async with gate:
                return await take_quiz(
                    client,
                    people[index].telegram_id,
                    campaign.id,
                    behaviour_of(index),
                    random.Random(index),
                    question_seconds=SECONDS_PER_QUESTION,
                )

        runs = await asyncio.gather(*(one(i) for i in range(PARTICIPANTS)))
        assert datetime.now(UTC) < campaign.closes_at, "the simulation outran the window"

        # A certificate for someone who passed: a real PNG document arrives.
        passed = next(r for r in runs if "合格 🎉" in r.result_text)
        count = len(await client.messages(passed.telegram_id))
        await client.send_text(passed.telegram_id, "/certificate")
        listing = (await client.wait_for_messages(passed.telegram_id, count + 1))[-1]
        await client.press_button(
            passed.telegram_id,
            listing["message_id"],
            listing["reply_markup"]["inline_keyboard"][0][0]["text"],
        )
        age = (await client.wait_for_messages(passed.telegram_id, count + 2))[-1]
        await client.press_button(passed.telegram_id, age["message_id"], "我已满 14 周岁")
        await client.wait_for_messages(passed.telegram_id, count + 3)
        await client.send_text(passed.telegram_id, "王小明")
        arrived = await client.wait_for_messages(passed.telegram_id, count + 5)
        document = next(m for m in arrived if "document" in m)
        png = await client.sent_file(passed.telegram_id, document["message_id"])
        assert Image.open(io.BytesIO(png)).size == (1600, 1130)

        # The bureau brings the close forward; the replanned job closes it on the new time,
        # and then nothing more is accepted.
        closes_at = datetime.now(UTC) + timedelta(seconds=2)
        async with session_factory() as session:
            row = await session.get(CampaignRow, campaign.id)
            assert row is not None
            row.closes_at = closes_at
            await session.commit()
        scheduler = app.services["scheduler"]
        assert isinstance(scheduler, Scheduler)
        await scheduler.plan()
        await asyncio.sleep(max(0.0, (closes_at - datetime.now(UTC)).total_seconds()))
        for _ in range(300):  # the closing job runs at closes_at, later on a loaded machine
            async with session_factory() as session:
                status = await session.scalar(
                    select(CampaignRow.status).where(CampaignRow.id == campaign.id)
                )
            if status == "closed":
                break
            await asyncio.sleep(0.1)
        assert status == "closed"
        late = people[0].telegram_id
        count = len(await client.messages(late))
        await client.send_text(late, "/quiz")
        for _ in range(20):  # the closing announcement may arrive in between
            arrived = await client.wait_for_messages(late, count + 1)
            if any("没有你可以参加的答题活动" in (m.get("text") or "") for m in arrived[count:]):
                break
            count = len(arrived)
        else:
            raise AssertionError("no answer to /quiz after the close")
        # The closing announcement goes out paced with everyone else's: wait for it to
        # arrive rather than for a time that a loaded machine may not keep.
        for _ in range(30):
            seen = await client.messages(late)
            if any("已结束" in (m.get("text") or "") for m in seen):
                break
            await client.wait_for_messages(late, len(seen) + 1, timeout=10)
        else:
            raise AssertionError("no closing announcement")

    # Figures in the database against what the simulated people saw.
    by_telegram = {p.telegram_id: p for p in people}
    async with session_factory() as session:
        attempts = {
            row.participant_id: row
            for row in await session.scalars(
                select(AttemptRow).where(AttemptRow.campaign_id == campaign.id)
            )
        }
        answered = dict(
            (
                await session.execute(
                    select(AttemptQuestionRow.attempt_id, func.count())
                    .where(AttemptQuestionRow.answered_at.is_not(None))
                    .group_by(AttemptQuestionRow.attempt_id)
                )
            ).all()
        )
        timed_out = Counter(
            (
                await session.scalars(
                    select(AttemptQuestionRow.attempt_id).where(
                        AttemptQuestionRow.timed_out.is_(True)
                    )
                )
            ).all()
        )
    assert len(attempts) == PARTICIPANTS
    for run in runs:
        attempt = attempts[by_telegram[run.telegram_id].id]
        assert attempt.status == "finished" and answered[attempt.id] == QUESTIONS
        assert attempt.points == run.right, run
        assert f"得分：{run.right} / {QUESTIONS}" in run.result_text
        # The result tells each time-out; the chat showed each, unless one ran out while
        # a resuming participant reopened /quiz on a loaded machine (never one too many).
        assert timed_out[attempt.id] == run.timed_out_in_result, run
        assert run.timed_out <= run.timed_out_in_result, run
        if run.behaviour == QuizBehaviour.PRESSES_TWICE:
            assert run.second_presses_refused >= QUESTIONS - run.timed_out_in_result - 1
    assert sum(r.timed_out for r in runs) >= PARTICIPANTS // 6

    # The shortlist ranks by score, then time.
    from bot.shortlists import shortlist_for

    async with session_factory() as session:
        repo = Repositories.over(session)
        result = await shortlist_for(
            repo, campaign, 9, None, None, settings, lambda key, **kw: key
        )
        await repo.commit()
    tops = [
        attempts[next(p.id for p in people if p.display_name == line.name)]
        for line in result.lines
    ]
    assert [(-a.points, a.total_ms) for a in tops] == sorted((-a.points, a.total_ms) for a in tops)
    assert hashlib.sha256(result.xlsx).hexdigest()
