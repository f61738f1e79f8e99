"""Compiling the report's figures over a year of a large division, on SQLite and PostgreSQL.

Fills 100,000 participants in the sample roster's 15 schools, 100,000 quiz attempts with
1,000,000 answers, three articles delivered to everyone with reads and clicks, a
shortlist, and four online lectures each checked into by a tenth of the participants;
bulk INSERTs on SQLite, COPY on PostgreSQL. Then it times:

- ``report_s``: every figure of the report (``StatisticsRepository.compile``: per school,
  per role, per campaign, publicity and people reached, shortlist, lectures), the
  median of three runs;
- ``bare_s``: the one ``GROUP BY`` the headline figure needs (took part per school);
- the files (DOCX, XLSX, CSV, chart) from those figures, printed before the last line:
  they do not depend on the size of the database.

    python bench/report.py [--quick] [--participants N] [--answers N] [--only DATABASE]

``--quick`` is a tenth of the size. The last line printed is one JSON object:
    {"sqlite": {"report_s": ..., "bare_s": ..., "ratio": ...}, "postgresql": {...},
     "answers": ..., "participants": ..., "peak_rss_mb": ...}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from sqlalchemy import Table
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import postgres_database
from bot.reports.compile import render_files
from quizzes.roster import parse_roster
from quizzes.statistics import Period
from quizzes.units import UnitKind
from storage.database import create_engine, create_session_factory
from storage.migrate import upgrade as prepare_database
from storage.models import ParticipantRow
from storage.models_publicity import (
    ArticleReadRow,
    ArticleRow,
    BroadcastRow,
    DeliveryRow,
    LectureCheckinRow,
    LectureRow,
    LinkClickRow,
)
from storage.models_quiz import (
    AttemptQuestionRow,
    AttemptRow,
    CampaignRow,
    ShortlistEntryRow,
    ShortlistRow,
)
from storage.models_quiz_bank import QuestionBankRow, QuestionRow
from storage.repositories import Repositories
from storage.roster_import import import_roster
from storage.statistics import StatisticsRepository

ROOT = Path(__file__).resolve().parents[1]
ROSTER = ROOT / "bot" / "data" / "sample_roster.csv"
ZONE = ZoneInfo("Asia/Shanghai")
PERIOD = Period(date(2022, 1, 1), date(2022, 12, 31))
QUESTIONS_PER_ATTEMPT = 10
CHUNK = 20_000


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def moment(rng: random.Random) -> datetime:
    """Somewhere in 2022 (a few in early 2023, outside the period)."""
    start = datetime(2022, 1, 1, tzinfo=ZONE)
    return (start + timedelta(seconds=rng.randrange(400 * 86400))).astimezone(UTC)


class Writer:
    """Bulk rows into one table: COPY on PostgreSQL, executemany on SQLite."""

    def __init__(self, target: asyncpg.Connection | sqlite3.Connection) -> None:
        self.target = target

    async def write(
        self, table: Table, columns: Sequence[str], rows: Iterator[tuple[Any, ...]]
    ) -> int:
        written = 0
        batch: list[tuple[Any, ...]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= CHUNK:
                written += await self._flush(table, columns, batch)
                batch = []
        if batch:
            written += await self._flush(table, columns, batch)
        return written

    async def _flush(
        self, table: Table, columns: Sequence[str], batch: list[tuple[Any, ...]]
    ) -> int:
        if isinstance(self.target, sqlite3.Connection):
            marks = ", ".join("?" for _ in columns)
            converted = [tuple(_sqlite(value) for value in row) for row in batch]
            self.target.executemany(
                f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})", converted
            )
        else:
            converted = [tuple(_postgres(value) for value in row) for row in batch]
            await self.target.copy_records_to_table(table.name, records=converted, columns=columns)
        return len(batch)


def _sqlite(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, list | dict):
        return json.dumps(value)
    if isinstance(value, bool):
        return int(value)
    return value


def _postgres(value: Any) -> Any:
    if isinstance(value, list | dict):
        return json.dumps(value)
    return value


async def fill(writer: Writer, units: list[int], participants: int, answers: int) -> None:
    rng = random.Random(2022)
    now = datetime(2022, 1, 1, tzinfo=UTC)

    def t(model: Any) -> Table:
        table: Table = model.__table__
        return table

    await writer.write(
        t(QuestionBankRow),
        [
            "id",
            "name",
            "version_note",
            "source_filename",
            "content_sha256",
            "question_count",
            "imported_at",
        ],
        iter([(1, "基准题库", "", "bench.yaml", "0" * 64, 50, now)]),
    )
    await writer.write(
        t(QuestionRow),
        [
            "id",
            "bank_id",
            "position",
            "type",
            "stem",
            "options",
            "correct",
            "explanation",
            "tags",
            "difficulty",
            "level",
        ],
        (
            (n, 1, n, "single", f"第{n}题", ["甲", "乙", "丙", "丁"], [0], "", [], 2, 2)
            for n in range(1, 51)
        ),
    )
    campaign_columns = [
        "id",
        "name",
        "status",
        "bank_ids",
        "questions",
        "per_tag",
        "attempts_allowed",
        "pass_mark",
        "feedback",
        "partial_credit",
        "certificate",
        "opens_at",
        "closes_at",
        "audience_units",
        "audience_roles",
        "created_at",
    ]
    await writer.write(
        t(CampaignRow),
        campaign_columns,
        (
            (
                n,
                name,
                "closed",
                [1],
                10,
                {},
                2,
                60,
                "each",
                False,
                True,
                datetime(2022, month, 1, tzinfo=ZONE),
                datetime(2022, month + 5, 28, tzinfo=ZONE),
                [],
                [],
                now,
            )
            for n, (name, month) in enumerate((("宪法卫士春季", 3), ("宪法卫士秋季", 7)), start=1)
        ),
    )

    roles = ["student"] * 12 + ["teacher", "parent"]

    def people() -> Iterator[tuple[Any, ...]]:
        for pid in range(1, participants + 1):
            yield (
                pid,
                7_000_000_000 + pid,
                f"同学{pid}",
                rng.choice(roles),
                rng.choice(units),
                "zh-CN",
                True,
                now,
                moment(rng) - timedelta(days=30),
            )

    await writer.write(
        t(ParticipantRow),
        [
            "id",
            "telegram_id",
            "display_name",
            "role",
            "unit_id",
            "locale",
            "subscribed",
            "first_seen_at",
            "joined_at",
        ],
        people(),
    )
    log(f"  {participants:,} participants")

    attempts = answers // QUESTIONS_PER_ATTEMPT
    # Most took part once, some twice; the attempts go to a random subset of people.
    takers = rng.sample(range(1, participants + 1), min(participants, int(attempts * 0.85)))
    plan = [(pid, 1) for pid in takers]
    plan += [(pid, 2) for pid in rng.sample(takers, attempts - len(takers))]
    finished_by_attempt: dict[int, bool] = {}

    def attempt_rows() -> Iterator[tuple[Any, ...]]:
        for aid, (pid, number) in enumerate(plan, start=1):
            started = moment(rng)
            finished = rng.random() < 0.9
            finished_by_attempt[aid] = finished
            yield (
                aid,
                rng.choice((1, 2)),
                pid,
                number,
                "finished" if finished else "active",
                started,
                started + timedelta(minutes=6) if finished else None,
                QUESTIONS_PER_ATTEMPT,
                QUESTIONS_PER_ATTEMPT + 1,
                7.0,
                (rng.random() < 0.7) if finished else None,
                360_000,
                0,
                7_000_000_000 + pid,
            )

    await writer.write(
        t(AttemptRow),
        [
            "id",
            "campaign_id",
            "participant_id",
            "number",
            "status",
            "started_at",
            "finished_at",
            "question_count",
            "current_seq",
            "points",
            "passed",
            "total_ms",
            "flagged",
            "chat_id",
        ],
        attempt_rows(),
    )
    log(f"  {attempts:,} attempts")

    def answer_rows() -> Iterator[tuple[Any, ...]]:
        shown = datetime(2022, 6, 1, tzinfo=UTC)
        for aid in range(1, attempts + 1):
            for seq in range(1, QUESTIONS_PER_ATTEMPT + 1):
                choice = rng.randrange(4)
                yield (
                    aid,
                    seq,
                    rng.randrange(1, 51),
                    [0, 1, 2, 3],
                    shown,
                    shown,
                    [choice],
                    [],
                    1.0 if choice == 0 else 0.0,
                    False,
                    False,
                )

    written = await writer.write(
        t(AttemptQuestionRow),
        [
            "attempt_id",
            "seq",
            "question_id",
            "option_order",
            "shown_at",
            "answered_at",
            "chosen",
            "draft",
            "points",
            "timed_out",
            "too_fast",
        ],
        answer_rows(),
    )
    log(f"  {written:,} answers")

    await writer.write(
        t(ArticleRow),
        [
            "id",
            "title",
            "body",
            "audience",
            "author_id",
            "created_at",
            "publish_at",
            "status",
            "link_secret",
        ],
        (
            (
                n,
                f"普法文章{n}",
                "正文",
                {},
                1,
                now,
                datetime(2022, n * 3, 1, tzinfo=ZONE),
                "published",
                "s",
            )
            for n in (1, 2, 3)
        ),
    )
    await writer.write(
        t(BroadcastRow),
        [
            "id",
            "article_id",
            "state",
            "created_by",
            "locale",
            "total",
            "test_send",
            "created_at",
            "started_at",
        ],
        ((n, n, "done", 1, "zh-CN", participants, False, now, now) for n in (1, 2, 3)),
    )

    def deliveries() -> Iterator[tuple[Any, ...]]:
        for n in (1, 2, 3):
            sent = datetime(2022, n * 3, 1, 10, tzinfo=ZONE)
            for pid in range(1, participants + 1):
                status = "sent" if rng.random() < 0.95 else "blocked"
                yield (
                    n,
                    pid,
                    7_000_000_000 + pid,
                    "zh-CN",
                    status,
                    1,
                    sent if status == "sent" else None,
                )

    await writer.write(
        t(DeliveryRow),
        ["broadcast_id", "participant_id", "chat_id", "locale", "status", "attempts", "sent_at"],
        deliveries(),
    )
    readers = rng.sample(range(1, participants + 1), participants // 3)
    await writer.write(
        t(ArticleReadRow),
        ["article_id", "participant_id", "read_at"],
        ((n, pid, datetime(2022, n * 3, 2, tzinfo=ZONE)) for n in (1, 2, 3) for pid in readers),
    )
    await writer.write(
        t(LinkClickRow),
        ["article_id", "participant_id", "token", "clicks", "clicked_at", "last_clicked_at"],
        (
            (
                n,
                pid,
                "t",
                1,
                datetime(2022, n * 3, 3, tzinfo=ZONE),
                datetime(2022, n * 3, 3, tzinfo=ZONE),
            )
            for n in (1, 2, 3)
            for pid in readers[: len(readers) // 4]
        ),
    )
    await writer.write(
        t(ShortlistRow),
        ["id", "campaign_id", "top_n", "created_at"],
        iter([(1, 1, 9, datetime(2022, 11, 1, tzinfo=ZONE))]),
    )
    finished = [aid for aid, done in finished_by_attempt.items() if done][:9]
    await writer.write(
        t(ShortlistEntryRow),
        [
            "shortlist_id",
            "rank",
            "participant_id",
            "attempt_id",
            "points",
            "total_ms",
            "finished_at",
        ],
        (
            (1, rank, plan[aid - 1][0], aid, 10.0, 1000, now)
            for rank, aid in enumerate(finished, 1)
        ),
    )
    await writer.write(
        t(LectureRow),
        [
            "id",
            "title",
            "speaker",
            "starts_at",
            "ends_at",
            "audience",
            "created_by",
            "created_at",
            "status",
        ],
        (
            (
                n,
                f"网络公开课{n}",
                "法治副校长",
                datetime(2022, n * 3, 15, 19, tzinfo=ZONE),
                datetime(2022, n * 3, 15, 20, tzinfo=ZONE),
                {"units": [], "roles": []},
                1,
                now,
                "scheduled",
            )
            for n in (1, 2, 3, 4)
        ),
    )
    await writer.write(
        t(LectureCheckinRow),
        ["lecture_id", "participant_id", "checked_in_at"],
        (
            (n, pid, datetime(2022, n * 3, 15, 19, 5, tzinfo=ZONE))
            for n in (1, 2, 3, 4)
            for pid in rng.sample(range(1, participants + 1), participants // 10)
        ),
    )
    log("  publicity, shortlist and lectures")


async def measure(database_url: str, participants: int, answers: int) -> dict[str, float]:
    engine = create_engine(database_url)
    await prepare_database(engine)
    session_factory = create_session_factory(engine)
    rows = parse_roster(ROSTER.read_bytes(), ROSTER.name)
    async with session_factory() as session:
        await import_roster(session, rows, "第七师")
        await session.commit()
        repo = Repositories.over(session)
        units = [u.id for u in await repo.units.of_kind(UnitKind.CLASS)]
        units += [u.id for u in await repo.units.of_kind(UnitKind.SCHOOL)]
        root = (await repo.units.roots())[0]
    started = time.perf_counter()
    if engine.dialect.name == "postgresql":
        dsn = make_url(database_url).set(drivername="postgresql").render_as_string(False)
        connection = await asyncpg.connect(dsn)
        try:
            await fill(Writer(connection), units, participants, answers)
            await connection.execute("ANALYZE")
        finally:
            await connection.close()
    else:
        path = make_url(database_url).database
        assert path is not None
        connection_ = sqlite3.connect(path)
        try:
            with connection_:
                await fill(Writer(connection_), units, participants, answers)
            connection_.execute("ANALYZE")
        finally:
            connection_.close()
    log(f"  filled in {time.perf_counter() - started:.1f} s")

    async def timed(work: Any) -> tuple[float, Any]:
        begin = time.perf_counter()
        result = await work()
        return time.perf_counter() - begin, result

    async def compile_all() -> Any:
        async with session_factory() as session:
            return await StatisticsRepository(session).compile(root, PERIOD, ZONE)

    async def bare() -> Any:
        async with session_factory() as session:
            return await StatisticsRepository(session).headline(root, PERIOD, ZONE)

    await compile_all()  # warm the connection pool and the database's caches
    report_times, bare_times = [], []
    for _ in range(3):
        elapsed, stats = await timed(compile_all)
        report_times.append(elapsed)
        elapsed, headline = await timed(bare)
        bare_times.append(elapsed)
    assert headline == stats.total.took_part.total, (headline, stats.total.took_part.total)
    from bot.i18n import Translator

    _ = Translator.load().bind("zh-CN").plain
    begin = time.perf_counter()
    files = render_files(
        stats, "zh-CN", _, ZONE, datetime.now(UTC), "division", None, lambda s: None
    )
    render_s = time.perf_counter() - begin
    log(
        f"  took part {stats.total.took_part.total:,} in {stats.schools_covered} schools; "
        f"files rendered in {render_s:.2f} s ({sum(map(len, files.values())) // 1024} KiB)"
    )
    await engine.dispose()
    report_s, bare_s = statistics.median(report_times), statistics.median(bare_times)
    return {
        "report_s": round(report_s, 3),
        "bare_s": round(bare_s, 3),
        "ratio": round(report_s / bare_s, 2),
    }


async def with_postgres_database(participants: int, answers: int) -> dict[str, float]:
    async with postgres_database() as url:
        return await measure(url, participants, answers)


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the size, under a minute")
    parser.add_argument("--participants", type=int, default=None)
    parser.add_argument("--answers", type=int, default=None)
    parser.add_argument(
        "--only", choices=("sqlite", "postgresql"), default=None, help="one database only"
    )
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    participants = args.participants or 100_000 // scale
    answers = args.answers or 1_000_000 // scale

    result: dict[str, object] = {}
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as folder:
            log("sqlite")
            url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
            result["sqlite"] = await measure(url, participants, answers)
            log(f"sqlite: {result['sqlite']}")
    if args.only in (None, "postgresql"):
        log("postgresql")
        result["postgresql"] = await with_postgres_database(participants, answers)
        log(f"postgresql: {result['postgresql']}")
    result["answers"] = answers
    result["participants"] = participants
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
