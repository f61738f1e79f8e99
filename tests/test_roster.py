from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli import main
from bot.i18n import Translator
from bot.roster_messages import describe_problem, describe_problems
from quizzes.participants import Role
from quizzes.roster import (
    MAX_FILE_BYTES,
    RosterError,
    RosterProblem,
    RosterRow,
    parse_roster,
    roster_template_xlsx,
    summarize_schools,
)
from quizzes.spreadsheet_safety import append_row, workbook_bytes
from quizzes.statistics import Period
from quizzes.units import Unit, UnitKind, display_label
from storage.database import create_engine, create_session_factory
from storage.models import InviteCodeRow
from storage.repositories import Repositories
from storage.roster_import import import_roster
from storage.statistics import StatisticsRepository

SAMPLE_ROSTER = Path(__file__).resolve().parents[1] / "bot" / "data" / "sample_roster.csv"

HEADER = ["团场", "学校", "班级", "学生人数", "教师人数"]
ROWS: list[list[object]] = [
    ["129团", "胡杨河市第一中学", "", 1180, 96],
    ["129团", "胡杨河市第一中学", "七年级1班", 45, 5],
    ["129团", "胡杨河市第一中学", "七年级2班", 44, 3],
    ["131团", "一三一团第一小学", "三年级2班", 38, 2],
]
EXPECTED = [
    RosterRow(2, "129团", "胡杨河市第一中学", None, 1180, 96),
    RosterRow(3, "129团", "胡杨河市第一中学", "七年级1班", 45, 5),
    RosterRow(4, "129团", "胡杨河市第一中学", "七年级2班", 44, 3),
    RosterRow(5, "131团", "一三一团第一小学", "三年级2班", 38, 2),
]

ALL_CODES = (
    "missing_column",
    "duplicate_column",
    "empty_value",
    "not_a_number",
    "not_an_integer",
    "negative_count",
    "count_too_large",
    "value_too_long",
    "duplicate_row",
    "total_row",
    "formula_like",
    "template_example",
    "counts_below_classes",
    "bad_encoding",
    "empty_file",
    "no_data_rows",
    "unsupported_format",
    "unreadable_file",
    "no_header",
    "file_too_large",
    "too_many_rows",
)


def csv_text(rows: Sequence[Sequence[object]], header: Sequence[str] = HEADER) -> str:
    lines = [",".join(header)]
    lines.extend(",".join("" if cell is None else str(cell) for cell in row) for row in rows)
    return "\r\n".join(lines) + "\r\n"


def csv_bytes(
    rows: Sequence[Sequence[object]], header: Sequence[str] = HEADER, encoding: str = "utf-8-sig"
) -> bytes:
    return csv_text(rows, header).encode(encoding)


def xlsx_bytes(
    rows: Sequence[Sequence[object]], header: Sequence[object] | None = HEADER
) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    if header is not None:
        sheet.append(list(header))
    for row in rows:
        sheet.append([None if cell == "" else cell for cell in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def problems_of(content: bytes, filename: str = "roster.csv") -> list[RosterProblem]:
    with pytest.raises(RosterError) as caught:
        parse_roster(content, filename)
    assert caught.value.problems, "RosterError must carry at least one problem"
    return caught.value.problems


def only(problems: list[RosterProblem], code: str) -> RosterProblem:
    matching = [problem for problem in problems if problem.code == code]
    assert len(matching) == 1, problems
    return matching[0]


# --------------------------------------------------------------------------- formats


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_encodings_parse_the_same_rows(encoding: str) -> None:
    assert parse_roster(csv_bytes(ROWS, encoding=encoding), "名册.csv") == EXPECTED


def test_gb18030_is_really_not_utf8() -> None:
    content = csv_bytes(ROWS, encoding="gb18030")
    with pytest.raises(UnicodeDecodeError):
        content.decode("utf-8")
    assert parse_roster(content, "ROSTER.CSV") == EXPECTED


def test_xlsx_parses_the_same_rows() -> None:
    assert parse_roster(xlsx_bytes(ROWS), "名册.xlsx") == EXPECTED


def test_xlsx_float_and_text_counts() -> None:
    rows: list[list[object]] = [
        ["129团", "胡杨河市第一中学", None, 1180.0, "96"],
        ["129团", "胡杨河市第一中学", "七年级1班", "45.0", 5.0],
    ]
    parsed = parse_roster(xlsx_bytes(rows), "r.xlsx")
    assert [(row.students, row.teachers) for row in parsed] == [(1180, 96), (45, 5)]
    assert parsed[0].class_name is None


def test_xlsx_header_after_blank_and_title_rows_keeps_sheet_line_numbers() -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet["A1"] = "2024年学生名册"
    sheet.append([])
    sheet["A3"] = "团场"
    sheet["B3"] = "学校"
    sheet["C3"] = "学生人数"
    sheet["D3"] = "教师人数"
    sheet["A5"] = "129团"
    sheet["B5"] = "胡杨河市第一中学"
    sheet["C5"] = 300
    sheet["D5"] = 30
    buffer = io.BytesIO()
    workbook.save(buffer)
    assert parse_roster(buffer.getvalue(), "r.xlsx") == [
        RosterRow(5, "129团", "胡杨河市第一中学", None, 300, 30)
    ]


def test_xlsx_reads_only_the_first_sheet() -> None:
    workbook = openpyxl.Workbook()
    first = workbook.active
    assert first is not None
    first.append(HEADER)
    first.append(["129团", "胡杨河市第一中学", None, 10, 1])
    second = workbook.create_sheet("其他")
    second.append(["not", "a", "roster"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    assert len(parse_roster(buffer.getvalue(), "r.xlsx")) == 1


def test_english_headers_any_case_and_spacing_and_optional_class_column() -> None:
    header = [" Regiment ", "SCHOOL", "  students", "Teachers  "]
    rows = [["129团", "胡杨河市第一中学", "12", "3"]]
    assert parse_roster(csv_bytes(rows, header), "r.csv") == [
        RosterRow(2, "129团", "胡杨河市第一中学", None, 12, 3)
    ]


def test_columns_in_any_order_extra_columns_ignored_and_blank_lines_skipped() -> None:
    text = (
        "备注,教师人数,学生人数,班级,学校,团场\r\n"
        "\r\n"
        "x,5,45,七年级1班,胡杨河市第一中学,129团\r\n"
        ",,,,,\r\n"
        "y,2,30,七年级2班,胡杨河市第一中学,129团\r\n"
    )
    parsed = parse_roster(text.encode(), "r.csv")
    assert [(row.line, row.class_name, row.students) for row in parsed] == [
        (3, "七年级1班", 45),
        (5, "七年级2班", 30),
    ]


def test_quoted_fields_and_thousands_separators() -> None:
    text = '团场,学校,班级,学生人数,教师人数\n129团,"胡杨河市第一中学",,"1,180",96\n'
    assert parse_roster(text.encode(), "r.csv")[0].students == 1180


def test_semicolon_and_tab_delimited_csv() -> None:
    for delimiter in (";", "\t"):
        text = delimiter.join(HEADER) + "\n" + delimiter.join(["129团", "学校甲", "", "5", "1"])
        assert parse_roster(text.encode(), "r.csv")[0].school == "学校甲"


def test_whitespace_in_names_is_trimmed() -> None:
    rows = [[" 129团 ", "\u3000胡杨河市第一中学\u200b ", "  七年级1班", 45, 5]]
    row = parse_roster(csv_bytes(rows), "r.csv")[0]
    assert (row.regiment, row.school, row.class_name) == ("129团", "胡杨河市第一中学", "七年级1班")


def test_xlsx_content_uploaded_with_csv_name_is_read_as_xlsx() -> None:
    assert parse_roster(xlsx_bytes(ROWS), "roster.csv") == EXPECTED


# --------------------------------------------------------------------------- problems


def test_missing_required_columns() -> None:
    problems = problems_of(csv_bytes([["129团", "A校"]], ["团场", "学校", "班级"]))
    assert {(p.code, p.row, p.column, p.params["column"]) for p in problems} == {
        ("missing_column", 1, None, "学生人数"),
        ("missing_column", 1, None, "教师人数"),
    }


def test_duplicate_column() -> None:
    header = [*HEADER, "School"]
    problem = only(problems_of(csv_bytes([], header)), "duplicate_column")
    assert (problem.row, problem.column, problem.params["column"]) == (1, "School", "学校")


def test_empty_values() -> None:
    rows = [["129团", "", "", 10, 1], ["", "B校", "", "", 1]]
    problems = problems_of(csv_bytes(rows))
    assert [(p.code, p.row, p.column) for p in problems] == [
        ("empty_value", 2, "学校"),
        ("empty_value", 3, "团场"),
        ("empty_value", 3, "学生人数"),
    ]


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("abc", "not_a_number"),
        ("12人", "not_a_number"),
        ("-3", "negative_count"),
        ("1.5", "not_an_integer"),
        ("99999999", "count_too_large"),
        ("NaN", "not_a_number"),
    ],
)
def test_bad_counts_in_csv(value: str, code: str) -> None:
    problem = only(problems_of(csv_bytes([["129团", "A校", "", value, 3]])), code)
    assert (problem.row, problem.column, problem.params["value"]) == (2, "学生人数", value)


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (1.5, "not_an_integer"),
        (-3, "negative_count"),
        ("abc", "not_a_number"),
        (True, "not_a_number"),
    ],
)
def test_bad_counts_in_xlsx(value: object, code: str) -> None:
    problem = only(problems_of(xlsx_bytes([["129团", "A校", None, 10, value]]), "r.xlsx"), code)
    assert (problem.row, problem.column) == (2, "教师人数")


def test_counts_accept_integral_forms() -> None:
    rows = [["129团", "A校", "", "12.0", "+3"], ["129团", "B校", "", "１２", "0"]]
    parsed = parse_roster(csv_bytes(rows), "r.csv")
    assert [(row.students, row.teachers) for row in parsed] == [(12, 3), (12, 0)]


def test_value_too_long() -> None:
    problem = only(problems_of(csv_bytes([["129团", "校" * 101, "", 1, 1]])), "value_too_long")
    assert (problem.row, problem.column, problem.params["length"]) == (2, "学校", 101)


def test_duplicate_row_points_at_first_occurrence() -> None:
    rows = [
        ["129团", "A校", "", 100, 10],
        ["129团", "A校", "一年级1班", 30, 2],
        ["129团", "A校", "一年级1班", 31, 2],
        ["129团", "A校", "", 100, 10],
    ]
    problems = problems_of(csv_bytes(rows))
    assert [(p.code, p.row, p.params["first_line"]) for p in problems] == [
        ("duplicate_row", 4, 3),
        ("duplicate_row", 5, 2),
    ]


def test_implied_school_is_fine_and_totals_its_classes() -> None:
    rows = [["129团", "A校", "一年级1班", 30, 2], ["129团", "A校", "一年级2班", 32, 3]]
    parsed = parse_roster(csv_bytes(rows), "r.csv")
    [school] = summarize_schools(parsed)
    assert (school.school, school.students, school.teachers, school.classes, school.implied) == (
        "A校",
        62,
        5,
        2,
        True,
    )


def test_same_school_name_in_two_regiments_is_two_schools() -> None:
    rows = [
        ["129团", "中心小学", "", 300, 20],
        ["129团", "中心小学", "一年级1班", 30, 2],
        ["131团", "中心小学", "一年级1班", 28, 2],
        ["131团", "中心小学", "", 250, 18],
    ]
    parsed = parse_roster(csv_bytes(rows), "r.csv")
    schools = summarize_schools(parsed)
    assert [(s.regiment, s.school, s.students, s.classes) for s in schools] == [
        ("129团", "中心小学", 300, 1),
        ("131团", "中心小学", 250, 1),
    ]


def test_same_school_name_twice_in_one_regiment_is_still_a_duplicate() -> None:
    rows = [["129团", "中心小学", "", 300, 20], ["129团", "中心小学", "", 250, 18]]
    problem = only(problems_of(csv_bytes(rows)), "duplicate_row")
    assert (problem.row, problem.params["first_line"]) == (3, 2)


@pytest.mark.parametrize(
    ("row", "column"),
    [
        (["合计", "", "", 1529, 118], "团场"),
        (["129团", "合计", "", 1529, 118], "学校"),
        (["129团", "胡杨河市第一中学", "小计", 90, 8], "班级"),
        (["129团合计", "", "", 1529, 118], "团场"),
        (["Total", "", "", 1529, 118], "团场"),
    ],
)
def test_a_total_row_says_to_delete_it(row: list[object], column: str) -> None:
    rows = [["129团", "胡杨河市第一中学", "七年级2班", 44, 3], row]
    problems = problems_of(csv_bytes(rows))
    assert [(p.row, p.column, p.code) for p in problems] == [(3, column, "total_row")]
    text = describe_problem(problems[0], Translator.load().bind("zh-CN"))
    assert text.startswith(f"第 3 行，“{column}”列：") and "请删除这一行" in text


@pytest.mark.parametrize(
    ("value", "first"),
    [
        ('=HYPERLINK("http://x.example")', "="),
        ("+1校", "+"),
        ("-129团", "-"),
        ("@中心小学", "@"),
        ("\t=1+1", "="),
    ],
)
@pytest.mark.parametrize("column", ["团场", "学校", "班级"])
def test_formula_like_names_are_refused_by_row_and_column(
    value: str, first: str, column: str
) -> None:
    row: list[object] = ["129团", "中心小学", "一年级1班", 30, 2]
    row[HEADER.index(column)] = value
    # In a workbook the name is text (Excel's quote prefix), as a typed '=… would be.
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    append_row(sheet, HEADER)
    append_row(sheet, row)
    xlsx = workbook_bytes(workbook)
    for content, name in ((csv_bytes([row]), "r.csv"), (xlsx, "r.xlsx")):
        problems = problems_of(content, name)
        assert [(p.row, p.column, p.code) for p in problems] == [(2, column, "formula_like")]
        assert problems[0].params["first"] == first
        text = describe_problem(problems[0], Translator.load().bind("zh-CN"))
        assert f"第 2 行，“{column}”列：" in text and "公式" in text


def test_counts_below_classes() -> None:
    rows = [
        ["129团", "A校", "", 50, 3],
        ["129团", "A校", "一年级1班", 30, 2],
        ["129团", "A校", "一年级2班", 30, 2],
    ]
    problems = problems_of(csv_bytes(rows))
    assert [
        (p.code, p.row, p.column, p.params["count"], p.params["class_sum"]) for p in problems
    ] == [
        ("counts_below_classes", 2, "学生人数", 50, 60),
        ("counts_below_classes", 2, "教师人数", 3, 4),
    ]


def test_bad_encoding() -> None:
    content = csv_text(ROWS).encode("utf-16")
    assert [(p.code, p.row, p.column) for p in problems_of(content)] == [
        ("bad_encoding", None, None)
    ]


@pytest.mark.parametrize("content", [b"", b"\r\n\r\n,,,\r\n", "\ufeff".encode()])
def test_empty_file(content: bytes) -> None:
    assert [p.code for p in problems_of(content)] == ["empty_file"]


def test_header_without_rows() -> None:
    problem = only(problems_of(csv_bytes([])), "no_data_rows")
    assert problem.row == 1


@pytest.mark.parametrize("filename", ["roster.xls", "roster.txt", "roster", "roster.csv.pdf"])
def test_unsupported_format(filename: str) -> None:
    problem = only(problems_of(csv_bytes(ROWS), filename), "unsupported_format")
    assert problem.params["filename"] == filename


def test_unreadable_xlsx() -> None:
    assert [p.code for p in problems_of(b"PK\x03\x04 this is no zip", "r.xlsx")] == [
        "unreadable_file"
    ]
    assert [p.code for p in problems_of(csv_bytes(ROWS), "r.xlsx")] == ["unreadable_file"]


def test_no_header() -> None:
    rows = [["129团", "A校", "", 10, 1]]
    problem = only(problems_of(csv_bytes(rows, ["甲", "乙", "丙", "丁", "戊"])), "no_header")
    assert problem.row == 1


def test_file_too_large() -> None:
    content = csv_bytes(ROWS) + b" " * MAX_FILE_BYTES
    problem = only(problems_of(content), "file_too_large")
    assert problem.params["max_mb"] == 5


def test_too_many_rows() -> None:
    rows = [["129团", f"校{index}", "", 10, 1] for index in range(20_001)]
    assert [p.code for p in problems_of(csv_bytes(rows))] == ["too_many_rows"]


def test_several_problems_at_once_are_all_reported_in_row_order() -> None:
    rows = [
        ["129团", "A校", "", 10, 1],  # 2: below its classes (students)
        ["129团", "A校", "一年级1班", "abc", 2],  # 3: not a number
        ["129团", "", "一年级2班", 30, -1],  # 4: empty school, negative teachers
        ["131团", "A校", "一年级3班", 30, 2],  # 5: another regiment's A校: fine
        ["129团", "A校", "一年级4班", 31, 1.5],  # 6: not an integer
        ["129团", "A校", "一年级5班", 20, 1],  # 7
        ["129团", "A校", "一年级5班", 20, 1],  # 8: duplicate of 7
    ]
    problems = problems_of(csv_bytes(rows))
    assert [(p.row, p.column, p.code) for p in problems] == [
        (2, "学生人数", "counts_below_classes"),
        (3, "学生人数", "not_a_number"),
        (4, "学校", "empty_value"),
        (4, "教师人数", "negative_count"),
        (6, "教师人数", "not_an_integer"),
        (8, None, "duplicate_row"),
    ]


# --------------------------------------------------------------------------- sample, template


def test_sample_roster() -> None:
    content = SAMPLE_ROSTER.read_bytes()
    assert content.startswith(b"\xef\xbb\xbf")
    rows = parse_roster(content, SAMPLE_ROSTER.name)
    schools = summarize_schools(rows)
    assert len(schools) == 15
    assert {school.regiment for school in schools} == {"129团", "131团", "137团"}
    assert all(not school.implied for school in schools)
    assert ("129团", "胡杨河市第一中学") in {(s.regiment, s.school) for s in schools}
    assert 10_000 <= sum(school.students for school in schools) <= 12_000
    for school in schools:
        assert 2 <= school.classes <= 4
        assert 200 <= school.students <= 1500
        assert 20 <= school.teachers <= 120
    for row in rows:
        if row.class_name is not None:
            assert 30 <= row.students <= 50
            assert 2 <= row.teachers <= 6


def test_template_example_rows_are_refused_when_filled_in_below() -> None:
    content = roster_template_xlsx()
    workbook = openpyxl.load_workbook(io.BytesIO(content))
    sheet = workbook.worksheets[0]
    examples = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2)]
    assert all("示例" in str(row[0]) and "示例" in str(row[1]) for row in examples)
    sheet.append(["131团", "一三一团中学", None, 800, 60])
    filled = io.BytesIO()
    workbook.save(filled)

    problems = problems_of(filled.getvalue(), "名册.xlsx")
    assert [(p.row, p.code) for p in problems] == [
        (2, "template_example"),
        (3, "template_example"),
    ]
    text = describe_problem(problems[0], Translator.load().bind("zh-CN"))
    assert text.startswith("第 2 行：") and "示例行" in text and "删除" in text


@pytest.mark.parametrize("to_csv", [False, True])
def test_example_rows_of_earlier_templates_are_refused_too(to_csv: bool) -> None:
    rows: list[list[object]] = [
        ["129团", "胡杨河市第一中学", "", 1200, 96],
        ["129团", "胡杨河市第一中学", "七年级1班", 45, 4],
        ["131团", "一三一团中学", "", 800, 60],
    ]
    content = csv_bytes(rows) if to_csv else xlsx_bytes(rows)
    problems = problems_of(content, "r.csv" if to_csv else "r.xlsx")
    assert [(p.row, p.code) for p in problems] == [
        (2, "template_example"),
        (3, "template_example"),
    ]


def test_template_explains_its_columns() -> None:
    content = roster_template_xlsx()
    workbook = openpyxl.load_workbook(io.BytesIO(content))
    assert workbook.sheetnames[1] == "说明"
    first = workbook.worksheets[0]
    assert [cell.value for cell in first[1]] == HEADER
    notes = " ".join(str(cell.value) for row in workbook["说明"].iter_rows() for cell in row)
    for column in HEADER:
        assert column in notes


# --------------------------------------------------------------------------- messages


@pytest.fixture(scope="module")
def translator() -> Translator:
    return Translator.load()


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_every_problem_code_has_a_message(translator: Translator, locale: str) -> None:
    catalog = translator.catalogs[locale]
    for code in ALL_CODES:
        assert f"roster.problem.{code}" in catalog, code


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_describe_real_problems_in_both_locales(translator: Translator, locale: str) -> None:
    gettext = translator.bind(locale)
    rows = [
        ["129团", "A校", "", 10, 1],
        ["129团", "A校", "一年级1班", "abc", 2],
        ["131团", "A校", "一年级3班", 30, 2],
        ["131团", "合计", "", 30, 2],
        ["131团", "=A1", "", 30, 2],
        ["131团", "【示例】某某中学", "", 30, 2],
        ["129团", "A校", "一年级3班", 30, 2],
        ["129团", "A校", "一年级3班", 30, 2],
        ["129团", "B校", "", 30, 2],
        ["137团", "B校", "", 30, 2],
    ]
    problems = problems_of(csv_bytes(rows))
    problems += problems_of(b"", "x.csv")
    problems += problems_of(b"a,b", "x.doc")
    problems += problems_of(csv_bytes([], ["团场", "学校", "学校"]))
    problems += problems_of(b"\xff\xfe\xfd", "x.csv")
    problems += problems_of(b" " * (MAX_FILE_BYTES + 1), "x.csv")
    for problem in problems:
        text = describe_problem(problem, gettext)
        assert "{" not in text and "}" not in text, text
        assert "roster." not in text
    not_a_number = only(problems, "not_a_number")
    assert describe_problem(not_a_number, gettext).startswith(
        "第 3 行，“学生人数”列：" if locale == "zh-CN" else "Row 3, column “学生人数”: "
    )


def test_describe_problem_formats() -> None:
    gettext = Translator.load().bind("zh-CN")
    cell = RosterProblem(3, "学生人数", "not_a_number", {"value": "abc"})
    assert (
        describe_problem(cell, gettext)
        == "第 3 行，“学生人数”列：“abc”不是数字，请填写不小于 0 的整数。"
    )
    row = RosterProblem(5, None, "duplicate_row", {"first_line": 2, "unit": "129团 / A校"})
    assert describe_problem(row, gettext) == "第 5 行：与第 2 行重复（129团 / A校）。"
    whole = RosterProblem(None, None, "empty_file", {})
    assert describe_problem(whole, gettext).startswith("文件：")
    unknown = RosterProblem(None, None, "no_such_code", {})
    assert "no_such_code" in describe_problem(unknown, gettext)
    many = [cell] * 25
    text = describe_problems(many, gettext, limit=20)
    assert text.count("\n") == 20
    assert "5" in text.splitlines()[-1]


def test_describe_problem_with_a_plain_callable() -> None:
    calls: list[tuple[str, dict[str, object]]] = []

    def fake(key: str, /, **params: object) -> str:
        calls.append((key, params))
        return key

    describe_problem(RosterProblem(2, "学校", "empty_value", {}), fake)
    assert [key for key, _ in calls] == ["roster.problem.empty_value", "roster.problem_at"]


# --------------------------------------------------------------------------- robustness


def _parse_or_roster_error(content: bytes, filename: str) -> None:
    try:
        rows = parse_roster(content, filename)
    except RosterError as error:
        assert error.problems
        assert all(isinstance(problem, RosterProblem) for problem in error.problems)
    else:
        assert all(isinstance(row, RosterRow) for row in rows)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=st.binary(max_size=2000), filename=st.sampled_from(["r.csv", "r.xlsx", "r.CSV"]))
def test_arbitrary_bytes_only_raise_roster_error(content: bytes, filename: str) -> None:
    _parse_or_roster_error(content, filename)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=500), encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]))
def test_arbitrary_csv_text_only_raises_roster_error(text: str, encoding: str) -> None:
    _parse_or_roster_error(text.encode(encoding), "r.csv")


_CELLS = st.one_of(
    st.sampled_from(
        ["", " ", "129团", "131团", "A校", "B校", "一年级1班", "0", "-1", "1.5", "1e3"]
    ),
    st.integers(min_value=-10, max_value=10**7).map(str),
    st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=8),
)


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.lists(_CELLS, min_size=0, max_size=7), max_size=12))
def test_structured_csv_only_raises_roster_error(rows: list[list[str]]) -> None:
    import csv

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerows(rows)
    _parse_or_roster_error(buffer.getvalue().encode("utf-8-sig"), "r.csv")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.lists(
            st.one_of(
                st.none(),
                st.integers(min_value=-5, max_value=10**7),
                st.floats(allow_nan=True, allow_infinity=True),
                st.booleans(),
                st.sampled_from(["129团", "A校", "一年级1班", "x"]),
            ),
            max_size=6,
        ),
        max_size=8,
    )
)
def test_structured_xlsx_only_raises_roster_error(rows: list[list[object]]) -> None:
    _parse_or_roster_error(xlsx_bytes(rows), "r.xlsx")


# --------------------------------------------------------------------------- into the tree

TWO_CENTRAL_SCHOOLS = [
    ["129团", "中心小学", "", 300, 20],
    ["129团", "中心小学", "一年级1班", 30, 2],
    ["131团", "中心小学", "", 250, 18],
    ["131团", "中心小学", "一年级1班", 28, 2],
    ["131团", "一三一团中学", "", 800, 60],
]


async def test_two_schools_of_one_name_import_and_are_told_apart_by_regiment(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    rows = parse_roster(csv_bytes(TWO_CENTRAL_SCHOOLS), "r.csv")
    async with session_factory() as session:
        await import_roster(session, rows, "第七师")
        await session.commit()
        repo = Repositories.over(session)
        schools = await repo.units.of_kind(UnitKind.SCHOOL)
        central = [s for s in schools if s.name == "中心小学"]
        assert len(central) == 2 and central[0].parent_id != central[1].parent_id
        assert [s.students_enrolled for s in central] == [300, 250]
        labels = [await repo.units.display_label(s) for s in central]
        klass = (await repo.units.children(central[1].id))[0]
        class_label = await repo.units.display_label(klass)
        unique = next(s for s in schools if s.name == "一三一团中学")
        unique_label = await repo.units.display_label(unique)
    assert labels == ["129团 · 中心小学", "131团 · 中心小学"]
    assert class_label == "131团 · 中心小学 · 一年级1班"
    assert unique_label == "一三一团中学"


def test_display_label_adds_the_regiment_only_to_a_shared_school_name() -> None:
    tree = {
        unit.id: unit
        for unit in (
            Unit(1, UnitKind.DIVISION, "第七师", None, "/1/"),
            Unit(2, UnitKind.REGIMENT, "129团", 1, "/1/2/"),
            Unit(3, UnitKind.REGIMENT, "131团", 1, "/1/3/"),
            Unit(4, UnitKind.SCHOOL, "中心小学", 2, "/1/2/4/"),
            Unit(5, UnitKind.SCHOOL, "中心小学", 3, "/1/3/5/"),
            Unit(6, UnitKind.SCHOOL, "一三一团中学", 3, "/1/3/6/"),
            Unit(7, UnitKind.CLASS, "七年级1班", 6, "/1/3/6/7/"),
            Unit(8, UnitKind.CLASS, "一年级1班", 4, "/1/2/4/8/"),
        )
    }
    assert display_label(tree[4], tree) == "129团 · 中心小学"
    assert display_label(tree[8], tree) == "129团 · 中心小学 · 一年级1班"
    assert display_label(tree[6], tree) == "一三一团中学"
    assert display_label(tree[7], tree) == "一三一团中学 · 七年级1班"
    assert display_label(tree[3], tree) == "131团"


SCHOOL_A = ["129团", "胡杨河市第一中学", "", 1400, 110]
CLASS_1 = ["129团", "胡杨河市第一中学", "七年级1班", 45, 5]
CLASS_2 = ["129团", "胡杨河市第一中学", "七年级2班", 44, 4]
SCHOOL_B = ["131团", "一三一团中学", "", 800, 60]
SCHOOL_C = ["131团", "一三一团第二小学", "", 300, 20]
CLASS_C = ["131团", "一三一团第二小学", "三年级1班", 40, 3]


async def _join(
    session_factory: async_sessionmaker[AsyncSession], telegram_id: int, unit_id: int
) -> None:
    async with session_factory() as session:
        participants = Repositories.over(session).participants
        person = await participants.get_or_create(telegram_id, "zh-CN")
        await participants.update(
            person,
            unit_id=unit_id,
            role="student",
            display_name="小明",
            joined_at=datetime.now(UTC),
        )
        await session.commit()


def _invoke(runner: CliRunner, path: Path, rows: list[list[object]], *options: str) -> str:
    path.write_bytes(csv_bytes(rows))
    result = runner.invoke(main, ["units", "import", str(path), *options])
    assert result.exit_code == 0, result.output
    return result.output


def test_reimport_tells_what_the_file_left_out_and_retires_it_on_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "cli.db"
    monkeypatch.setenv("PUFA_DATABASE_URL", f"sqlite+aiosqlite:///{database}")
    monkeypatch.setenv("PUFA_DEFAULT_LOCALE", "zh-CN")
    runner = CliRunner()
    roster = tmp_path / "名册.csv"
    output = _invoke(runner, roster, [SCHOOL_A, CLASS_1, CLASS_2, SCHOOL_B, SCHOOL_C, CLASS_C])
    assert "文件中没有" not in output

    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    factory = create_session_factory(engine)

    async def tree() -> dict[str, Unit]:
        async with factory() as session:
            repo = Repositories.over(session)
            units = await repo.units.within((await repo.units.roots())[0])
            return {unit.name: unit for unit in units}

    async def scenario() -> None:
        before = await tree()
        await _join(factory, 501, before["七年级2班"].id)
        await _join(factory, 502, before["三年级1班"].id)

    asyncio.run(scenario())

    # Without the flag: kept, and the importer is told so, with the people in them.
    output = _invoke(runner, roster, [SCHOOL_A, CLASS_1, SCHOOL_B])
    assert "文件中没有以下 2 个单位，已原样保留" in output
    assert "班级：胡杨河市第一中学 · 七年级2班（1 人）" in output
    assert "学校：一三一团第二小学（1 个班级，1 人）" in output
    assert "--retire-missing" in output
    kept = asyncio.run(tree())
    assert not kept["七年级2班"].retired and kept["七年级2班"].students_enrolled == 44

    # With it: retired, out of the rates and the pickers, the people still in their school.
    output = _invoke(runner, roster, [SCHOOL_A, CLASS_1, SCHOOL_B], "--retire-missing")
    assert "文件中没有以下 2 个单位，已停用" in output
    assert "其中的人员保留，仍计入所在学校" in output

    async def after_retiring() -> None:
        units = await tree()
        async with factory() as session:
            repo = Repositories.over(session)
            for name in ("七年级2班", "一三一团第二小学", "三年级1班"):
                assert units[name].retired, name
                assert (units[name].students_enrolled, units[name].teachers_enrolled) == (0, 0)
            school = units["胡杨河市第一中学"]
            assert [c.name for c in await repo.units.children(school.id)] == ["七年级1班"]
            assert "一三一团第二小学" not in {
                s.name for s in await repo.units.of_kind(UnitKind.SCHOOL)
            }
            registered = await repo.participants.count_registered_by_school()
            assert registered[school.id] == 1
            code = (await repo.invites.active_for(units["七年级1班"].id, Role.STUDENT)).code
            assert code
            revoked = await session.scalars(
                select(InviteCodeRow).where(InviteCodeRow.unit_id == units["七年级2班"].id)
            )
            assert all(row.revoked_at is not None for row in revoked)
            root = (await repo.units.roots())[0]
            period = Period(date(2020, 1, 1), date(2099, 12, 31))
            figures = await StatisticsRepository(session, concurrent=False).compile(
                root, period, ZoneInfo("Asia/Shanghai")
            )
        # The retired school's 300 are out of the rates; both of its people still count.
        assert figures.total.students_enrolled == 1400 + 800
        assert figures.total.registered.total == 2

    asyncio.run(after_retiring())
    result = runner.invoke(main, ["units", "list"])
    assert "七年级2班（班级，已停用）" in result.output

    # Listed again: back in use, and nothing is reported missing.
    output = _invoke(runner, roster, [SCHOOL_A, CLASS_1, CLASS_2, SCHOOL_B, SCHOOL_C, CLASS_C])
    assert "文件中没有" not in output
    back = asyncio.run(tree())
    assert not back["七年级2班"].retired and back["七年级2班"].students_enrolled == 44
    asyncio.run(engine.dispose())
