"""Text cells stay text: the one place every XLSX and CSV writer of the project escapes.

A spreadsheet program runs a cell whose text begins with ``=``, ``+``, ``-`` or ``@`` (or a
tab or carriage return before one of them) as a formula: a school named
``=HYPERLINK("http://…","点击领取证书")`` would become a live link in a bureau's report.

- XLSX: such a cell is stored as a string with Excel's quote prefix, never as a formula;
  what people see is exactly the text, and editing the cell keeps it text.
- CSV has no types, so such a text gets a leading apostrophe, as OWASP recommends:
  Excel and WPS then show it as text instead of evaluating it.

Numbers are left alone: ``-3`` as an int is a number, not a formula.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def looks_like_formula(text: str) -> bool:
    """True when a spreadsheet program could read this text as a formula."""
    return text.startswith(FORMULA_STARTS)


def csv_cell(value: object) -> object:
    """A CSV value that opens as text: formula-like texts get a leading apostrophe."""
    if isinstance(value, str) and looks_like_formula(value):
        return "'" + value
    return value


def csv_row(values: Iterable[object]) -> list[object]:
    return [csv_cell(value) for value in values]


class SafeCsvWriter:
    """``csv.writer`` whose every row goes through :func:`csv_cell`."""

    def __init__(self, handle: Any, **options: Any) -> None:
        self._writer = csv.writer(handle, **options)

    def writerow(self, values: Iterable[object]) -> None:
        self._writer.writerow(csv_row(values))

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)


def keep_text(cell: Any) -> None:
    """Store an openpyxl cell holding a formula-like text as a string, never a formula."""
    value = cell.value
    if isinstance(value, str) and looks_like_formula(value):
        cell.data_type = "s"
        cell.quotePrefix = True


def append_row(sheet: Any, values: Sequence[object]) -> None:
    """``sheet.append(values)`` with every formula-like text kept as text."""
    sheet.append(list(values))
    for cell in sheet[sheet.max_row]:
        keep_text(cell)


def keep_sheet_text(sheet: Any) -> None:
    """Apply :func:`keep_text` to every cell of a finished sheet (a last line of defence)."""
    for row in sheet.iter_rows():
        for cell in row:
            keep_text(cell)


def keep_book_text(book: Any) -> None:
    for sheet in book.worksheets:
        keep_sheet_text(sheet)


def workbook_bytes(book: Any) -> bytes:
    """Save an openpyxl workbook with every formula-like text kept as text."""
    import io

    keep_book_text(book)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
