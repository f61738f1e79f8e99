"""The demo's quiz chapter: a 宪法卫士 campaign from the bundled bank to the shortlist."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import BotApp
from bot.sandbox.client import SandboxClient
from bot.scheduler import Scheduler
from bot.shortlists import Keep, shortlist_for
from bot.simulation import QuizBehaviour, QuizRun, knowledge_of, take_quiz
from quizzes.bank_parsers import load_bundled_bank
from quizzes.campaigns import parse_campaign_spec
from quizzes.statistics import percent_text
from storage.campaign_setup import create_campaign
from storage.repositories import Repositories

QUESTIONS = 10
SECONDS_PER_QUESTION = 30
# How often a simulated student knows the answer: a spread like a real school's.
SKILLS = (0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.6, 0.5, 0.4, 0.3)
BEHAVIOURS = (
    QuizBehaviour.PLAIN,
    QuizBehaviour.PLAIN,
    QuizBehaviour.PRESSES_TWICE,
    QuizBehaviour.RESUMES,
    QuizBehaviour.PLAIN,
    QuizBehaviour.PLAIN,
    QuizBehaviour.PLAIN,
    QuizBehaviour.PLAIN,
    QuizBehaviour.PLAIN,
    QuizBehaviour.PLAIN,
)


async def run_campaign_chapter(
    app: BotApp,
    client: SandboxClient,
    telegram_ids: list[int],
    out_dir: Path,
    say: Callable[[str], None],
    progress: Callable[[int, int], None],
) -> bool:
    """Import, schedule, open, answer, close, shortlist, certificate; True if figures match."""
    session_factory: async_sessionmaker[AsyncSession] = app.session_factory
    zone = app.settings.zone
    bank = load_bundled_bank()
    opens = datetime.now(UTC) + timedelta(seconds=3)
    async with session_factory() as session:
        repo = Repositories.over(session)
        await repo.banks.import_bank(
            bank,
            source_filename="constitution.zh.yaml",
            content_sha256="bundled",
            imported_by=None,
        )
        spec = parse_campaign_spec(
            f"""
name: 2026年“宪法卫士”网络答题
banks: [{bank.name}]
questions: {QUESTIONS}
time_per_question: {SECONDS_PER_QUESTION}
attempts: 1
pass_mark: 60
feedback: each
opens: {opens.astimezone(zone):%Y-%m-%d %H:%M:%S}
closes: {(opens + timedelta(hours=1)).astimezone(zone):%Y-%m-%d %H:%M:%S}
""",
            zone,
        )
        campaign = (await create_campaign(session, spec, created_by=None)).campaign
        await session.commit()
    say(
        f"  imported the bundled bank ({len(bank.questions)} questions, {bank.version_note}); "
        f"campaign #{campaign.id} opens at {opens.astimezone(zone):%H:%M:%S}"
    )
    scheduler = app.services["scheduler"]
    assert isinstance(scheduler, Scheduler)
    await scheduler.plan()
    await asyncio.sleep((opens - datetime.now(UTC)).total_seconds() + 1.0)

    say(f"  {len(telegram_ids)} participants answer {QUESTIONS} questions each in chat")
    knowledge = knowledge_of(bank.questions)
    gate = asyncio.Semaphore(40)
    done = 0
    started = time.perf_counter()

    async def one(index: int, telegram_id: int) -> QuizRun:
        nonlocal done
        async with gate:
            run = await take_quiz(
                client,
                telegram_id,
                campaign.id,
                BEHAVIOURS[index % len(BEHAVIOURS)],
                random.Random(index),
                question_seconds=SECONDS_PER_QUESTION,
                knowledge=knowledge,
                skill=SKILLS[index % len(SKILLS)],
            )
        done += 1
        progress(done, len(telegram_ids))
        return run

    runs = await asyncio.gather(*(one(i, t) for i, t in enumerate(telegram_ids)))
    say(f"  {len(runs)} attempts finished in {time.perf_counter() - started:.0f} s")

    # The bureau closes the campaign now; the scheduler's close job does the rest.
    async with session_factory() as session:
        await Repositories.over(session).campaigns.set_window_end(campaign.id, datetime.now(UTC))
        await session.commit()
    await scheduler.plan()
    await asyncio.sleep(2.0)

    ok = True
    async with session_factory() as session:
        repo = Repositories.over(session)
        closed = await repo.campaigns.get(campaign.id)
        ok &= closed is not None and closed.status.value == "closed"
        points = {}
        for telegram_id in telegram_ids:
            participant = await repo.participants.by_telegram_id(telegram_id)
            assert participant is not None
            attempt = await repo.attempts.latest(campaign.id, participant.id)
            points[telegram_id] = attempt.points if attempt else None
        mismatches = [r for r in runs if points[r.telegram_id] != r.right]
        ok &= not mismatches
        passed = sum("合格 🎉" in r.result_text for r in runs)
        say(
            f"  scores in the database match what each participant saw in chat: "
            f"{'yes' if not mismatches else f'NO ({len(mismatches)} differ)'}; "
            f"{passed} of {len(runs)} passed; "
            f"{sum(r.second_presses_refused for r in runs)} second presses refused"
        )
        # The bureau confirms the best nine students as its selection (the report counts it).
        result = await shortlist_for(
            repo,
            campaign,
            9,
            None,
            None,
            app.settings,
            app.translator.bind(None).plain,
            keep=Keep.SELECTION,
        )
        await repo.commit()
    (out_dir / "shortlist.xlsx").write_bytes(result.xlsx)
    say(
        f"  selection #{result.shortlist_id}: the best {len(result.lines)} students who passed: "
        f"{out_dir / 'shortlist.xlsx'}"
    )
    for line in result.lines[:3]:
        say(f"    {line.rank}. {line.name} ({line.school}) {percent_text(line.percent / 100, 0)}")
    return ok
