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
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

__all__ = [
    "Cell",
    "HeaderTest",
    "SheetTable",
    "TabularError",
    "clean_text",
    "decode_text",
    "normalize_header",
    "read_csv",
    "read_xlsx",
    "read_xlsx_table",
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


@dataclass(frozen=True)
class SheetTable:
    """The rows read from a workbook, and which of its sheets they come from.

    ``uncached`` lists the cells (line, column index from 0) holding a formula whose result
    the file does not store: a program wrote the formula and nobody has opened and saved
    the file in Excel or WPS since, so its value cannot be read.
    """

    rows: list[tuple[int, list[Cell]]]
    sheet: str
    sheets: tuple[str, ...]
    has_header: bool
    uncached: tuple[tuple[int, int], ...] = ()
    # Pictures anchored in the sheet, by the line their top-left corner sits in.
    pictures: tuple[tuple[int, bytes], ...] = ()


HeaderTest = Callable[[list[Cell]], bool]
_FORMULA_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s>/]")


def _is_blank(cells: Iterable[object]) -> bool:
    return not any(clean_text(_excel_cell(value)) for value in cells)


def _sheet_rows(sheet: Any, *, max_lines: int, max_columns: int) -> Iterator[list[Cell]]:
    if hasattr(sheet, "reset_dimensions"):
        # Excel and other writers sometimes store a wrong sheet size; read every row.
        sheet.reset_dimensions()
    for line, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        if line > max_lines:
            raise TabularError("too_many_rows")
        yield [_excel_cell(value) for value in values[:max_columns]]


def _header_within(
    sheet: Any, is_header: HeaderTest, header_rows: int, *, max_lines: int, max_columns: int
) -> bool:
    """Whether one of the sheet's first ``header_rows`` non-blank rows is a header."""
    seen = 0
    for cells in _sheet_rows(sheet, max_lines=max_lines, max_columns=max_columns):
        if _is_blank(cells):
            continue
        if is_header(cells):
            return True
        seen += 1
        if seen >= header_rows:
            return False
    return False


def _member_has_formulas(archive: zipfile.ZipFile, path: str) -> bool:
    """A quick look for a formula tag in a sheet's XML, before parsing it."""
    tail = b""
    with archive.open(path) as member:
        while chunk := member.read(1 << 20):
            if _FORMULA_TAG.search(tail + chunk):
                return True
            tail = chunk[-64:]
    return False


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _uncached_formulas(content: bytes, sheet: Any) -> tuple[tuple[int, int], ...]:
    """Cells (row, column from 0) with a formula and no stored result: written by a program,
    never opened and saved in Excel or WPS. A formula whose stored result is an empty text
    (``t="str"``) is not one of them."""
    from xml.etree.ElementTree import iterparse

    from openpyxl.utils.cell import coordinate_to_tuple

    path = getattr(sheet, "_worksheet_path", None)  # read-only sheets know their XML part
    if not isinstance(path, str):
        return ()
    found: list[tuple[int, int]] = []
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        if path not in archive.namelist() or not _member_has_formulas(archive, path):
            return ()
        with archive.open(path) as member:
            for _event, element in iterparse(member):
                name = _local(element.tag)
                if name == "c":
                    parts = {_local(child.tag): child.text for child in element}
                    # Only a text result may be empty (t="str"): openpyxl and others write an
                    # empty <v/> where no result was ever computed.
                    stored = bool(parts.get("v")) or element.get("t") == "str" or "is" in parts
                    reference = element.get("r")
                    if "f" in parts and not stored and reference:
                        row, column = coordinate_to_tuple(reference)
                        found.append((row, column - 1))
                    element.clear()
                elif name == "row":
                    element.clear()
    return tuple(found)


def read_xlsx_table(
    content: bytes,
    *,
    max_lines: int,
    max_columns: int,
    is_header: HeaderTest | None = None,
    header_rows: int = 10,
) -> SheetTable:
    """The rows of the first sheet with a header (``is_header`` true for one of its first
    ``header_rows`` non-blank rows), else of the first sheet that is not blank.

    Visible sheets are tried before hidden ones, so a teacher's data on "Sheet2" is found
    behind an empty or explanatory first sheet.
    """
    import openpyxl

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a damaged file
        raise TabularError("unreadable_file") from exc
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sheets = list(workbook.worksheets)
            if not sheets:
                raise TabularError("empty_file")
            titles = tuple(str(sheet.title) for sheet in sheets)
            ordered = sorted(sheets, key=lambda sheet: sheet.sheet_state != "visible")
            chosen: Any = None
            has_header = False
            if is_header is not None:
                for sheet in ordered:
                    if _header_within(
                        sheet, is_header, header_rows, max_lines=max_lines, max_columns=max_columns
                    ):
                        chosen, has_header = sheet, True
                        break
            if chosen is None:
                for sheet in ordered:
                    cells = _sheet_rows(sheet, max_lines=max_lines, max_columns=max_columns)
                    if not all(_is_blank(row) for row in cells):
                        chosen = sheet
                        break
            chosen = chosen if chosen is not None else sheets[0]
            rows = list(
                enumerate(_sheet_rows(chosen, max_lines=max_lines, max_columns=max_columns), 1)
            )
            uncached = tuple(
                (line, column)
                for line, column in _uncached_formulas(content, chosen)
                if line <= len(rows) and column < max_columns
            )
    except TabularError:
        raise
    except Exception as exc:
        raise TabularError("unreadable_file") from exc
    finally:
        workbook.close()
    pictures = _anchored_pictures(content, str(chosen.title))
    return SheetTable(rows, str(chosen.title), titles, has_header, uncached, pictures)


def _anchored_pictures(content: bytes, title: str) -> tuple[tuple[int, bytes], ...]:
    """The pictures placed on the sheet, each by the line of its top-left corner; only a
    workbook holding media is read a second time, fully, since read-only mode skips them."""
    import openpyxl

    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        if not any(name.startswith("xl/media/") for name in archive.namelist()):
            return ()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            workbook = openpyxl.load_workbook(io.BytesIO(content), data_only=True)
        found: list[tuple[int, bytes]] = []
        for image in getattr(workbook[title], "_images", ()):
            corner = getattr(image.anchor, "_from", None)
            if corner is not None:
                found.append((int(corner.row) + 1, bytes(image._data())))
        workbook.close()
    except Exception as exc:  # openpyxl raises many kinds on a damaged file
        raise TabularError("unreadable_file") from exc
    return tuple(found)


def read_xlsx(
    content: bytes,
    *,
    max_lines: int,
    max_columns: int,
    is_header: HeaderTest | None = None,
    header_rows: int = 10,
) -> list[tuple[int, list[Cell]]]:
    """``(line, cells)`` for every row of the sheet :func:`read_xlsx_table` picks."""
    return read_xlsx_table(
        content,
        max_lines=max_lines,
        max_columns=max_columns,
        is_header=is_header,
        header_rows=header_rows,
    ).rows


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


def read_rows(
    content: bytes,
    filename: str,
    *,
    max_lines: int,
    max_columns: int,
    is_header: HeaderTest | None = None,
    header_rows: int = 10,
) -> list[tuple[int, list[Cell]]] | None:
    """``(line, cells)`` of an uploaded ``.xlsx`` or ``.csv`` (a ``.csv`` that is really a
    workbook, as WPS sometimes saves one, is read as a workbook); ``None`` for any other
    kind of file. Raises :class:`TabularError` for a file that cannot be read."""
    suffix = PurePath(filename.strip()).suffix.lower()
    if suffix == ".xlsx" or (suffix == ".csv" and content.startswith(b"PK\x03\x04")):
        return read_xlsx(
            content,
            max_lines=max_lines,
            max_columns=max_columns,
            is_header=is_header,
            header_rows=header_rows,
        )
    if suffix == ".csv":
        return read_csv(content, max_lines=max_lines, max_columns=max_columns)
    return None
