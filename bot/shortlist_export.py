"""The shortlist as a spreadsheet, with every tie-break column shown."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from openpyxl import Workbook
from openpyxl.styles import Font

from quizzes.spreadsheet_safety import workbook_bytes
from quizzes.statistics import rounded_percent


@dataclass(frozen=True, slots=True)
class ShortlistLine:
    rank: int
    name: str
    school: str
    unit: str
    points: float
    percent: float
    total_ms: int
    finished_at: datetime
    flagged: int = 0


def shortlist_xlsx(
    title: str, lines: Sequence[ShortlistLine], zone: tzinfo, _: Callable[..., str]
) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = _("shortlist.sheet")[:31]
    headers = [
        _(f"shortlist.column.{key}")
        for key in (
            "rank",
            "name",
            "school",
            "unit",
            "points",
            "percent",
            "seconds",
            "finished_at",
            "flagged",
        )
    ]
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append(headers)
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for line in lines:
        sheet.append(
            [
                line.rank,
                line.name,
                line.school,
                line.unit,
                round(line.points, 2),
                float(rounded_percent(line.percent / 100)),
                round(line.total_ms / 1000, 1),
                line.finished_at.astimezone(zone).replace(tzinfo=None),
                line.flagged,
            ]
        )
    for row in sheet.iter_rows(min_row=3, min_col=8, max_col=8):
        for cell in row:
            cell.number_format = "yyyy-mm-dd hh:mm:ss"
    for column, width in zip("ABCDEFGHI", (8, 16, 22, 30, 10, 10, 12, 20, 12), strict=True):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "A3"
    return workbook_bytes(book)
