"""Offline activities from a spreadsheet: the template schools fill in, and its reading.

All or nothing, like the roster: every problem is listed with its row and column, and
nothing is recorded until the file has none. Units are matched by the application layer
(the file names them by 团场, 学校 and 班级); this module only reads and checks cells.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from quizzes.activities import MAX_SPEAKER, MAX_TITLE, Headcount
from quizzes.activity_kinds import RECORDED_BY_HAND, kind_for_name
from quizzes.roster import parse_count
from quizzes.spreadsheet_safety import looks_like_formula, workbook_bytes
from quizzes.tabular import Cell, TabularError, clean_text, normalize_header, read_rows
from quizzes.themes import THEME_NAMES, Theme, theme_named

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_ROWS = 5_000
MAX_COLUMNS = 40
HEADER_SEARCH_ROWS = 10


@dataclass(frozen=True, slots=True)
class ActivityProblem:
    """``row``/``column`` as the teacher sees them (line number, header text)."""

    code: str
    row: int | None = None
    column: str | None = None
    params: dict[str, str | int] = field(default_factory=dict)


class ActivityImportError(Exception):
    def __init__(self, problems: list[ActivityProblem]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s)")


@dataclass(frozen=True, slots=True)
class ActivityRow:
    line: int
    held_on: date
    kind: str
    theme: Theme
    title: str
    regiment: str
    school: str
    class_name: str
    headcount: Headcount
    speaker: str
    speaker_organisation: str


@dataclass(frozen=True, slots=True)
class _Column:
    key: str
    zh: str
    required: bool
    aliases: frozenset[str]


def _column(key: str, zh: str, required: bool, *aliases: str) -> _Column:
    return _Column(key, zh, required, frozenset(normalize_header(a) for a in (zh, *aliases)))


COLUMNS: tuple[_Column, ...] = (
    _column("date", "日期", True, "活动日期", "时间", "活动时间", "date"),
    _column("kind", "活动类型", True, "类型", "活动形式", "形式", "kind", "type"),
    _column("theme", "主题", False, "活动主题", "专题", "theme"),
    _column("title", "活动名称", True, "名称", "标题", "活动标题", "title"),
    _column("regiment", "团场", True, "团", "regiment"),
    _column("school", "学校", True, "学校名称", "school"),
    _column("class", "班级", False, "班级名称", "class"),
    _column("students", "学生人数", False, "参与学生", "学生", "学生参与人数", "students"),
    _column(
        "teachers",
        "教职工人数",
        False,
        "教师人数",
        "参与教职工",
        "参与教师",
        "教职工",
        "教师",
        "teachers",
    ),
    _column("parents", "家长人数", False, "参与家长", "家长", "家长参与人数", "parents"),
    _column("speaker", "主讲人", False, "主讲", "讲师", "授课人", "speaker"),
    _column("organisation", "主讲人单位", False, "单位", "主讲单位", "organisation"),
)
_BY_ALIAS = {alias: column for column in COLUMNS for alias in column.aliases}
_COUNTS = ("students", "teachers", "parents")

# 2026-09-01, 2026/9/1, 2026.9.1, 2026年9月1日, with an optional time after it.
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T].*)?")
_EXCEL_EPOCH = date(1899, 12, 30)


def parse_day(value: Cell) -> date | None:
    """A day as Excel, WPS or a teacher writes it; ``None`` when it is not one."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 20_000 <= value < 80_000 and float(value).is_integer():  # Excel's day number
            return _EXCEL_EPOCH + timedelta(days=int(value))
        return None
    match = _DATE.fullmatch(clean_text(value))
    if match is None:
        return None
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


def _read(content: bytes, filename: str) -> list[tuple[int, list[Cell]]]:
    try:
        rows = read_rows(
            content,
            filename,
            max_lines=MAX_ROWS + HEADER_SEARCH_ROWS,
            max_columns=MAX_COLUMNS,
            is_header=_is_header,
            header_rows=HEADER_SEARCH_ROWS,
        )
    except TabularError as error:
        code = error.code
        params: dict[str, str | int] = {"max": MAX_ROWS} if code == "too_many_rows" else {}
        raise ActivityImportError([ActivityProblem(code, params=params)]) from error
    if rows is None:
        raise ActivityImportError(
            [ActivityProblem("unsupported_format", params={"filename": filename[:60]})]
        )
    return rows


def _is_header(cells: list[Cell]) -> bool:
    keys = {
        _BY_ALIAS[h].key
        for h in (normalize_header(clean_text(c)) for c in cells)
        if h in _BY_ALIAS
    }
    return {"date", "kind", "title"} <= keys


def _header(
    rows: list[tuple[int, list[Cell]]], problems: list[ActivityProblem]
) -> tuple[int, dict[str, int], dict[str, str]] | None:
    """The header's index in ``rows``, each column's position and its title as written."""
    for index, (line, cells) in enumerate(rows[:HEADER_SEARCH_ROWS]):
        if not _is_header(cells):
            continue
        positions: dict[str, int] = {}
        titles: dict[str, str] = {}
        for position, cell in enumerate(cells):
            title = clean_text(cell)
            column = _BY_ALIAS.get(normalize_header(title))
            if column is None:
                continue
            if column.key in positions:
                problems.append(ActivityProblem("duplicate_column", line, title))
                continue
            positions[column.key] = position
            titles[column.key] = title
        for column in COLUMNS:
            if column.required and column.key not in positions:
                problems.append(
                    ActivityProblem("missing_column", line, params={"column": column.zh})
                )
        if not any(key in positions for key in _COUNTS):
            problems.append(ActivityProblem("missing_counts", line))
        return (index, positions, titles) if not problems else None
    problems.append(ActivityProblem("no_header"))
    return None


class _Row:
    """One data row's cells by column key, collecting the row's problems."""

    def __init__(
        self, line: int, cells: list[Cell], positions: dict[str, int], titles: dict[str, str]
    ) -> None:
        self.line, self.cells, self.positions, self.titles = line, cells, positions, titles
        self.problems: list[ActivityProblem] = []

    def raw(self, key: str) -> Cell:
        position = self.positions.get(key)
        return None if position is None or position >= len(self.cells) else self.cells[position]

    def text(self, key: str, *, required: bool = False, limit: int = MAX_TITLE) -> str:
        text = clean_text(self.raw(key))
        if required and not text:
            self.fail(key, "missing_value")
        elif len(text) > limit:
            self.fail(key, "too_long", max=limit)
        elif looks_like_formula(text):
            self.fail(key, "formula_like", value=text[:30])
        return text

    def fail(self, key: str, code: str, **params: str | int) -> None:
        title = self.titles.get(key) or next(c.zh for c in COLUMNS if c.key == key)
        self.problems.append(ActivityProblem(code, self.line, title, dict(params)))


def _parse_row(row: _Row) -> ActivityRow | None:
    held_on = parse_day(row.raw("date"))
    if held_on is None:
        shown = clean_text(row.raw("date"))
        row.fail("date", "missing_value" if not shown else "not_a_date", value=shown[:30])
    kind_text = row.text("kind", required=True)
    kind = kind_for_name(kind_text) if kind_text else None
    if kind_text and kind is None:
        row.fail("kind", "unknown_kind", value=kind_text[:30])
    theme_text = row.text("theme")
    theme = theme_named(theme_text) if theme_text else (kind.default_theme if kind else None)
    if theme_text and theme is None:
        row.fail("theme", "unknown_theme", value=theme_text[:30])
    counts: list[int] = []
    for key in _COUNTS:
        raw = row.raw(key)
        parsed = 0 if clean_text(raw) == "" else parse_count(raw)
        if isinstance(parsed, tuple):
            code, params = parsed
            row.fail(key, code, **params)
            parsed = 0
        counts.append(parsed)
    title = row.text("title", required=True)
    regiment = row.text("regiment", required=True)
    school = row.text("school", required=True)
    class_name = row.text("class")
    speaker = row.text("speaker", limit=MAX_SPEAKER)
    organisation = row.text("organisation", limit=MAX_SPEAKER)
    if kind is not None and kind.needs_speaker and not speaker:
        row.fail("speaker", "missing_speaker", kind=kind.zh)
    if not row.problems and sum(counts) == 0:
        row.problems.append(ActivityProblem("nobody_counted", row.line))
    if row.problems or held_on is None or kind is None or theme is None:
        return None
    return ActivityRow(
        row.line,
        held_on,
        kind.code,
        theme,
        title,
        regiment,
        school,
        class_name,
        Headcount(*counts),
        speaker,
        organisation,
    )


def parse_activities(content: bytes, filename: str, *, today: date) -> list[ActivityRow]:
    """Every row of the file, or :class:`ActivityImportError` with every problem in it."""
    if not content:
        raise ActivityImportError([ActivityProblem("empty_file")])
    if len(content) > MAX_FILE_BYTES:
        raise ActivityImportError(
            [ActivityProblem("file_too_large", params={"max_mb": MAX_FILE_BYTES // 2**20})]
        )
    rows = _read(content, filename)
    problems: list[ActivityProblem] = []
    found = _header(rows, problems)
    if found is None:
        raise ActivityImportError(problems)
    start, positions, titles = found
    parsed: list[ActivityRow] = []
    for line, cells in rows[start + 1 :]:
        if not any(clean_text(cell) for cell in cells) or _is_example(cells):
            continue
        row = _Row(line, cells, positions, titles)
        activity = _parse_row(row)
        if activity is not None and activity.held_on > today:
            row.fail("date", "date_in_future", value=activity.held_on.isoformat())
            activity = None
        problems.extend(row.problems)
        if activity is not None:
            parsed.append(activity)
    if not parsed and not problems:
        problems.append(ActivityProblem("no_data_rows"))
    if problems:
        raise ActivityImportError(problems)
    return parsed


EXAMPLE_MARK = "【示例】"


def _is_example(cells: list[Cell]) -> bool:
    """The template's grey example rows are skipped, so a school may leave them in."""
    return any(clean_text(cell).startswith(EXAMPLE_MARK) for cell in cells)


_EXAMPLES: tuple[tuple[Any, ...], ...] = (
    (
        "2026-09-01",
        "法治副校长讲座",
        "宪法",
        f"{EXAMPLE_MARK}开学第一课：宪法在我身边",
        "129团",
        "胡杨河市第一中学",
        "",
        420,
        30,
        0,
        "王某某",
        "第七师中级人民法院",
    ),
    (
        "2026-12-04",
        "宪法晨读",
        "宪法",
        f"{EXAMPLE_MARK}国家宪法日晨读",
        "129团",
        "胡杨河市第一中学",
        "七年级1班",
        45,
        1,
        0,
        "",
        "",
    ),
)


def activity_template_xlsx() -> bytes:
    """The empty template with Chinese headers, two grey example rows and a 说明 sheet."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill

    workbook = Workbook()
    sheet: Any = workbook.active
    sheet.title = "活动记录"
    sheet.append([column.zh for column in COLUMNS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
    for example in _EXAMPLES:
        sheet.append(list(example))
        for cell in sheet[sheet.max_row]:
            cell.font = Font(italic=True, color="808080")
            cell.fill = PatternFill("solid", fgColor="F2F2F2")
    for index, width in enumerate((12, 16, 10, 34, 10, 22, 14, 10, 10, 10, 10, 22)):
        sheet.column_dimensions[chr(ord("A") + index)].width = width
    sheet.freeze_panes = "A2"
    notes: Any = workbook.create_sheet("说明")
    for line in _notes():
        notes.append(list(line))
    notes.column_dimensions["A"].width = 14
    notes.column_dimensions["B"].width = 90
    return workbook_bytes(workbook)


def _notes() -> list[tuple[str, str]]:
    kinds = "、".join(kind.zh for kind in RECORDED_BY_HAND)
    themes = "、".join(names[0] for names in THEME_NAMES.values())
    return [
        ("列名", "说明"),
        ("日期", "必填。活动举行的日期，如 2026-09-01 或 2026/9/1，不能晚于导入当天。"),
        ("活动类型", f"必填。可填：{kinds}。"),
        ("主题", f"选填。可填：{themes}；留空时按活动类型的常用主题。"),
        ("活动名称", f"必填。不超过 {MAX_TITLE} 个字。"),
        ("团场、学校", "必填。与名册中的名称一致。"),
        ("班级", "选填。班级活动填写班级名称，全校活动留空。"),
        ("学生人数、教职工人数、家长人数", "参与人次，填写不小于 0 的整数，至少一项大于 0。"),
        ("主讲人、主讲人单位", "讲座类活动必填主讲人，如“王某某”“第七师中级人民法院”。"),
        ("", ""),
        ("1", "第 2、3 行是灰色的示例行，名称带有“【示例】”，导入时会被跳过。"),
        ("2", "文件中任何一行有错误时整份文件都不会导入，请按提示的行号和列名修改后重新导入。"),
        ("3", "学校录入的活动经教育局确认后计入年度报告。"),
    ]
