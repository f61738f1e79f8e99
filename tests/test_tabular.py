"""Reading teachers' workbooks: the sheet with the header, wherever it is (roster and bank)."""

from __future__ import annotations

import io

import openpyxl

from quizzes.roster import RosterRow, parse_roster
from quizzes.tabular import read_xlsx_table


def workbook_bytes(sheets: dict[str, list[list[object]]], hidden: tuple[str, ...] = ()) -> bytes:
    workbook = openpyxl.Workbook()
    first = workbook.active
    assert first is not None
    workbook.remove(first)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for cells in rows:
            sheet.append(cells)
        if title in hidden:
            sheet.sheet_state = "hidden"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


ROSTER = [
    ["团场", "学校", "班级", "学生人数", "教师人数"],
    ["129团", "胡杨河市第一中学", "七年级1班", 45, 5],
]


def test_a_roster_on_the_second_sheet_is_read() -> None:
    # Regression: only the first sheet was read; empty, it gave "文件是空的".
    content = workbook_bytes({"Sheet1": [], "名册": ROSTER})
    assert parse_roster(content, "名册.xlsx") == [
        RosterRow(2, "129团", "胡杨河市第一中学", "七年级1班", 45, 5)
    ]
    with_notes = workbook_bytes({"填表说明": [["请在第二个工作表填写"]], "名册": ROSTER})
    assert len(parse_roster(with_notes, "名册.xlsx")) == 1


def is_roster_header(cells: list[object]) -> bool:
    return "学校" in cells


def test_the_first_sheet_with_the_header_is_chosen_visible_ones_first() -> None:
    content = workbook_bytes(
        {"旧名册": ROSTER, "说明": [["说明"]], "名册": [["标题"], *ROSTER]}, hidden=("旧名册",)
    )
    table = read_xlsx_table(
        content, max_lines=100, max_columns=10, is_header=is_roster_header, header_rows=10
    )
    assert (table.sheet, table.sheets, table.has_header) == (
        "名册",
        ("旧名册", "说明", "名册"),
        True,
    )
    assert table.rows[1] == (2, ROSTER[0])


def test_without_a_header_anywhere_the_first_sheet_with_content_is_read() -> None:
    content = workbook_bytes({"Sheet1": [], "Sheet2": [["随便写的"]]})
    table = read_xlsx_table(content, max_lines=100, max_columns=10, is_header=is_roster_header)
    assert (table.sheet, table.has_header, table.rows) == ("Sheet2", False, [(1, ["随便写的"])])
