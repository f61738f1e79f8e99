"""Quiz answering under load: answers/s and latency through the sandbox, per database.

Three processes, as in production: the sandbox (Telegram, rate limits off), the bot under
test (long polling the sandbox) and the simulated participants (this process). Before
the bot starts, a bank, an open campaign and the registered participants are written
straight into the database; each participant then opens the quiz through the bot
(/quiz, "start"), which is not timed.

One answer is timed from the press (the control API call) until the bot's edit of that
message, to the next question, is visible in the sandbox (a server-side wait on the
message's edit count). Two modes:

- paced: every participant answers every ``--interval`` seconds (1,400 participants
  every 10 s is a whole school at once, 140 answers/s offered); achieved answers/s and
  p50/p99 latency;
- saturation: ``--concurrency`` participants answer back to back, which finds the
  ceiling.

The same saturation run against a bare aiogram bot (no database, no quiz logic, the same
Bot API calls per answer: answerCallbackQuery, then editMessageText with an inline
keyboard), in the same process layout, gives the ceiling of the framework and the
sandbox on this machine; ``ratio_to_bare`` is PostgreSQL's ceiling over the bare one.

    python bench/quiz_load.py [--quick] [--participants N] [--duration S] [--interval S]
                              [--saturation-s S] [--concurrency C] [--only NAME ...]
                              [--profile DIR]

``--profile DIR`` writes a cProfile of each bot process to DIR. The last line printed is
one JSON object:
    {"sqlite": {"answers_per_s": ..., "p50_ms": ..., "p99_ms": ..., "offered_per_s": ...,
                "max_per_s": ..., "max_p50_ms": ..., "max_p99_ms": ..., "bot_cpu_ms": ...},
     "postgresql": {...}, "bare": {"answers_per_s": ..., "p50_ms": ..., "p99_ms": ...},
     "ratio_to_bare": ..., "participants": ...}
answers_per_s/p50/p99 of a database are the paced run; max_* the saturation run.
``bot_cpu_ms`` is the bot process's CPU time per answer (steadier than a rate on a shared
machine); ``errors`` counts presses that never showed the next question.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import sys
import tempfile
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import insert, select
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import free_port, postgres_database
from bot.sandbox.client import SandboxClient, SandboxError
from bot.sandbox.config import SandboxConfig
from bot.simulation import chinese_name, percentile

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = 40  # per attempt; nobody answers the last one, so every answer is "next question"
CAMPAIGN = "宪法卫士压力测试"
WAIT_S = 60.0


# ---------------------------------------------------------------------- the question bank


def bench_questions() -> list[tuple[str, tuple[str, ...], int]]:
    """(stem, options, right option) of a bank the size and shape of a real one."""
    rng = random.Random(11)
    topics = ("宪法", "国家机构", "公民的基本权利和义务", "国旗国歌国徽首都", "总纲")
    questions = []
    for index in range(QUESTIONS):
        topic = topics[index % len(topics)]
        stem = f"第{index + 1}题：根据《宪法》关于{topic}的规定，下列说法中正确的是哪一项？"
        options = tuple(
            f"{topic}相关的表述{letter}：国家尊重和保障人权，公民在法律面前一律平等"
            for letter in "甲乙丙丁"
        )
        questions.append((stem, options, rng.randrange(4)))
    return questions


async def populate(database_url: str, participants: int, first_id: int) -> None:
    """Bank, open campaign and registered participants, written straight into the database."""
    from quizzes.bank import Question, QuestionBank, QuestionType
    from quizzes.campaigns import Audience, CampaignStatus, Rules
    from quizzes.engine import Feedback
    from storage.database import create_engine, create_session_factory
    from storage.migrate import prepare_database
    from storage.models import ParticipantRow, UnitRow
    from storage.models_quiz import AttemptQuestionRow, AttemptRow
    from storage.repositories import Repositories

    engine = create_engine(database_url)
    await prepare_database(engine)
    session_factory = create_session_factory(engine)
    now = datetime.now(UTC)
    async with session_factory() as session:
        regiment = UnitRow(kind="regiment", name="一三一团")
        session.add(regiment)
        await session.flush()
        regiment.path = f"/{regiment.id}/"
        school = UnitRow(kind="school", name="一三一团中学", parent_id=regiment.id)
        session.add(school)
        await session.flush()
        school.path = f"{regiment.path}{school.id}/"
        classes = [
            UnitRow(kind="class", name=f"七年级{n}班", parent_id=school.id, students_enrolled=50)
            for n in range(1, 31)
        ]
        session.add_all(classes)
        await session.flush()
        for row in classes:
            row.path = f"{school.path}{row.id}/"
        repo = Repositories.over(session)
        bank = QuestionBank(
            name="宪法压力测试题库",
            questions=tuple(
                Question(QuestionType.SINGLE, stem, options, frozenset({right}), "《宪法》", ())
                for stem, options, right in bench_questions()
            ),
        )
        imported = await repo.banks.import_bank(
            bank, source_filename="bench.yaml", content_sha256="bench", imported_by=None
        )
        campaign = await repo.campaigns.create(
            name=CAMPAIGN,
            bank_ids=[imported.bank.id],
            rules=Rules(questions=QUESTIONS, attempts_allowed=1, feedback=Feedback.EACH),
            opens_at=now - timedelta(minutes=1),
            closes_at=now + timedelta(days=1),
            audience=Audience((), ()),
            created_by=None,
        )
        # Opened (and announced) before the bot starts: answering is what is measured.
        await repo.campaigns.set_status(campaign.id, CampaignStatus.OPEN)
        rng = random.Random(5)
        rows = [
            {
                "telegram_id": first_id + index,
                "display_name": chinese_name(rng),
                "role": "student",
                "unit_id": classes[index % len(classes)].id,
                "locale": "zh-CN",
                "subscribed": True,
                "first_seen_at": now,
                "joined_at": now,
            }
            for index in range(participants)
        ]
        for start in range(0, len(rows), 1000):
            await session.execute(insert(ParticipantRow), rows[start : start + 1000])
        # Each participant's attempt as the bot would have drawn it (opening the quiz
        # through the bot then resumes it): a shuffled draw of the bank, shuffled options.
        question_ids = [q.id for q in await repo.banks.questions([imported.bank.id])]
        participant_ids = await session.execute(
            select(ParticipantRow.id, ParticipantRow.telegram_id).where(
                ParticipantRow.telegram_id >= first_id
            )
        )
        attempts = [
            {
                "campaign_id": campaign.id,
                "participant_id": pid,
                "number": 1,
                "status": "active",
                "started_at": now,
                "deadline": campaign.closes_at,
                "current_seq": 1,
                "question_count": QUESTIONS,
                "points": 0.0,
                "flagged": 0,
                "chat_id": telegram_id,
            }
            for pid, telegram_id in participant_ids
        ]
        created = await session.execute(
            insert(AttemptRow).returning(AttemptRow.id, sort_by_parameter_order=True), attempts
        )
        plan = []
        for attempt_id in created.scalars():
            for seq, question_id in enumerate(rng.sample(question_ids, QUESTIONS), start=1):
                plan.append(
                    {
                        "attempt_id": attempt_id,
                        "seq": seq,
                        "question_id": question_id,
                        "option_order": rng.sample(range(4), 4),
                        "shown_at": now if seq == 1 else None,
                        "draft": [],
                        "timed_out": False,
                        "too_fast": False,
                    }
                )
        for start in range(0, len(plan), 5000):
            await session.execute(insert(AttemptQuestionRow), plan[start : start + 5000])
        await session.commit()
    await engine.dispose()


# ---------------------------------------------------------------------- the bots under test


async def serve_ours(api_url: str, database_url: str, profile: str | None) -> None:
    from bot.app import running_bot
    from bot.config import Settings

    settings = Settings(
        bot_token=SandboxConfig().token,
        bot_api_url=api_url,
        database_url=database_url,
        listen_port=free_port(),
        # The sandbox's limits are off, so is the bot's pacing: the bot is what is measured.
        broadcast_rate=100_000,
    )
    async with running_bot(settings, migrate=False):
        await serve_until_stopped(profile)


async def serve_bare(api_url: str, profile: str | None) -> None:
    """The same Bot API calls per answer as ours, with nothing behind them."""
    from aiogram import Dispatcher
    from aiogram.filters import Command
    from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
    from aiogram.utils.keyboard import InlineKeyboardBuilder

    from bot.config import Settings
    from bot.factory import create_bot
    from bot.views.quiz import AnswerCb

    questions = bench_questions()
    bot = create_bot(Settings(bot_token=SandboxConfig().token, bot_api_url=api_url))
    dp = Dispatcher()

    def render(user_id: int, seq: int) -> tuple[str, InlineKeyboardMarkup]:
        stem, options, _right = questions[(seq - 1) % len(questions)]
        lines = ["✅ 回答正确！", f"【{CAMPAIGN}】第 {seq}/{QUESTIONS} 题 · 单选题", ""]
        lines += [f"<b>{stem}</b>", ""]
        lines += [f"{letter}. {text}" for letter, text in zip("ABCD", options, strict=True)]
        builder = InlineKeyboardBuilder()
        for position, letter in enumerate("ABCD"):
            builder.button(
                text=letter, callback_data=AnswerCb(attempt=user_id, seq=seq, option=position)
            )
        builder.adjust(4)
        return "\n".join(lines), builder.as_markup()

    @dp.message(Command("quiz"))
    async def first(message: Message) -> None:
        assert message.from_user is not None
        text, markup = render(message.from_user.id, 1)
        await message.answer(text, reply_markup=markup)

    @dp.callback_query(AnswerCb.filter())
    async def answer(callback: CallbackQuery, callback_data: AnswerCb) -> None:
        await callback.answer("✅ 回答正确！")
        text, markup = render(callback.from_user.id, callback_data.seq + 1)
        assert callback.message is not None
        await bot.edit_message_text(
            text=text,
            chat_id=callback.from_user.id,
            message_id=callback.message.message_id,
            reply_markup=markup,
        )

    started = asyncio.Event()
    dp.startup.register(started.set)
    await bot.delete_webhook()
    polling = asyncio.create_task(
        dp.start_polling(
            bot,
            allowed_updates=dp.resolve_used_update_types(),
            handle_signals=False,
            close_bot_session=False,
        )
    )
    await started.wait()
    try:
        await serve_until_stopped(profile)
    finally:
        await dp.stop_polling()
        with contextlib.suppress(asyncio.CancelledError):
            await polling
        await bot.session.close()


async def serve_until_stopped(profile: str | None) -> None:
    """Say "ready", then serve until SIGTERM; profile the serving part if asked."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    print("ready", flush=True)
    await stop.wait()
    if profiler is not None and profile:
        profiler.disable()
        profiler.dump_stats(profile)


# ---------------------------------------------------------------------- processes


@contextlib.asynccontextmanager
async def child(*args: str, ready: str) -> AsyncIterator[asyncio.subprocess.Process]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, *args, stdout=asyncio.subprocess.PIPE, cwd=ROOT
    )
    try:
        assert process.stdout is not None
        while True:
            line = await asyncio.wait_for(process.stdout.readline(), 60)
            if not line:
                raise RuntimeError(f"{args[:3]} exited before it was ready")
            if ready in line.decode():
                break
        yield process
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()


@contextlib.asynccontextmanager
async def sandbox_process() -> AsyncIterator[str]:
    """The sandbox in a process of its own, as Telegram is: it must not share our CPU."""
    port = free_port()
    command = ("-c", "from bot.cli import main; main()", "sandbox", "--port", str(port))
    async with child(*command, "--no-limits", ready="listening on"):
        yield f"http://127.0.0.1:{port}"


def bot_command(kind: str, api_url: str, database_url: str, profile: str | None) -> list[str]:
    command = [str(Path(__file__).resolve()), "--serve", kind, "--api-url", api_url]
    command += ["--database-url", database_url]
    if profile:
        command += ["--profile-file", profile]
    return command


# ---------------------------------------------------------------------- participants


@dataclass
class Participant:
    chat_id: int
    message_id: int = 0
    buttons: list[str] = field(default_factory=list)
    seq: int = 0

    @property
    def done(self) -> bool:
        return self.seq >= QUESTIONS - 1


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0


def answer_buttons(view: dict[str, Any]) -> list[str]:
    markup = view.get("reply_markup") or {}
    return [
        button["callback_data"]
        for row in markup.get("inline_keyboard", [])
        for button in row
        if button.get("callback_data", "").startswith("a:")
    ]


def seq_of(buttons: Sequence[str]) -> int:
    return int(buttons[0].split(":")[2]) if buttons else 0


async def open_quiz(client: SandboxClient, person: Participant, bare: bool) -> None:
    """/quiz, then the start button (ours); the question message is what gets answered."""
    await client.send_text(person.chat_id, "/quiz")
    messages = await client.wait_for_messages(person.chat_id, 1, timeout=WAIT_S)
    if not bare:
        listing = messages[-1]
        markup = listing.get("reply_markup") or {}
        if not markup.get("inline_keyboard"):
            raise RuntimeError(f"chat {person.chat_id}: no quiz to open: {listing['text']!r}")
        start = markup["inline_keyboard"][0][0]["callback_data"]
        await client.press(person.chat_id, listing["message_id"], start)
        messages = await client.wait_for_messages(
            person.chat_id, len(messages) + 1, timeout=WAIT_S
        )
    question = messages[-1]
    person.message_id = question["message_id"]
    person.buttons = answer_buttons(question)
    person.seq = seq_of(person.buttons)
    if person.seq != 1:
        raise RuntimeError(f"chat {person.chat_id}: no first question: {question.get('text')!r}")


async def answer(
    client: SandboxClient, person: Participant, rng: random.Random, tally: Tally
) -> None:
    """Press an option; timed until the message shows the next question."""
    started = time.perf_counter()
    try:
        _query, view = await client.press_and_wait_for_edit(
            person.chat_id, person.message_id, rng.choice(person.buttons), timeout=WAIT_S
        )
    except (TimeoutError, aiohttp.ClientError, OSError, SandboxError) as error:
        tally.errors += 1
        print(f"chat {person.chat_id}: {error}", file=sys.stderr)
        # Left out too: pressing the same button again would offer the same answer twice
        # (bench/cluster.py counts every press the sandbox received as one offered).
        person.seq = QUESTIONS
        return
    elapsed = time.perf_counter() - started
    buttons = answer_buttons(view)
    if not buttons or seq_of(buttons) != person.seq + 1:
        tally.errors += 1
        print(
            f"chat {person.chat_id}: not the next question: {view.get('text')!r}", file=sys.stderr
        )
        person.seq = QUESTIONS  # leave this participant out from now on
        return
    person.buttons, person.seq = buttons, seq_of(buttons)
    tally.latencies.append(elapsed)


async def paced(
    client: SandboxClient, people: Sequence[Participant], interval: float, duration: float
) -> tuple[Tally, float]:
    """Everyone answers every ``interval`` s (staggered), for ``duration`` s.

    The rate is over the window the presses were made in: ``duration``, or longer if
    the bot fell behind and the last presses came late.
    """
    tally = Tally()
    rng = random.Random(3)
    begin = time.perf_counter()
    last_press = 0.0

    async def one(person: Participant, offset: float) -> None:
        at = offset
        while at < duration and not person.done:
            delay = begin + at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            nonlocal last_press
            last_press = max(last_press, time.perf_counter() - begin)
            await answer(client, person, rng, tally)
            at += interval

    await asyncio.gather(*(one(p, rng.uniform(0, interval)) for p in people))
    return tally, max(duration, last_press)


async def saturate(
    client: SandboxClient, people: Sequence[Participant], concurrency: int, duration: float
) -> tuple[Tally, float]:
    """``concurrency`` participants at a time answer back to back for ``duration`` s."""
    tally = Tally()
    rng = random.Random(4)
    waiting = deque(p for p in people if not p.done)
    begin = time.perf_counter()

    async def worker() -> None:
        while waiting and time.perf_counter() - begin < duration:
            person = waiting.popleft()
            await answer(client, person, rng, tally)
            if not person.done:
                waiting.append(person)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return tally, time.perf_counter() - begin


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summary(tally: Tally, elapsed: float, cpu_s: float) -> dict[str, float]:
    answers = len(tally.latencies)
    return {
        "answers_per_s": round(answers / elapsed, 1),
        "p50_ms": round(percentile(tally.latencies, 0.50) * 1000, 1),
        "p99_ms": round(percentile(tally.latencies, 0.99) * 1000, 1),
        "bot_cpu_ms": round(cpu_s * 1000 / max(answers, 1), 2),
        "errors": tally.errors,
    }


@dataclass(frozen=True)
class Plan:
    participants: int
    interval: float
    duration: float
    saturation_s: float
    concurrency: int
    profile_dir: str | None


async def run(
    api_url: str, kind: str, database_url: str, plan: Plan, first_id: int
) -> dict[str, float]:
    bare = kind == "bare"
    name = "bare" if bare else make_url(database_url).get_backend_name()
    if not bare:
        phase = time.perf_counter()
        await populate(database_url, plan.participants, first_id)
        log(f"{name}: database ready in {time.perf_counter() - phase:.1f} s")
    name = "bare" if bare else make_url(database_url).get_backend_name()
    profile = str(Path(plan.profile_dir) / f"{name}.prof") if plan.profile_dir else None
    connector = aiohttp.TCPConnector(limit=0)
    async with (
        child(*bot_command(kind, api_url, database_url, profile), ready="ready") as process,
        aiohttp.ClientSession(connector=connector) as http,
    ):
        client = SandboxClient(api_url, session=http)
        people = [Participant(first_id + index) for index in range(plan.participants)]
        gate = asyncio.Semaphore(50)

        async def opened(person: Participant) -> None:
            async with gate:
                await open_quiz(client, person, bare)

        phase = time.perf_counter()
        await asyncio.gather(*(opened(person) for person in people))
        log(f"{name}: {len(people)} opened the quiz in {time.perf_counter() - phase:.1f} s")
        result: dict[str, float] = {}
        if not bare:
            cpu = cpu_seconds(process.pid)
            tally, elapsed = await paced(client, people, plan.interval, plan.duration)
            result = summary(tally, elapsed, cpu_seconds(process.pid) - cpu)
            result["offered_per_s"] = round(plan.participants / plan.interval, 1)
            log(f"{name} paced: {result}")
        cpu = cpu_seconds(process.pid)
        tally, elapsed = await saturate(client, people, plan.concurrency, plan.saturation_s)
        ceiling = summary(tally, elapsed, cpu_seconds(process.pid) - cpu)
        log(f"{name} saturation: {ceiling}")
        if bare:
            return ceiling
        result["max_per_s"] = ceiling["answers_per_s"]
        result["max_p50_ms"] = ceiling["p50_ms"]
        result["max_p99_ms"] = ceiling["p99_ms"]
        result["max_bot_cpu_ms"] = ceiling["bot_cpu_ms"]
        result["errors"] += ceiling["errors"]
        return result


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


async def main(args: argparse.Namespace) -> None:
    participants = args.participants or (100 if args.quick else 1400)
    plan = Plan(
        participants=participants,
        interval=args.interval,
        duration=args.duration or (4.0 if args.quick else 60.0),
        saturation_s=args.saturation_s or (2.5 if args.quick else 20.0),
        concurrency=args.concurrency or (50 if args.quick else 200),
        profile_dir=args.profile,
    )
    if plan.profile_dir:
        Path(plan.profile_dir).mkdir(parents=True, exist_ok=True)
    only = set(args.only or ("sqlite", "postgresql", "bare"))
    result: dict[str, Any] = {}
    async with sandbox_process() as api_url:
        if "sqlite" in only:
            with tempfile.TemporaryDirectory() as folder:
                url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
                result["sqlite"] = await run(api_url, "ours", url, plan, 7_100_000_000)
            print(f"sqlite: {result['sqlite']}", file=sys.stderr, flush=True)
        if "postgresql" in only:
            async with postgres_database() as url:
                result["postgresql"] = await run(api_url, "ours", url, plan, 7_200_000_000)
            print(f"postgresql: {result['postgresql']}", file=sys.stderr, flush=True)
        if "bare" in only:
            result["bare"] = await run(api_url, "bare", "", plan, 7_300_000_000)
            print(f"bare: {result['bare']}", file=sys.stderr, flush=True)
    if "postgresql" in result and "bare" in result:
        ours = result["postgresql"]["max_per_s"]
        result["ratio_to_bare"] = round(ours / max(result["bare"]["answers_per_s"], 0.1), 2)
    result["participants"] = participants
    print(json.dumps(result))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small run, under a minute")
    parser.add_argument("--participants", type=int, default=None)
    parser.add_argument("--interval", type=float, default=10.0, help="s between answers")
    parser.add_argument("--duration", type=float, default=None, help="paced run, s")
    parser.add_argument("--saturation-s", type=float, default=None)
    parser.add_argument("--concurrency", type=int, default=None, help="saturation run")
    parser.add_argument("--only", nargs="+", choices=("sqlite", "postgresql", "bare"))
    parser.add_argument("--profile", default=None, help="write bot profiles to this folder")
    # Internal: this file also runs the bot under test in its own process.
    parser.add_argument("--serve", choices=("ours", "bare"), help=argparse.SUPPRESS)
    parser.add_argument("--api-url", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--profile-file", default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.serve == "ours":
        asyncio.run(serve_ours(arguments.api_url, arguments.database_url, arguments.profile_file))
    elif arguments.serve == "bare":
        asyncio.run(serve_bare(arguments.api_url, arguments.profile_file))
    else:
        asyncio.run(main(arguments))
