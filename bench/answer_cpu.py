"""The bot's own CPU time per quiz answer, in-process: no HTTP, no sandbox, no load generator.

``bench/quiz_load.py`` measures answers end to end with the sandbox, the bot and the
simulated participants sharing the machine's cores, so its figures move with whatever
else runs. This one feeds answer presses straight into the real dispatcher (a bot whose
session answers every Bot API call at once, as Telegram would) and counts the process's
CPU time per answer, against the same count for a bare aiogram dispatcher that makes the
same two calls per press (answer the callback, edit the message) with no database and no
quiz logic. The database server's own CPU is not counted: this is the bot's share.

    python bench/answer_cpu.py            # 400 participants x 8 answers, three rounds
    python bench/answer_cpu.py --quick    # 100 participants x 4 answers, one round

Last line: ``{"postgresql": {"cpu_ms": ..., "wall_ms": ..., "over_bare_ms": ...},
"sqlite": {...}, "bare": {"cpu_ms": ..., "wall_ms": ...}, "answers": ...}``: CPU and
wall time per answer (median of the rounds), and what ours costs over the bare bot's.
HTTP is left out on both sides, so this is not the end-to-end ratio that
``bench/quiz_load.py`` reports; it is the steadier figure for what our code adds.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncGenerator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiogram import Bot, Dispatcher, Router
from aiogram.client.session.base import BaseSession
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.methods import SendMessage, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import (
    CallbackQuery,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
    User,
)
from sqlalchemy import select

from bench.common import postgres_database
from bench.quiz_load import QUESTIONS, populate
from bot.views.quiz import AnswerCb
from storage.presses import DirectPresses

FIRST_ID = 7_000_000
CONCURRENCY = 20


class InstantSession(BaseSession):
    """Answers every Bot API call at once, as Telegram would, and keeps nothing."""

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        if isinstance(method, SendMessage):
            sent = {"message_id": 1, "date": 0, "chat": {"id": method.chat_id, "type": "private"}}
            return method.__returning__.model_validate(sent)  # type: ignore[return-value]
        return True  # type: ignore[return-value]  # answerCallbackQuery, edits

    async def close(self) -> None:
        return None

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        yield b""


def instant_bot() -> Bot:
    bot = Bot("42:BENCH-token", session=InstantSession())
    bot._me = User(id=42, is_bot=True, first_name="普法助手", username="pufa_bench_bot")
    return bot


def press(telegram_id: int, data: str, update_id: int) -> Update:
    """A press on a button of the quiz message, as Telegram delivers it."""
    person = User(id=telegram_id, is_bot=False, first_name="学生", language_code="zh-hans")
    message = Message(
        message_id=1,
        date=datetime.now(UTC),
        chat=Chat(id=telegram_id, type="private"),
        from_user=User(id=42, is_bot=True, first_name="普法助手"),
        text="…",
    )
    query = CallbackQuery(
        id=str(update_id), from_user=person, chat_instance="ci", data=data, message=message
    )
    return Update(update_id=update_id, callback_query=query)


def bare_dispatcher() -> Dispatcher:
    """What any bot does per press: answer the callback, edit the message to a keyboard."""
    dp = Dispatcher(storage=MemoryStorage(), events_isolation=SimpleEventIsolation())
    router = Router()

    async def press(callback: CallbackQuery, callback_data: AnswerCb, bot: Bot) -> None:
        await callback.answer()
        buttons = [
            InlineKeyboardButton(
                text="ABCD"[n],
                callback_data=AnswerCb(
                    attempt=callback_data.attempt, seq=callback_data.seq + 1, option=n
                ).pack(),
            )
            for n in range(4)
        ]
        await bot.edit_message_text(
            text=f"第 {callback_data.seq + 1} 题\n\n下列说法正确的是？",
            chat_id=callback.from_user.id,
            message_id=callback.message.message_id if callback.message else 1,
            reply_markup=InlineKeyboardMarkup(inline_keyboard=[buttons]),
        )

    router.callback_query.register(press, AnswerCb.filter())
    dp.include_router(router)
    return dp


async def our_dispatcher(
    database_url: str, participants: int
) -> tuple[Dispatcher, Any, DirectPresses | None, dict[int, int]]:
    from bot.config import Settings
    from bot.factory import create_dispatcher
    from storage.database import create_engine, create_session_factory
    from storage.models import ParticipantRow
    from storage.models_quiz import AttemptRow

    await populate(database_url, participants, FIRST_ID)
    engine = create_engine(database_url)
    session_factory = create_session_factory(engine)
    async with session_factory() as session:
        rows = await session.execute(
            select(ParticipantRow.telegram_id, AttemptRow.id).join(
                AttemptRow, AttemptRow.participant_id == ParticipantRow.id
            )
        )
        attempts = {tid: attempt_id for tid, attempt_id in rows if tid is not None}
    settings = Settings(bot_token="42:TEST-token", database_url=database_url)
    presses = await DirectPresses.connect(engine)  # as the bot does on PostgreSQL
    dp = create_dispatcher(
        settings,
        session_factory,
        storage=MemoryStorage(),
        events_isolation=SimpleEventIsolation(),
        presses=presses,
    )
    return dp, engine, presses, attempts


async def drive(
    dp: Dispatcher, attempts: dict[int, int], answers: int, first_seq: int
) -> tuple[float, float, int]:
    """Every participant answers ``answers`` questions in turn, CONCURRENCY at a time."""
    bot = instant_bot()
    people = list(attempts.items())
    gate = asyncio.Semaphore(CONCURRENCY)
    update_ids = itertools.count(1)

    async def one(telegram_id: int, attempt_id: int) -> None:
        async with gate:
            for seq in range(first_seq, first_seq + answers):
                data = AnswerCb(attempt=attempt_id, seq=seq, option=0).pack()
                await dp.feed_update(bot, press(telegram_id, data, next(update_ids)))

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(t, a) for t, a in people))
    return time.process_time() - cpu, time.perf_counter() - wall, len(people) * answers


async def rounds_of(
    dp: Dispatcher, attempts: dict[int, int], answers: int, rounds: int
) -> dict[str, float]:
    """A warm-up round (everyone answers question 1), then the timed rounds."""
    await drive(dp, attempts, 1, 1)
    cpu_ms, wall_ms = [], []
    for number in range(rounds):
        cpu, wall, count = await drive(dp, attempts, answers, 2 + number * answers)
        cpu_ms.append(cpu / count * 1000)
        wall_ms.append(wall / count * 1000)
    return {
        "cpu_ms": round(statistics.median(cpu_ms), 3),
        "wall_ms": round(statistics.median(wall_ms), 3),
    }


async def measure_ours(
    database_url: str, participants: int, answers: int, rounds: int
) -> dict[str, float]:
    dp, engine, presses, attempts = await our_dispatcher(database_url, participants)
    try:
        return await rounds_of(dp, attempts, answers, rounds)
    finally:
        if presses is not None:
            await presses.close()
        await engine.dispose()


async def measure_bare(participants: int, answers: int, rounds: int) -> dict[str, float]:
    attempts = {FIRST_ID + n: n + 1 for n in range(participants)}
    return await rounds_of(bare_dispatcher(), attempts, answers, rounds)


async def main(args: argparse.Namespace) -> None:
    participants, answers, rounds = (100, 4, 1) if args.quick else (400, 8, 3)
    if answers * rounds + 1 > QUESTIONS:
        raise SystemExit(f"the bench campaign has {QUESTIONS} questions per attempt")
    result: dict[str, Any] = {}
    if "postgresql" in args.only:
        async with postgres_database() as url:
            result["postgresql"] = await measure_ours(url, participants, answers, rounds)
            print(f"postgresql: {result['postgresql']}", file=sys.stderr)
    if "sqlite" in args.only:
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite+aiosqlite:///{folder}/bench.sqlite3"
            result["sqlite"] = await measure_ours(url, participants, answers, rounds)
            print(f"sqlite: {result['sqlite']}", file=sys.stderr)
    if "bare" in args.only:
        result["bare"] = await measure_bare(participants, answers, rounds)
        print(f"bare: {result['bare']}", file=sys.stderr)
    for name in ("postgresql", "sqlite"):
        if name in result and "bare" in result:
            over = result[name]["cpu_ms"] - result["bare"]["cpu_ms"]
            result[name]["over_bare_ms"] = round(over, 3)
    result["answers"] = participants * answers * rounds
    print(json.dumps(result))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 participants, 4 answers each")
    parser.add_argument(
        "--only",
        nargs="+",
        default=["postgresql", "sqlite", "bare"],
        choices=["postgresql", "sqlite", "bare"],
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
