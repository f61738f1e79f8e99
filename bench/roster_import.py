"""Importing a corps-wide unit roster: parsing the workbook and writing the unit tree.

Generates a roster of N rows in realistic proportions (about 8 schools per regiment, 12
to 28 classes per school, one school in five with class rows only, a few school names
shared between regiments), writes it as an ``.xlsx`` workbook, then times:

- ``parse_s``: :func:`quizzes.roster.parse_roster` on the workbook;
- ``import_s``: the first import into an empty database (every unit created), commit
  included;
- ``reimport_s``: the same roster again with every class's enrolment changed and a tenth
  of the classes left out and retired (``retire_missing``), commit included.

SQLite always; PostgreSQL with ``--postgres`` (a scratch database on that server, created
for the run and dropped after it; without a URL, the test server).

    python bench/roster_import.py [--quick] [--rows N] [--postgres [URL]]

``--quick`` is 5,000 rows (40,000 without it). The last line printed is one JSON object:
    {"rows": ..., "units": ..., "seconds": ..., "parse_s": ...,
     "sqlite": {"import_s": ..., "reimport_s": ..., "seconds": ...},
     "postgresql": {...}, "peak_rss_mb": ..., "parsed_rss_mb": ...}
``seconds`` is parse plus first import on SQLite; ``peak_rss_mb`` the process's high
mark, ``parsed_rss_mb`` that mark once the roster is parsed (before any import), so the
difference is what the imports took. The workbook is generated in a process of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import inspect
import io
import json
import multiprocessing
import random
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import POSTGRES_URL, postgres_database
from quizzes.roster import RosterRow, parse_roster
from storage.database import create_engine, create_session_factory
from storage.migrate import prepare_database
from storage.roster_import import import_roster

HEADER = ("团场", "学校", "班级", "学生人数", "教师人数")
GRADES = ("一年级", "二年级", "三年级", "四年级", "五年级", "六年级", "七年级", "八年级", "九年级")
SHARED_NAMES = ("中心小学", "第一小学", "中学")


def generate(rows: int, seed: int = 15) -> list[tuple[str, str, str, int, int]]:
    """``rows`` roster rows: regiment, school, class ("" on a school's row), counts."""
    rng = random.Random(seed)
    out: list[tuple[str, str, str, int, int]] = []
    regiment_number = 100
    while len(out) < rows:
        regiment_number += 1
        regiment = f"{regiment_number}团"
        taken: set[str] = set()
        for school_number in range(1, rng.randint(6, 10) + 1):
            school = f"{regiment}第{school_number}学校"
            if rng.random() < 0.1 and (shared := rng.choice(SHARED_NAMES)) not in taken:
                school = shared
            taken.add(school)
            classes = []
            for number in range(rng.randint(12, 28)):
                grade = GRADES[number % len(GRADES)]
                name = f"{grade}{number // len(GRADES) + 1}班"
                classes.append((name, rng.randint(30, 50), rng.randint(2, 6)))
            students = sum(size for _, size, _ in classes) + rng.randint(0, 40)
            teachers = sum(size for _, _, size in classes) + rng.randint(0, 10)
            if rng.random() >= 0.2:
                out.append((regiment, school, "", students, teachers))
            for name, size, staff in classes:
                out.append((regiment, school, name, size, staff))
            if len(out) >= rows:
                break
    return out[:rows]


def workbook(rows: Sequence[tuple[str, str, str, int, int]]) -> bytes:
    """The rows as Excel saves them (shared strings, the sheet's dimension written)."""
    from openpyxl import Workbook

    book = Workbook()
    sheet: Any = book.active
    sheet.title = "名册"
    sheet.append(HEADER)
    for regiment, school, klass, students, teachers in rows:
        sheet.append([regiment, school, klass or None, students, teachers])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def generated_workbook(rows: int) -> bytes:
    """:func:`workbook` of :func:`generate`, made in a process of its own so that the
    memory openpyxl takes to write it is not counted in this one's peak."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(_workbook_of, rows).result()


def _workbook_of(rows: int) -> bytes:
    return workbook(generate(rows))


def changed(rows: Sequence[RosterRow], seed: int = 16) -> list[RosterRow]:
    """The next year's roster: every class one student more, a tenth of them gone."""
    rng = random.Random(seed)
    out: list[RosterRow] = []
    for row in rows:
        if row.class_name is None:
            out.append(row)
        elif rng.random() >= 0.1:
            out.append(replace(row, students=row.students + 1))
    return out


async def measure(url: str, rows: Sequence[RosterRow]) -> dict[str, float | int]:
    engine = create_engine(url)
    await prepare_database(engine)
    factory = create_session_factory(engine)
    try:
        started = time.perf_counter()
        async with factory() as session:
            first = await import_roster(session, rows, "第七师")
            await session.commit()
        import_s = time.perf_counter() - started
        again = changed(rows)
        started = time.perf_counter()
        async with factory() as session:
            second = await import_roster(session, again, "第七师", retire_missing=True)
            await session.commit()
        reimport_s = time.perf_counter() - started
    finally:
        await engine.dispose()
    return {
        "import_s": round(import_s, 2),
        "reimport_s": round(reimport_s, 2),
        "units": first.total,
        "updated": second.total,
        "missing": len(second.missing),
    }


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def parse(content: bytes, rows: int) -> list[RosterRow]:
    # ``max_rows`` is how the command line takes a corps-wide roster.
    if "max_rows" in inspect.signature(parse_roster).parameters:
        return parse_roster(content, "roster.xlsx", max_rows=max(rows, 20_000))
    return parse_roster(content, "roster.xlsx")


async def main(args: argparse.Namespace) -> None:
    count = args.rows or (5_000 if args.quick else 40_000)
    content = generated_workbook(count)
    print(f"{count} rows, workbook {len(content) / 2**20:.1f} MB", file=sys.stderr, flush=True)
    started = time.perf_counter()
    rows = parse(content, count)
    parse_s = time.perf_counter() - started
    del content
    print(f"parse: {parse_s:.2f} s", file=sys.stderr, flush=True)
    result: dict[str, Any] = {"rows": count}
    parsed_rss_mb = peak_rss_mb()
    with tempfile.TemporaryDirectory() as folder:
        sqlite = await measure(f"sqlite+aiosqlite:///{folder}/roster.db", rows)
    print(f"sqlite: {sqlite}", file=sys.stderr, flush=True)
    result["units"] = sqlite.pop("units")
    result["seconds"] = round(parse_s + float(sqlite["import_s"]), 2)
    result["parse_s"] = round(parse_s, 2)
    result["sqlite"] = sqlite
    if args.postgres:
        async with postgres_database(args.postgres) as url:
            postgresql = await measure(url, rows)
        postgresql.pop("units")
        print(f"postgresql: {postgresql}", file=sys.stderr, flush=True)
        result["postgresql"] = postgresql
    result["peak_rss_mb"] = peak_rss_mb()
    result["parsed_rss_mb"] = parsed_rss_mb
    print(json.dumps(result, ensure_ascii=False))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5,000 rows, under a minute")
    parser.add_argument("--rows", type=int, default=None, help="roster rows (40,000)")
    parser.add_argument(
        "--postgres",
        nargs="?",
        const=POSTGRES_URL,
        default=None,
        metavar="URL",
        help="also on PostgreSQL, in a scratch database on this server",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
