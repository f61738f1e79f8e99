"""Every spreadsheet and CSV the project writes keeps text as text, never a formula.

Regression: a school named ``=HYPERLINK(...)`` (accepted by the roster import) and a display
name like it ended up as live formulas in participation.xlsx/.csv and shortlist.xlsx.
"""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from bot.i18n import Translator
from bot.invites import InviteCard, write_invite_pack
from bot.reports.tables import participation_csv, participation_xlsx
from bot.shortlist_export import ShortlistLine, shortlist_xlsx
from quizzes.bank_template import bank_template_xlsx
from quizzes.roster import roster_template_xlsx
from quizzes.spreadsheet_safety import SafeCsvWriter, csv_cell, looks_like_formula
from quizzes.statistics import Period, Statistics, UnitFigures

EVIL = '=HYPERLINK("http://example.invalid/","点击领取证书")'
ZONE = ZoneInfo("Asia/Shanghai")
_ = Translator.load().bind("zh-CN").plain


def _no_formula_in(xlsx: bytes) -> None:
    """No cell of any sheet is stored as a formula, and the evil text is there as text."""
    with zipfile.ZipFile(io.BytesIO(xlsx)) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                assert b"<f>" not in archive.read(name), name
    book = openpyxl.load_workbook(io.BytesIO(xlsx))
    texts = [
        cell.value
        for sheet in book.worksheets
        for row in sheet.iter_rows()
        for cell in row
        if cell.value == EVIL
    ]
    assert texts, "the text itself must survive, shown as typed"
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate)


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"])
def test_formula_starts_are_recognised(text: str) -> None:
    assert looks_like_formula(text)
    assert csv_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["胡杨河市第一中学", "a=b", "", 5, -3, 1.5, None])
def test_plain_text_and_numbers_are_untouched(value: object) -> None:
    assert csv_cell(value) == value


def test_safe_csv_writer_escapes_every_row() -> None:
    out = io.StringIO()
    writer = SafeCsvWriter(out)
    writer.writerows([[EVIL, -2], ["ok", "@x"]])
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows == [["'" + EVIL, "-2"], ["ok", "'@x"]]


def _stats_with_evil_school() -> Statistics:
    school = UnitFigures(unit_id=1, name=EVIL, students_enrolled=10)
    total = UnitFigures(unit_id=None, name="合计", students_enrolled=10)
    return Statistics(
        period=Period(date(2026, 1, 1), date(2026, 12, 7)),
        scope_id=1,
        scope_name="教育局",
        schools=(school,),
        elsewhere=None,
        total=total,
    )


def test_participation_xlsx_keeps_school_names_as_text() -> None:
    xlsx = participation_xlsx(
        _stats_with_evil_school(),
        _,
        zone=ZONE,
        compiled_at=datetime(2026, 12, 7, tzinfo=UTC),
        period_text="2026年",
    )
    _no_formula_in(xlsx)


def test_participation_csv_escapes_school_names() -> None:
    text = participation_csv(_stats_with_evil_school(), _).decode("utf-8-sig")
    names = [row[0] for row in csv.reader(io.StringIO(text))]
    assert "'" + EVIL in names
    assert EVIL not in names


def test_shortlist_xlsx_keeps_display_names_as_text() -> None:
    line = ShortlistLine(
        rank=1,
        name=EVIL,
        school="-一中",
        unit="@七年级1班",
        points=5,
        percent=100,
        total_ms=60_000,
        finished_at=datetime(2026, 12, 4, 2, tzinfo=UTC),
    )
    _no_formula_in(shortlist_xlsx("宪法卫士", [line], ZONE, _))


def test_templates_hold_no_formula() -> None:
    for xlsx in (bank_template_xlsx(), roster_template_xlsx()):
        with zipfile.ZipFile(io.BytesIO(xlsx)) as archive:
            for name in archive.namelist():
                if name.startswith("xl/worksheets/"):
                    assert b"<f>" not in archive.read(name)


def test_invites_csv_escapes_unit_names(tmp_path: Path) -> None:
    card = InviteCard(
        code="AB12CD34",
        link="https://t.me/pufa_bot?start=AB12CD34",
        regiment="129团",
        school=EVIL,
        class_name="七年级1班",
        role="student",
        label=f"129团 {EVIL} 七年级1班",
    )
    pack = write_invite_pack([card], tmp_path)
    rows = list(csv.reader(io.StringIO(pack.csv_path.read_text(encoding="utf-8-sig"))))
    assert rows[1][1] == "'" + EVIL
