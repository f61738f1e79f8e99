"""Parse an uploaded unit roster (regiment > school > class with enrolment counts).

The roster arrives as an ``.xlsx`` workbook or a ``.csv`` file exported by Excel (UTF-8,
UTF-8 with BOM, or GB18030 as Chinese Excel writes it). Every problem found is collected and
raised together in one :class:`RosterError`, so the person who uploaded the file can fix all
of them in one go. Problems carry a ``code`` and ``params`` only; wording lives in the
translation catalog (``roster.problem.<code>``).

This module is pure Python plus openpyxl: it knows nothing about Telegram or the database.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from quizzes.spreadsheet_safety import looks_like_formula, workbook_bytes
from quizzes.tabular import Cell, TabularError, read_rows
from quizzes.tabular import clean_text as _tabular_clean_text
from quizzes.tabular import normalize_header as _normalize_header

__all__ = [
    "COLUMNS",
    "MAX_COUNT",
    "MAX_FILE_BYTES",
    "MAX_NAME_LENGTH",
    "MAX_ROWS",
    "MAX_ROWS_CORPS",
    "RosterError",
    "RosterProblem",
    "RosterRow",
    "SchoolSummary",
    "is_template_example",
    "parse_roster",
    "roster_template_xlsx",
    "summarize_schools",
]

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
# What the bureau's own command line accepts: a corps-wide roster has some 40,000 rows.
MAX_ROWS_CORPS = 100_000
MAX_COUNT = 1_000_000
MAX_NAME_LENGTH = 100
MAX_COLUMNS = 100
# Rows read from the file at all, blank ones included (guards memory, not the data limit),
# per data row allowed.
RAW_LINES_PER_ROW = 5
# How many non-empty rows may precede the header (a title such as "2024年学生名册").
HEADER_SEARCH_ROWS = 10
_VALUE_PREVIEW = 30


@dataclass(frozen=True)
class RosterRow:
    """One data row. ``line`` is the row number the user sees in the spreadsheet (header = 1)."""

    line: int
    regiment: str
    school: str
    class_name: str | None
    students: int
    teachers: int

    @property
    def is_school(self) -> bool:
        return self.class_name is None


@dataclass(frozen=True)
class RosterProblem:
    """One thing wrong with the file; ``column`` is the header as written in the file."""

    row: int | None
    column: str | None
    code: str
    params: dict[str, str | int] = field(default_factory=dict)


class RosterError(Exception):
    """The roster cannot be imported; ``problems`` lists everything that is wrong."""

    def __init__(self, problems: Sequence[RosterProblem]) -> None:
        self.problems: list[RosterProblem] = list(problems)
        codes = ", ".join(sorted({problem.code for problem in self.problems}))
        super().__init__(f"{len(self.problems)} roster problem(s): {codes}")


@dataclass(frozen=True)
class SchoolSummary:
    """A school with its totals; ``implied`` means the file has class rows but no school row."""

    regiment: str
    school: str
    students: int
    teachers: int
    classes: int
    implied: bool
    line: int


@dataclass(frozen=True)
class _Column:
    key: str
    zh: str
    en: str
    aliases: frozenset[str]
    required: bool


def _aliases(*names: str) -> frozenset[str]:
    return frozenset(_normalize_header(name) for name in names)


COLUMNS: tuple[_Column, ...] = (
    _Column("regiment", "团场", "regiment", _aliases("团场", "团", "regiment"), True),
    _Column("school", "学校", "school", _aliases("学校", "学校名称", "school"), True),
    _Column("class", "班级", "class", _aliases("班级", "班级名称", "class", "class name"), False),
    _Column(
        "students",
        "学生人数",
        "students",
        _aliases("学生人数", "学生数", "students", "student count", "number of students"),
        True,
    ),
    _Column(
        "teachers",
        "教师人数",
        "teachers",
        _aliases("教师人数", "教师数", "teachers", "teacher count", "number of teachers"),
        True,
    ),
)
_COLUMN_BY_ALIAS: dict[str, _Column] = {
    alias: column for column in COLUMNS for alias in column.aliases
}


# --------------------------------------------------------------------------- reading files


def _problem(
    code: str, row: int | None = None, column: str | None = None, /, **params: str | int
) -> RosterProblem:
    return RosterProblem(row=row, column=column, code=code, params=dict(params))


def _file_error(code: str, **params: str | int) -> RosterError:
    return RosterError([_problem(code, **params)])


def _read_rows(content: bytes, filename: str, max_rows: int) -> list[tuple[int, list[Cell]]]:
    """``(line, cells)`` for every row of the file, empty rows included."""
    try:
        rows = read_rows(
            content,
            filename,
            max_lines=max_rows * RAW_LINES_PER_ROW,
            max_columns=MAX_COLUMNS,
            # The first sheet with the header, whatever sheet the teacher put the data on.
            is_header=lambda cells: any(
                _normalize_header(_clean_text(cell)) in _COLUMN_BY_ALIAS for cell in cells
            ),
            header_rows=HEADER_SEARCH_ROWS,
        )
    except TabularError as error:
        raise _table_error(error, max_rows) from error
    if rows is None:
        raise _file_error("unsupported_format", filename=filename.strip()[: _VALUE_PREVIEW * 2])
    return rows


def _table_error(error: TabularError, max_rows: int) -> RosterError:
    if error.code == "too_many_rows":
        return _file_error("too_many_rows", max=max_rows)
    return _file_error(error.code)


# --------------------------------------------------------------------------- cell values


# A corps-wide roster has some 200,000 cells: the common cases skip the general cleaning.


def _clean_text(value: Cell) -> str:
    """:func:`quizzes.tabular.clean_text`; a name of letters and digits only is clean already."""
    if isinstance(value, str) and value.isalnum():
        return value
    return _tabular_clean_text(value)


def _is_empty(value: Cell) -> bool:
    if value is None:
        return True
    if not isinstance(value, str) or value[:1].isalnum():
        return False  # a number, or text that starts with a letter or digit
    return _clean_text(value) == ""


def _preview(text: str) -> str:
    return text if len(text) <= _VALUE_PREVIEW else text[: _VALUE_PREVIEW - 1] + "…"


_NUMBER = re.compile(r"([+-]?)(\d+)(?:\.(\d*))?", re.ASCII)
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?", re.ASCII)


def parse_count(value: Cell) -> int | tuple[str, dict[str, str | int]]:
    """Return the count, or ``(code, params)`` describing why it is not one."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = Decimal(value)
        shown = str(value)
    elif isinstance(value, float):
        shown = _preview(repr(value))
        if not math.isfinite(value):
            return "not_a_number", {"value": shown}
        number = Decimal(value)
        if value.is_integer():
            shown = str(int(value)) if abs(value) < 1e15 else shown
    else:
        text = _clean_text(value)
        shown = _preview(text)
        normalized = unicodedata.normalize("NFKC", text).replace(" ", "")
        if _GROUPED.fullmatch(normalized):
            normalized = normalized.replace(",", "")
        match = _NUMBER.fullmatch(normalized)
        if match is None or len(match.group(2)) > 15:
            if match is not None:
                return "count_too_large", {"value": shown, "max": MAX_COUNT}
            return "not_a_number", {"value": shown}
        sign, whole, fraction = match.groups()
        number = Decimal(f"{sign}{whole}.{fraction or '0'}")
    if number < 0:
        return "negative_count", {"value": shown}
    if number != number.to_integral_value():
        return "not_an_integer", {"value": shown}
    if number > MAX_COUNT:
        return "count_too_large", {"value": shown, "max": MAX_COUNT}
    return int(number)


# --------------------------------------------------------------------------- parsing


@dataclass
class _Header:
    line: int
    positions: dict[str, int]
    titles: dict[str, str]


def _find_header(
    rows: list[tuple[int, list[Cell]]], problems: list[RosterProblem]
) -> tuple[_Header, int] | None:
    """Locate the header row; return it and the index of the first data row."""
    first_line: int | None = None
    seen = 0
    for index, (line, cells) in enumerate(rows):
        if all(_is_empty(cell) for cell in cells):
            continue
        if first_line is None:
            first_line = line
        seen += 1
        matches = [
            (position, _COLUMN_BY_ALIAS.get(_normalize_header(_clean_text(cell))), cell)
            for position, cell in enumerate(cells)
        ]
        if any(column is not None for _, column, _ in matches):
            positions: dict[str, int] = {}
            titles: dict[str, str] = {}
            header_ok = True
            for position, column, cell in matches:
                if column is None:
                    continue
                title = _clean_text(cell)
                if column.key in positions:
                    header_ok = False
                    problems.append(
                        _problem("duplicate_column", line, title, column=titles[column.key])
                    )
                    continue
                positions[column.key] = position
                titles[column.key] = title
            for column in COLUMNS:
                if column.required and column.key not in positions:
                    header_ok = False
                    problems.append(
                        _problem(
                            "missing_column", line, None, column=column.zh, column_en=column.en
                        )
                    )
            if not header_ok:
                return None
            return _Header(line, positions, titles), index + 1
        if seen >= HEADER_SEARCH_ROWS:
            break
    if first_line is None:
        problems.append(_problem("empty_file"))
    else:
        problems.append(_problem("no_header", first_line))
    return None


# A row that totals the others ("合计", "129团小计", "Total"): the import adds up by itself.
_TOTAL_WORDS = ("合计", "总计", "小计", "总数", "共计", "汇总")
_TOTAL_NAMES = frozenset({"total", "totals", "subtotal", "grandtotal", "sum"})


def _is_total_name(text: str) -> bool:
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = re.sub(r"[\s:：()（）]+", "", folded)
    return folded in _TOTAL_NAMES or folded.endswith(_TOTAL_WORDS)


def _parse_data_row(
    header: _Header, line: int, cells: list[Cell], problems: list[RosterProblem]
) -> RosterRow | None:
    def cell(key: str) -> Cell:
        position = header.positions.get(key)
        if position is None or position >= len(cells):
            return None
        return cells[position]

    raw_names: dict[str, str] = {
        key: _clean_text(cell(key))
        for key in ("regiment", "school", "class")
        if key in header.positions
    }
    for key, text in raw_names.items():
        if _is_total_name(text):
            # Whatever else is wrong with it, the row has to go.
            problems.append(_problem("total_row", line, header.titles[key], value=_preview(text)))
            return None

    ok = True
    names: dict[str, str] = {}
    for key, text in raw_names.items():
        title = header.titles[key]
        if not text and key != "class":
            problems.append(_problem("empty_value", line, title))
            ok = False
        elif len(text) > MAX_NAME_LENGTH:
            problems.append(
                _problem("value_too_long", line, title, length=len(text), max=MAX_NAME_LENGTH)
            )
            ok = False
        elif looks_like_formula(text):
            problems.append(
                _problem("formula_like", line, title, value=_preview(text), first=text[0])
            )
            ok = False
        names[key] = text
    counts: dict[str, int] = {}
    for key in ("students", "teachers"):
        title = header.titles[key]
        raw = cell(key)
        if _is_empty(raw):
            problems.append(_problem("empty_value", line, title))
            ok = False
            continue
        parsed = parse_count(raw)
        if isinstance(parsed, tuple):
            code, params = parsed
            problems.append(RosterProblem(line, title, code, params))
            ok = False
        else:
            counts[key] = parsed
    if not ok:
        return None
    row = RosterRow(
        line=line,
        regiment=names["regiment"],
        school=names["school"],
        class_name=names.get("class") or None,
        students=counts["students"],
        teachers=counts["teachers"],
    )
    if is_template_example(row):
        problems.append(_problem("template_example", line))
        return None
    return row


def _unit(row: RosterRow) -> str:
    parts = [row.regiment, row.school]
    if row.class_name:
        parts.append(row.class_name)
    return " / ".join(parts)


def _check_structure(
    header: _Header, rows: list[RosterRow], problems: list[RosterProblem]
) -> None:
    # Duplicates: the second occurrence of (regiment, school, class) is reported.
    first_seen: dict[tuple[str, str, str | None], RosterRow] = {}
    unique: list[RosterRow] = []
    for row in rows:
        key = (row.regiment, row.school, row.class_name)
        first = first_seen.get(key)
        if first is not None:
            problems.append(
                _problem(
                    "duplicate_row",
                    row.line,
                    None,
                    first_line=first.line,
                    regiment=row.regiment,
                    school=row.school,
                    unit=_unit(row),
                )
            )
            continue
        first_seen[key] = row
        unique.append(row)

    # Schools are known by regiment and name: two 中心小学 in two regiments are two schools.
    consistent = unique

    # A school row's counts must cover the sum of its classes.
    sums: dict[tuple[str, str], list[int]] = {}
    for row in consistent:
        if not row.is_school:
            total = sums.setdefault((row.regiment, row.school), [0, 0])
            total[0] += row.students
            total[1] += row.teachers
    for row in consistent:
        if not row.is_school:
            continue
        students, teachers = sums.get((row.regiment, row.school), [0, 0])
        for count_key, count, class_sum in (
            ("students", row.students, students),
            ("teachers", row.teachers, teachers),
        ):
            if count < class_sum:
                problems.append(
                    _problem(
                        "counts_below_classes",
                        row.line,
                        header.titles[count_key],
                        school=row.school,
                        count=count,
                        class_sum=class_sum,
                    )
                )


def _sort_key(problem: RosterProblem) -> tuple[int, int]:
    return (problem.row or 0, 0 if problem.column is None else 1)


def parse_roster(content: bytes, filename: str, *, max_rows: int = MAX_ROWS) -> list[RosterRow]:
    """Parse an ``.xlsx`` or ``.csv`` roster; raise :class:`RosterError` listing every problem.

    ``max_rows`` data rows at most: :data:`MAX_ROWS` unless told, :data:`MAX_ROWS_CORPS`
    for a corps-wide roster.
    """
    if len(content) > MAX_FILE_BYTES:
        raise _file_error(
            "file_too_large",
            size_mb=f"{len(content) / 1024 / 1024:.1f}",
            max_mb=MAX_FILE_BYTES // (1024 * 1024),
        )
    if not content:
        raise _file_error("empty_file")
    rows = _read_rows(content, filename, max_rows)
    problems: list[RosterProblem] = []
    found = _find_header(rows, problems)
    if found is None:
        raise RosterError(problems)
    header, start = found
    parsed: list[RosterRow] = []
    data_rows = 0
    for line, cells in rows[start:]:
        if all(_is_empty(cell) for cell in cells):
            continue
        data_rows += 1
        if data_rows > max_rows:
            raise _file_error("too_many_rows", max=max_rows)
        row = _parse_data_row(header, line, cells, problems)
        if row is not None:
            parsed.append(row)
    if data_rows == 0:
        problems.append(_problem("no_data_rows", header.line))
    _check_structure(header, parsed, problems)
    if problems:
        problems.sort(key=_sort_key)
        raise RosterError(problems)
    return parsed


def summarize_schools(rows: Iterable[RosterRow]) -> list[SchoolSummary]:
    """One entry per school in file order; implied schools total their classes."""
    order: list[tuple[str, str]] = []
    school_rows: dict[tuple[str, str], RosterRow] = {}
    class_rows: dict[tuple[str, str], list[RosterRow]] = {}
    for row in rows:
        key = (row.regiment, row.school)
        if key not in school_rows and key not in class_rows:
            order.append(key)
        if row.is_school:
            school_rows.setdefault(key, row)
        else:
            class_rows.setdefault(key, []).append(row)
    summaries: list[SchoolSummary] = []
    for key in order:
        classes = class_rows.get(key, [])
        own = school_rows.get(key)
        if own is not None:
            students, teachers, line = own.students, own.teachers, own.line
        else:
            students = sum(row.students for row in classes)
            teachers = sum(row.teachers for row in classes)
            line = classes[0].line
        summaries.append(
            SchoolSummary(key[0], key[1], students, teachers, len(classes), own is None, line)
        )
    return summaries


# --------------------------------------------------------------------------- template

EXAMPLE_MARK = "【示例】"
_TEMPLATE_EXAMPLES: tuple[tuple[str, str, str, int, int], ...] = (
    (f"{EXAMPLE_MARK}129团", f"{EXAMPLE_MARK}某某中学", "", 1200, 96),
    (f"{EXAMPLE_MARK}129团", f"{EXAMPLE_MARK}某某中学", f"{EXAMPLE_MARK}七年级1班", 45, 4),
)
# The example rows of templates handed out before the examples were marked.
_EARLIER_EXAMPLES: tuple[tuple[str, str, str, int, int], ...] = (
    ("129团", "胡杨河市第一中学", "", 1200, 96),
    ("129团", "胡杨河市第一中学", "七年级1班", 45, 4),
)


def is_template_example(row: RosterRow) -> bool:
    """The row is one of a template's example rows (or keeps an example's mark)."""
    values = (row.regiment, row.school, row.class_name or "", row.students, row.teachers)
    if values in _TEMPLATE_EXAMPLES or values in _EARLIER_EXAMPLES:
        return True
    return any(name.startswith(EXAMPLE_MARK) for name in values[:3] if isinstance(name, str))


_TEMPLATE_NOTES: tuple[tuple[str, str], ...] = (
    ("列名", "说明"),
    ("团场", "必填。学校所属团场，如“129团”。同一所学校只能属于一个团场。"),
    ("学校", "必填。学校全称，如“胡杨河市第一中学”。"),
    (
        "班级",
        "选填。留空表示这一行是学校本身；填写班级名称（如“七年级1班”）表示这一行是该校的一个班级。",
    ),
    ("学生人数", "必填。在籍学生人数，填写不小于 0 的整数。"),
    ("教师人数", "必填。在籍教师人数，填写不小于 0 的整数。"),
    ("", ""),
    ("填写规则", ""),
    ("1", "第一行是表头，请勿修改列名；每所学校、每个班级各占一行，空行会被忽略。"),
    (
        "2",
        "同一团场、学校、班级的组合不能重复出现。不同团场可以有同名学校（如两所“中心小学”），"
        "同一团场内学校不能重名。",
    ),
    ("3", "学校行的人数应不少于其各班级人数之和；没有学校行时，学校人数按各班级合计。"),
    (
        "4",
        "第 2、3 行是灰色的示例行，名称带有“【示例】”，仅供参考。请先删除示例行再填写，"
        "否则文件无法导入。",
    ),
    ("5", "不要填写“合计”“小计”行，各校、各团场的合计由系统自动计算。"),
    ("6", "名称不能以 =、+、-、@ 开头（表格软件会把这样的内容当作公式）。"),
    ("7", "支持 .xlsx 文件，或 UTF-8 / GB18030 编码的 .csv 文件，大小不超过 5 MB。"),
)


def roster_template_xlsx() -> bytes:
    """An empty roster workbook with Chinese headers, two example rows and a 说明 sheet."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    workbook = Workbook()
    sheet: Any = workbook.active
    sheet.title = "名册"
    sheet.append([column.zh for column in COLUMNS])
    example_font = Font(italic=True, color="808080")
    example_fill = PatternFill("solid", fgColor="F2F2F2")
    for example in _TEMPLATE_EXAMPLES:
        sheet.append(list(example))
        for cell in sheet[sheet.max_row]:
            cell.font = example_font
            cell.fill = example_fill
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = header_fill
        cell.alignment = Alignment(horizontal="center")
    for letter, width in zip("ABCDE", (16, 28, 20, 12, 12), strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A2"

    notes: Any = workbook.create_sheet("说明")
    for note in _TEMPLATE_NOTES:
        notes.append(list(note))
    notes["A1"].font = Font(bold=True)
    notes["B1"].font = Font(bold=True)
    notes["A8"].font = Font(bold=True)
    notes.column_dimensions["A"].width = 12
    notes.column_dimensions["B"].width = 90
    for row in notes.iter_rows():
        row[1].alignment = Alignment(wrap_text=True, vertical="top")

    return workbook_bytes(workbook)
