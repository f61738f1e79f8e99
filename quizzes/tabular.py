"""Reading spreadsheets uploaded by teachers: ``.xlsx`` workbooks and Excel-made ``.csv`` files.

Shared by the roster and question-bank parsers. A CSV file comes as UTF-8, UTF-8 with a BOM,
or GB18030 (what Chinese Excel writes). Failures raise :class:`TabularError` with a problem
code (``unreadable_file``, ``empty_file``, ``bad_encoding``, ``too_many_rows``) that each
parser turns into a problem of its own kind.
"""

from __future__ import annotations

import csv
import io
import math
import re
import unicodedata
import warnings
from typing import Any

__all__ = [
    "Cell",
    "TabularError",
    "clean_text",
    "decode_text",
    "normalize_header",
    "read_csv",
    "read_xlsx",
    "sniff_delimiter",
]

Cell = str | int | float | None


class TabularError(Exception):
    """The file cannot be read as a table; ``code`` names why."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(code)


def normalize_header(text: str) -> str:
    """Compare headers loosely: width, case, spaces, underscores and dashes do not matter."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"[\s_\-]+", "", folded)


def clean_text(value: Cell) -> str:
    """A cell as one line of text: odd spaces collapsed, invisible characters dropped."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    text = str(value)
    # Control characters and odd spaces become spaces; invisible format characters (zero-width
    # space, a stray BOM) are dropped so that look-alike names compare equal.
    text = "".join(
        " " if category in ("Cc", "Zs", "Zl", "Zp") else ch
        for ch in text
        if (category := unicodedata.category(ch)) != "Cf"
    )
    return " ".join(text.split())


def decode_text(content: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030; :class:`TabularError` when neither fits."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding, errors="strict")
        except UnicodeDecodeError:
            continue
    raise TabularError("bad_encoding")


def sniff_delimiter(text: str) -> str:
    """Comma, tab or semicolon: whichever the first non-blank line uses most."""
    for raw_line in text.splitlines():
        if raw_line.strip():
            counts = {delimiter: raw_line.count(delimiter) for delimiter in (",", "\t", ";")}
            best = max(counts, key=lambda delimiter: counts[delimiter])
            return best if counts[best] else ","
    return ","


def _excel_cell(value: object) -> Cell:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return value
    return str(value)


def read_xlsx(content: bytes, *, max_lines: int, max_columns: int) -> list[tuple[int, list[Cell]]]:
    """``(line, cells)`` for every row of the first sheet, blank rows included."""
    import openpyxl

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a damaged file
        raise TabularError("unreadable_file") from exc
    rows: list[tuple[int, list[Cell]]] = []
    try:
        if not workbook.worksheets:
            raise TabularError("empty_file")
        sheet: Any = workbook.worksheets[0]
        if hasattr(sheet, "reset_dimensions"):
            # Excel and other writers sometimes store a wrong sheet size; read every row.
            sheet.reset_dimensions()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for line, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                if line > max_lines:
                    raise TabularError("too_many_rows")
                rows.append((line, [_excel_cell(value) for value in values[:max_columns]]))
    except TabularError:
        raise
    except Exception as exc:
        raise TabularError("unreadable_file") from exc
    finally:
        workbook.close()
    return rows


def read_csv(content: bytes, *, max_lines: int, max_columns: int) -> list[tuple[int, list[Cell]]]:
    """``(line, cells)`` for every record of a CSV file, blank ones included."""
    text = decode_text(content)
    if "\x00" in text:
        raise TabularError("unreadable_file")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))
    rows: list[tuple[int, list[Cell]]] = []
    try:
        for line, values in enumerate(reader, start=1):
            if line > max_lines:
                raise TabularError("too_many_rows")
            rows.append((line, list(values[:max_columns])))
    except csv.Error as exc:
        raise TabularError("unreadable_file") from exc
    return rows
