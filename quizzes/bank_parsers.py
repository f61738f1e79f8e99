"""Read a question bank from an uploaded file: ``.xlsx``/``.xlsm``, ``.csv``, ``.yaml``/``.yml``,
or the plain-text exam format (``.txt``, ``.docx``) that 问卷星 and Word-made banks use.

:func:`parse_bank` either returns the whole :class:`~quizzes.bank.QuestionBank` or raises
:class:`~quizzes.bank.BankError` listing every problem in the file, each with its row (or,
in YAML and text files, the question's number) and column; it never raises anything else.

Spreadsheets have one question per row under a header such as
``题型 | 题干 | 选项A … 选项H | 答案 | 解析 | 标签 | 难度 | 级别 | 出处`` (English headers work
too; 级别 may be headed 适用学段 or 学段, and says from which level a question suits: 小学,
初中 or 高中及教职工; 难度 is 易, 中 or 难; empty cells mean 初中 and 中);
the header may follow a few title rows, on any sheet of a workbook. The options may also
share one ``选项`` cell, one per line or as ``A.… B.…``. A text or Word file looks like::

    一、单选题
    1. 我国的根本制度是（ ）。
    A. 社会主义制度   B. 人民代表大会制度
    答案：A
    解析：宪法第一条。

(a Word file may instead hold a table with the spreadsheet's header). A YAML file looks
like::

    name: 宪法知识题库
    version_note: 依据 2018 年修正的宪法
    questions:
      - type: single
        stem: ……
        options: [甲, 乙, 丙, 丁]
        answer: B            # or [A, C] for a multiple-choice question
        explanation: ……
        tags: [总纲]
        difficulty: 易         # 易, 中 or 难 (default 中)
        level: 小学            # 小学, 初中 or 高中及教职工: suits this level and up (default 初中)
        source: 宪法第一条
        image: 国徽.png        # a PNG/JPEG up to 1 MB beside the bank file (optional)

A spreadsheet's ``图片`` column names such a file; a picture placed in a question's row of
the workbook is that question's picture without one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import resources
from pathlib import PurePath
from typing import Any

from quizzes.bank import (
    LETTERS,
    LIST_SEPARATOR,
    MAX_NAME_LENGTH,
    BankError,
    BankProblem,
    QuestionBank,
    QuestionDraft,
    check_bank,
    parse_truth,
    preview,
    problem,
    split_tags,
)
from quizzes.tabular import (
    Cell,
    SheetTable,
    TabularError,
    clean_text,
    decode_text,
    normalize_header,
    read_csv,
    read_xlsx_table,
)

__all__ = [
    "BUNDLED_BANKS",
    "COLUMNS",
    "MAX_FILE_BYTES",
    "MAX_QUESTIONS",
    "SUPPORTED_SUFFIXES",
    "PictureFiles",
    "bank_name_from_filename",
    "bundled_bank_content",
    "is_bank_filename",
    "load_bundled_bank",
    "parse_bank",
    "precheck_upload",
    "split_option_cell",
]

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_QUESTIONS = 5_000
MAX_VERSION_NOTE_LENGTH = 500
MAX_COLUMNS = 100
MAX_RAW_LINES = 100_000
HEADER_SEARCH_ROWS = 10
SUPPORTED_SUFFIXES = (".xlsx", ".xlsm", ".csv", ".yaml", ".yml", ".txt", ".docx")
# Files that are banks in a format to convert first: taken as banks, refused with the way out.
CONVERTIBLE_SUFFIXES = (".xls", ".et", ".doc", ".wps")
# A YAML file's values counted with every alias (``*name``) expanded: no bank comes near it,
# a "billion laughs" file passes it at once.
MAX_YAML_NODES = 300_000
# The banks shipped with the bot (``quizzes/banks/<key>.yaml``), constitution first; each
# file's ``name`` is the bank's Chinese name.
BUNDLED_BANKS = (
    "constitution.zh",
    "minors_protection.zh",
    "delinquency_prevention.zh",
    "national_security.zh",
    "civil_code.zh",
    "anti_drug.zh",
    "bullying_fraud.zh",
)


@dataclass(frozen=True)
class _Column:
    key: str
    zh: str
    en: str
    aliases: frozenset[str]
    required: bool


def _aliases(*names: str) -> frozenset[str]:
    return frozenset(normalize_header(name) for name in names)


def _option_column(letter: str) -> _Column:
    return _Column(
        letter,
        f"选项{letter}",
        f"option {letter}",
        _aliases(f"选项{letter}", f"{letter}选项", letter, f"option {letter}", f"option{letter}"),
        False,
    )


COLUMNS: tuple[_Column, ...] = (
    _Column("type", "题型", "type", _aliases("题型", "题目类型", "类型", "type"), True),
    _Column("stem", "题干", "stem", _aliases("题干", "题目", "问题", "stem", "question"), True),
    *(_option_column(letter) for letter in LETTERS),
    _Column(
        "options",
        "选项",
        "options",
        _aliases("选项", "选项内容", "备选项", "备选答案", "options", "choices"),
        False,
    ),
    _Column(
        "answer",
        "答案",
        "answer",
        _aliases("答案", "正确答案", "参考答案", "answer", "correct", "correct answer"),
        True,
    ),
    _Column(
        "explanation", "解析", "explanation", _aliases("解析", "答案解析", "explanation"), False
    ),
    _Column("tags", "标签", "tags", _aliases("标签", "tags", "tag"), False),
    _Column("difficulty", "难度", "difficulty", _aliases("难度", "难易度", "difficulty"), False),
    _Column(
        "level",
        "级别",
        "level",
        _aliases("级别", "适用学段", "学段", "适用年级", "level", "grade"),
        False,
    ),
    _Column("source", "出处", "source", _aliases("出处", "来源", "依据", "source"), False),
    _Column(
        "picture",
        "图片",
        "image",
        _aliases("图片", "配图", "插图", "image", "picture"),
        False,
    ),
)
_COLUMN_BY_ALIAS: dict[str, _Column] = {
    alias: column for column in COLUMNS for alias in column.aliases
}

_YAML_TOP_FIELDS = ("name", "version_note", "questions")
_YAML_FIELDS = (
    "type",
    "stem",
    "options",
    "answer",
    "explanation",
    "tags",
    "difficulty",
    "level",
    "source",
    "image",
)


def _file_error(code: str, **params: str | int) -> BankError:
    return BankError([problem(code, **params)])


def _sort_key(item: BankProblem) -> tuple[int, int]:
    return (item.row or 0, 0 if item.column is None else 1)


def bank_name_from_filename(filename: str) -> str:
    """The file name without its extension, cleaned: the default name of a bank."""
    name = clean_text(PurePath(filename.strip().replace("\\", "/")).stem)
    return name[:MAX_NAME_LENGTH] or "bank"


def _suffix(filename: str) -> str:
    return PurePath(filename.strip()).suffix.lower()


def is_bank_filename(filename: str | None) -> bool:
    """Whether a file of this name is meant as a bank: a spreadsheet, YAML or text file
    (``.xls``/``.doc`` too, to be told to convert them); not a picture or a PDF."""
    if not filename:
        return False
    return _suffix(filename) in SUPPORTED_SUFFIXES + CONVERTIBLE_SUFFIXES


def precheck_upload(filename: str, size: int | None) -> BankError | None:
    """What can be said before reading the file: too large, or not a bank file at all."""
    if size is not None and size > MAX_FILE_BYTES:
        return _file_error(
            "file_too_large",
            size_mb=f"{size / 1024 / 1024:.1f}",
            max_mb=MAX_FILE_BYTES // (1024 * 1024),
        )
    if _suffix(filename) not in SUPPORTED_SUFFIXES:
        return _file_error("unsupported_format", filename=preview(filename.strip()))
    return None


# The bytes of a picture file named in the bank, looked up beside the bank file; ``None``
# when there is no such file. Only a bank read from a folder has one; an upload does not.
PictureFiles = Callable[[str], bytes | None]


@dataclass(frozen=True)
class _Pictures:
    """Where a bank's named pictures come from, and the pictures anchored in its sheet."""

    files: PictureFiles | None = None
    anchored: dict[int, bytes] = field(default_factory=dict)

    def named(self, name: str) -> bytes | None:
        return self.files(name) if self.files is not None and name else None


def parse_bank(
    content: bytes, filename: str, pictures: PictureFiles | None = None
) -> QuestionBank:
    """Parse a bank file; raise :class:`BankError` listing every problem.

    ``pictures`` reads the picture files the questions name (YAML ``image``, a sheet's
    ``图片`` column) beside the bank; without it a named picture is a problem. Pictures
    embedded in a workbook's question rows need nothing."""
    refused = precheck_upload(filename, len(content))
    if refused is not None:
        raise refused
    suffix = _suffix(filename)
    if not content.strip():
        raise _file_error("empty_file")
    zipped = content[:4] == b"PK\x03\x04"
    if suffix in (".yaml", ".yml"):
        return _parse_yaml(content, filename, _Pictures(pictures))
    if suffix == ".docx":
        if not zipped:
            raise _file_error("unreadable_file")
        lines, grid = _read_docx(content)
        if grid is not None:  # a Word table with a header row, like a spreadsheet
            table = SheetTable(grid, "", (), has_header=True)
            return _parse_rows(table, filename, xlsx=False, pictures=pictures)
        return _parse_text_lines(lines, filename)
    if suffix == ".txt" and not zipped:
        text = _decode(content)
        if _looks_like_a_table(text):  # Excel's "Text (Tab delimited)" is a .txt too
            return _parse_table(content, filename, xlsx=False, pictures=pictures)
        return _parse_text_lines(text.splitlines(), filename)
    xlsx = suffix in (".xlsx", ".xlsm") or zipped
    return _parse_table(content, filename, xlsx=xlsx, pictures=pictures)


# --------------------------------------------------------------------------- spreadsheets


@dataclass
class _Header:
    line: int
    positions: dict[str, int]
    titles: dict[str, str]


def _is_header(cells: list[Cell]) -> bool:
    """Two known headers make a header row; one lone "A" in a title row does not."""
    known = (_COLUMN_BY_ALIAS.get(normalize_header(clean_text(cell))) for cell in cells)
    return sum(column is not None for column in known) >= 2


def _decode(content: bytes) -> str:
    try:
        text = decode_text(content)
    except TabularError as error:
        raise _file_error(error.code) from error
    if "\x00" in text:
        raise _file_error("unreadable_file")
    return text


def _table_error(error: TabularError) -> BankError:
    if error.code == "too_many_rows":
        return _file_error("too_many_rows", max=MAX_QUESTIONS)
    return _file_error(error.code)


def _read_table(content: bytes, *, xlsx: bool) -> SheetTable:
    try:
        if xlsx:
            return read_xlsx_table(
                content,
                max_lines=MAX_RAW_LINES,
                max_columns=MAX_COLUMNS,
                is_header=_is_header,
                header_rows=HEADER_SEARCH_ROWS,
            )
        rows = read_csv(content, max_lines=MAX_RAW_LINES, max_columns=MAX_COLUMNS)
    except TabularError as error:
        raise _table_error(error) from error
    return SheetTable(rows, "", (), has_header=False)


def _looks_like_a_table(text: str) -> bool:
    lines = [line for line in text.splitlines() if line.strip()][:HEADER_SEARCH_ROWS]
    return any(_is_header(list(line.split("\t"))) for line in lines)


def _column_letters(position: int) -> str:
    letters = ""
    position += 1
    while position:
        position, rest = divmod(position - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _formula_problem(table: SheetTable, header: _Header | None) -> BankProblem | None:
    """The first formula whose result the file does not store, if any: its value is unknown,
    so any other message about the file would mislead."""
    if not table.uncached:
        return None
    line, position = table.uncached[0]
    column = _column_letters(position)
    if header is not None:
        column = next(
            (title for key, title in header.titles.items() if header.positions[key] == position),
            column,
        )
    return problem("formula_without_value", line, column, count=len(table.uncached))


def _find_header(
    rows: list[tuple[int, list[Cell]]], problems: list[BankProblem]
) -> tuple[_Header, int] | None:
    first_line: int | None = None
    seen = 0
    for index, (line, cells) in enumerate(rows):
        texts = [clean_text(cell) for cell in cells]
        if not any(texts):
            continue
        if first_line is None:
            first_line = line
        seen += 1
        if _is_header(cells):
            positions: dict[str, int] = {}
            titles: dict[str, str] = {}
            ok = True
            for position, text in enumerate(texts):
                column = _COLUMN_BY_ALIAS.get(normalize_header(text))
                if column is None:
                    continue
                if column.key in positions:
                    ok = False
                    problems.append(
                        problem("duplicate_column", line, text, column=titles[column.key])
                    )
                    continue
                positions[column.key] = position
                titles[column.key] = text
            for column in COLUMNS:
                if column.required and column.key not in positions:
                    ok = False
                    problems.append(
                        problem(
                            "missing_column", line, None, column=column.zh, column_en=column.en
                        )
                    )
            return (_Header(line, positions, titles), index + 1) if ok else None
        if seen >= HEADER_SEARCH_ROWS:
            break
    if first_line is None:
        problems.append(problem("empty_file"))
    else:
        problems.append(problem("no_header", first_line))
    return None


def _letter_class(letter: str) -> str:
    return f"[{letter}{chr(ord(letter) + 0xFEE0)}]"  # A and its full-width Ａ


def _mark(letters: str) -> str:
    """An option's letter as teachers write it: ``A.`` ``A．`` ``A、`` ``A:`` ``(A)`` ``（A）``."""
    return rf"(?:[(（]\s*{letters}\s*[)）]|{letters}\s*[.．、:：)）])"


# A mark only counts where a word does not go on: "USB.接口" holds no option B.
_MARKS = tuple(
    re.compile(rf"(?<![A-Za-z0-9Ａ-Ｚａ-ｚ０-９]){_mark(_letter_class(letter))}")
    for letter in LETTERS
)
_LEADING_MARK = re.compile(rf"^\s*{_mark('([A-HＡ-Ｈ])')}")
_SEPARATORS = re.compile(r"[|｜┋]")


def _marked_options(text: str, first: int = 0, minimum: int = 2) -> list[str] | None:
    """``A.甲 B.乙 C.丙`` (marks from letter ``first`` on, in order) split at its marks;
    ``None`` unless it starts with a mark and has at least ``minimum`` of them."""
    spans: list[tuple[int, int]] = []
    position = 0
    for pattern in _MARKS[first:]:
        match = pattern.search(text, position)
        if match is None:
            break
        if not spans and text[: match.start()].strip():
            return None  # text before the first mark: not a list of options
        spans.append((match.start(), match.end()))
        position = match.end()
    if len(spans) < minimum:
        return None
    ends = [start for start, _ in spans[1:]] + [len(text)]
    pieces = zip(spans, ends, strict=True)
    return [text[end:until].strip(" \t\n;；,，|｜┋") for (_, end), until in pieces]


def split_option_cell(text: str) -> list[str]:
    """The options written in one cell: ``A.甲 B.乙``, one per line, or ``甲|乙``."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        return []
    marked = _marked_options(text)
    if marked is not None:
        return marked
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if len(lines) > 1:
        return [_LEADING_MARK.sub("", line).strip() for line in lines]
    if _SEPARATORS.search(text):
        return [part.strip() for part in _SEPARATORS.split(text)]
    return [text]


def _raw_text(value: Cell) -> str:
    """A cell's text with its line breaks, which :func:`clean_text` would fold away."""
    return value if isinstance(value, str) else clean_text(value)


def _draft_from_row(
    header: _Header,
    line: int,
    cells: list[Cell],
    problems: list[BankProblem],
    pictures: _Pictures,
) -> QuestionDraft:
    def raw(key: str) -> Cell:
        position = header.positions.get(key)
        if position is None or position >= len(cells):
            return None
        return cells[position]

    def cell(key: str) -> str:
        return clean_text(raw(key))

    option_letters = [letter for letter in LETTERS if letter in header.positions]
    last = LETTERS.index(option_letters[-1]) + 1 if option_letters else 0
    options = tuple(
        (header.titles.get(letter, f"选项{letter}"), cell(letter)) for letter in LETTERS[:last]
    )
    options_column = header.titles[option_letters[0]] if option_letters else "选项A"
    together = _raw_text(raw("options")) if "options" in header.positions else ""
    if together.strip():
        title = header.titles["options"]
        if any(text for _, text in options):
            problems.append(problem("options_twice", line, title, letter_column=options_column))
        else:
            parts = split_option_cell(together)
            options = tuple(
                (
                    f"{title}（{LETTERS[index]}）" if index < len(LETTERS) else title,
                    clean_text(part),
                )
                for index, part in enumerate(parts)
            )
            options_column = title
    picture_name = cell("picture")
    return QuestionDraft(
        row=line,
        type=cell("type"),
        stem=cell("stem"),
        options=options,
        answer=cell("answer"),
        explanation=cell("explanation"),
        tags=split_tags(cell("tags")),
        difficulty=cell("difficulty"),
        level=cell("level"),
        source=cell("source"),
        columns={
            key: title
            for key, title in header.titles.items()
            if key not in LETTERS and key != "options"
        }
        | {"picture": header.titles.get("picture", "图片")},
        options_column=options_column,
        picture_name=picture_name,
        picture=pictures.named(picture_name) if picture_name else pictures.anchored.get(line),
        pictures_readable=pictures.files is not None,
    )


def _parse_table(
    content: bytes, filename: str, *, xlsx: bool, pictures: PictureFiles | None
) -> QuestionBank:
    return _parse_rows(_read_table(content, xlsx=xlsx), filename, xlsx=xlsx, pictures=pictures)


def _parse_rows(
    table: SheetTable, filename: str, *, xlsx: bool, pictures: PictureFiles | None
) -> QuestionBank:
    rows = table.rows
    problems: list[BankProblem] = []
    found = _find_header(rows, problems)
    formula = _formula_problem(table, found[0] if found else None)
    if formula is not None:
        raise BankError([formula])
    if found is None:
        if xlsx and len(table.sheets) > 1 and not table.has_header:
            # One name a line: the message joins them as its language lists things.
            sheets = LIST_SEPARATOR.join(
                f"“{' '.join(preview(title).split())}”" for title in table.sheets
            )
            raise _file_error("no_header_in_sheets", sheets=sheets, count=len(table.sheets))
        raise BankError(problems)
    header, start = found
    found_pictures = _Pictures(pictures, dict(table.pictures))

    def drafts() -> Iterator[QuestionDraft]:
        count = 0
        for line, cells in rows[start:]:
            if not any(clean_text(cell) for cell in cells):
                continue
            count += 1
            if count > MAX_QUESTIONS:
                raise _file_error("too_many_rows", max=MAX_QUESTIONS)
            yield _draft_from_row(header, line, cells, problems, found_pictures)

    warnings: list[BankProblem] = []
    questions = check_bank(drafts(), problems, warnings)
    if not questions and not problems:
        problems.append(problem("no_questions", header.line))
    if problems:
        problems.sort(key=_sort_key)
        raise BankError(problems)
    return QuestionBank(bank_name_from_filename(filename), tuple(questions), "", tuple(warnings))


# --------------------------------------------------------------------------- text and Word

# "1." "1、" "1．" "(1)" "（1）" "1)" "第1题": a question begins. "1.5 亿" does not.
_QUESTION_NUMBER = re.compile(r"^\s*(?:第\s*)?[(（]?\s*\d{1,4}\s*(?:[)）]|[.．、:：](?!\d)|题)\s*")
_TYPE_WORDS = r"(单项选择题|多项选择题|不定项选择题|单选题|多选题|判断题|是非题|单选|多选|判断)"
_TYPE_TAG = re.compile(rf"[\[【（(]\s*{_TYPE_WORDS}\s*[\]】）)]")
# "一、单项选择题（每题 2 分）", "第一部分 判断题": the questions after it have that type.
_SECTION = re.compile(
    rf"^\s*(?:[一二三四五六七八九十]+\s*[、.．]\s*|第[一二三四五六七八九十]+(?:部分|大题)\s*)?"
    # The type word ends the line, but for a note in brackets or after a colon: a stem line
    # such as "判断下列说法是否正确" is no heading.
    rf"{_TYPE_WORDS}\s*(?:[(（][^)）]*[)）])?\s*(?:[:：].*)?$"
)
_LABELS = {
    "正确答案": "answer",
    "参考答案": "answer",
    "标准答案": "answer",
    "答案": "answer",
    "答案解析": "explanation",
    "试题解析": "explanation",
    "解析": "explanation",
    "难度": "difficulty",
    "适用学段": "level",
    "级别": "level",
    "学段": "level",
    "标签": "tags",
    "知识点": "tags",
    "出处": "source",
    "来源": "source",
    "依据": "source",
}
_LABEL = re.compile(
    r"^\s*[【\[]?\s*("
    + "|".join(sorted(_LABELS, key=len, reverse=True))
    + r")\s*(?:[】\]]\s*[:：]?|[:：])\s*(.*)$"
)
# The answer in the stem's brackets, as Word-made banks often give it: "……是（ A ）。"
_ANSWER_IN_STEM = re.compile(r"[(（]\s*([A-HＡ-Ｈ](?:\s*[、,，]?\s*[A-HＡ-Ｈ])*|[√×✓✗])\s*[)）]")
_TEXT_FIELDS = {
    "type": "题型",
    "stem": "题干",
    "options": "选项",
    "answer": "答案",
    "explanation": "解析",
    "tags": "标签",
    "difficulty": "难度",
    "level": "级别",
    "source": "出处",
}


def _join(lines: list[str]) -> str:
    """Lines of one field as one text: Chinese runs on, English words keep a space."""
    text = ""
    for line in lines:
        if text and text[-1].isascii() and text[-1].isalnum() and line[:1].isascii():
            text += " "
        text += line
    return clean_text(text)


@dataclass
class _TextQuestion:
    number: int
    type: str
    stem: list[str]
    options: list[tuple[str, list[str]]] = field(default_factory=list)
    fields: dict[str, list[str]] = field(default_factory=dict)
    part: str = "stem"


def _infer_type(options: list[str], answer: str) -> str:
    """The type of a question without a ``[单选题]`` tag or heading, from its answer."""
    truths = [parse_truth(option) for option in options]
    if parse_truth(answer) is not None and (not options or None not in truths):
        return "判断"
    letters = re.sub(r"[\s,，、;；/]+", "", normalize_header(answer)).upper()
    if letters and all(letter in LETTERS for letter in letters):
        if len(options) == 2 and set(truths) == {True, False}:
            return "判断"
        return "多选" if len(set(letters)) > 1 else "单选"
    # No answer to go by: the problem to report is the answer, not the type.
    return "单选" if options else "判断"


def _text_draft(question: _TextQuestion, problems: list[BankProblem]) -> QuestionDraft:
    letters = "".join(letter for letter, _ in question.options)
    if letters != LETTERS[: len(letters)]:
        problems.append(
            problem(
                "option_letters",
                question.number,
                _TEXT_FIELDS["options"],
                letters="、".join(letters),
            )
        )
    options = [_join(lines) for _, lines in question.options]
    stem = _join(question.stem)
    answer = _join(question.fields.get("answer", []))
    if not answer:
        found = _ANSWER_IN_STEM.search(stem)
        if found is not None and (options or found.group(1) in "√×✓✗"):
            answer = found.group(1)
            stem = clean_text(stem[: found.start()] + "（ ）" + stem[found.end() :])
    kind = question.type or _infer_type(options, answer)
    return QuestionDraft(
        row=question.number,
        type=kind,
        stem=stem,
        options=tuple(
            (f"{_TEXT_FIELDS['options']}{letter}", text)
            for (letter, _), text in zip(question.options, options, strict=True)
        ),
        answer=answer,
        explanation=_join(question.fields.get("explanation", [])),
        tags=split_tags(_join(question.fields.get("tags", []))),
        difficulty=_join(question.fields.get("difficulty", [])),
        level=_join(question.fields.get("level", [])),
        source=_join(question.fields.get("source", [])),
        columns={key: title for key, title in _TEXT_FIELDS.items() if key != "options"},
        options_column=_TEXT_FIELDS["options"],
    )


def _read_text_questions(lines: list[str], problems: list[BankProblem]) -> list[_TextQuestion]:
    questions: list[_TextQuestion] = []
    section = ""
    current: _TextQuestion | None = None
    for raw in lines:
        text = raw.strip()
        if not text:
            continue
        number = _QUESTION_NUMBER.match(text)
        if number is not None:
            stem = text[number.end() :]
            tag = _TYPE_TAG.search(stem)
            kind = section
            if tag is not None:
                kind = tag.group(1)
                stem = (stem[: tag.start()] + stem[tag.end() :]).strip()
            current = _TextQuestion(len(questions) + 1, kind, [stem] if stem else [])
            questions.append(current)
            continue
        heading = _SECTION.match(text)
        if heading is not None and len(text) <= 40:
            section, current = heading.group(1), None
            continue
        if current is None:
            continue  # the title and notes above the first question
        label = _LABEL.match(text)
        if label is not None:
            key = _LABELS[label.group(1)]
            current.fields[key] = [label.group(2).strip()] if label.group(2).strip() else []
            current.part = key
            continue
        lead = _LEADING_MARK.match(text)
        if lead is not None and current.part in ("stem", "option"):
            letter = lead.group(1) or lead.group(2)
            first = LETTERS.index(normalize_header(letter).upper())
            parts = _marked_options(text, first, minimum=1)
            if parts is not None:
                for offset, part in enumerate(parts):
                    current.options.append((LETTERS[first + offset], [part] if part else []))
                current.part = "option"
                continue
        if current.part == "stem":
            current.stem.append(text)
        elif current.part == "option":
            current.options[-1][1].append(text)
        elif current.part == "explanation":
            current.fields["explanation"].append(text)
        else:
            problems.append(problem("unlabelled_line", current.number, None, text=preview(text)))
    return questions


def _parse_text_lines(lines: list[str], filename: str) -> QuestionBank:
    problems: list[BankProblem] = []
    questions = _read_text_questions(lines, problems)
    if not questions:
        raise BankError([problem("no_numbered_questions")], numbering="question")
    if len(questions) > MAX_QUESTIONS:
        raise _file_error("too_many_rows", max=MAX_QUESTIONS)
    drafts = [_text_draft(question, problems) for question in questions]
    warnings: list[BankProblem] = []
    checked = check_bank(drafts, problems, warnings)
    if problems:
        problems.sort(key=_sort_key)
        raise BankError(problems, numbering="question")
    name = bank_name_from_filename(filename)
    return QuestionBank(name, tuple(checked), "", tuple(warnings), "question")


_LETTER_FORMATS = frozenset({"upperLetter", "lowerLetter"})
_CHINESE_FORMATS = frozenset(
    {
        "chineseCounting",
        "chineseCountingThousand",
        "ideographTraditional",
        "chineseLegalSimplified",
    }
)


def _list_formats(document: Any) -> dict[tuple[str, str], str]:
    """``(numId, ilvl)`` -> the number format of Word's automatic numbering (``decimal``…)."""
    from docx.oxml.ns import qn

    try:
        numbering = document.part.numbering_part.element
    except (KeyError, NotImplementedError, AttributeError):
        return {}
    abstract: dict[str | None, dict[str | None, str]] = {}
    for node in numbering.findall(qn("w:abstractNum")):
        levels: dict[str | None, str] = {}
        for level in node.findall(qn("w:lvl")):
            number_format = level.find(qn("w:numFmt"))
            levels[level.get(qn("w:ilvl"))] = (
                "decimal" if number_format is None else str(number_format.get(qn("w:val")))
            )
        abstract[node.get(qn("w:abstractNumId"))] = levels
    formats: dict[tuple[str, str], str] = {}
    for num in numbering.findall(qn("w:num")):
        reference = num.find(qn("w:abstractNumId"))
        if reference is None:
            continue
        for level_id, number_format in abstract.get(reference.get(qn("w:val")), {}).items():
            formats[(str(num.get(qn("w:numId"))), str(level_id))] = number_format
    return formats


def _list_key(paragraph: Any) -> tuple[str, str] | None:
    from docx.oxml.ns import qn

    style = paragraph.style
    for properties in (paragraph._p.pPr, style.element.pPr if style is not None else None):
        numbered = None if properties is None else properties.find(qn("w:numPr"))
        if numbered is None:
            continue
        num_id = numbered.find(qn("w:numId"))
        level = numbered.find(qn("w:ilvl"))
        if num_id is None or num_id.get(qn("w:val")) == "0":
            return None
        return str(num_id.get(qn("w:val"))), "0" if level is None else str(level.get(qn("w:val")))
    return None


def _docx_grid(document: Any) -> list[tuple[int, list[Cell]]] | None:
    """The rows of the first table whose first rows hold a bank's header, if there is one."""
    for table in document.tables:
        rows: list[tuple[int, list[Cell]]] = []
        for line, row in enumerate(table.rows, start=1):
            if line > MAX_RAW_LINES:
                raise _file_error("too_many_rows", max=MAX_QUESTIONS)
            rows.append((line, [cell.text for cell in row.cells][:MAX_COLUMNS]))
        if any(_is_header(cells) for _, cells in rows[:HEADER_SEARCH_ROWS]):
            return rows
    return None


def _read_docx(content: bytes) -> tuple[list[str], list[tuple[int, list[Cell]]] | None]:
    """A Word file's paragraphs as lines, Word's automatic numbers written out; and the rows
    of a table with a header, when the questions are in a table instead."""
    import io

    import docx

    try:
        document = docx.Document(io.BytesIO(content))
        grid = _docx_grid(document)
        if grid is not None:
            return [], grid
        formats = _list_formats(document)
        lines: list[str] = []
        letter = 0
        for paragraph in document.paragraphs:
            text = paragraph.text
            key = _list_key(paragraph) if text.strip() else None
            number_format = formats.get(key, "decimal") if key is not None else None
            if number_format in _LETTER_FORMATS and letter < len(LETTERS):
                text, letter = f"{LETTERS[letter]}. {text}", letter + 1
            elif number_format in _CHINESE_FORMATS:
                text = f"一、{text}"
            elif number_format is not None and number_format != "bullet":
                text, letter = f"1. {text}", 0
            elif _QUESTION_NUMBER.match(text):
                letter = 0
            lines.extend(text.split("\n"))
    except BankError:
        raise
    except Exception as error:  # python-docx raises many kinds on a damaged file
        raise _file_error("unreadable_file") from error
    return lines, None


# --------------------------------------------------------------------------- YAML


def _scalar(value: object) -> str | None:
    """A YAML scalar as one line of text; ``None`` for a list or mapping."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "对" if value else "错"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str | int | float):
        return clean_text(value)
    return None


def _scalars(value: object) -> tuple[str, ...] | None:
    """A list of scalars (or one scalar) as texts; ``None`` if anything in it is nested."""
    items = value if isinstance(value, list) else [value]
    texts = [_scalar(item) for item in items]
    if any(text is None for text in texts):
        return None
    return tuple(text for text in texts if text is not None)


def _too_big(data: object, limit: int) -> bool:
    """Whether ``data`` holds more than ``limit`` values with aliases expanded (or a loop)."""
    pending = [data]
    count = 0
    while pending:
        item = pending.pop()
        count += 1
        if count > limit:
            return True
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def _load_yaml(content: bytes) -> object:
    import yaml

    text = _decode(content)
    try:
        data = yaml.safe_load(text)
        if _too_big(data, MAX_YAML_NODES):
            # An alias "bomb": what it would expand to is the whole answer, in one line.
            raise _file_error("yaml_too_big")
        return data
    except BankError:
        raise
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        if mark is None:
            raise _file_error("bad_yaml_content") from error
        raise _file_error("bad_yaml", line=mark.line + 1) from error
    except Exception as error:  # deep nesting, impossible dates...: all "not valid YAML"
        raise _file_error("bad_yaml_content") from error


def _yaml_draft(
    index: int, item: dict[Any, Any], problems: list[BankProblem], pictures: _Pictures
) -> QuestionDraft:
    for key in item:
        if str(key) not in _YAML_FIELDS:
            problems.append(problem("unknown_field", index, preview(str(key))))

    def text(key: str) -> str:
        value = _scalar(item.get(key))
        if value is None:
            problems.append(problem("wrong_type", index, key, expected="text"))
            return ""
        return value

    def texts(key: str) -> tuple[str, ...]:
        value = item.get(key)
        if value is None:
            return ()
        values = _scalars(value)
        if values is None:
            problems.append(problem("wrong_type", index, key, expected="list"))
            return ()
        return values

    raw_options = item.get("options")
    options: tuple[tuple[str, str], ...] = ()
    if raw_options is not None and not isinstance(raw_options, list):
        problems.append(problem("wrong_type", index, "options", expected="list"))
    elif raw_options is not None:
        pairs: list[tuple[str, str]] = []
        for position, option in enumerate(raw_options):
            label = f"options {LETTERS[position]}" if position < len(LETTERS) else "options"
            value = _scalar(option)
            if value is None:
                problems.append(problem("wrong_type", index, label, expected="text"))
                value = "?"
            pairs.append((label, value))
        options = tuple(pairs)

    raw_answer = item.get("answer")
    answer: str | tuple[str, ...] = (
        texts("answer") if isinstance(raw_answer, list) else text("answer")
    )
    raw_tags = item.get("tags")
    tags = split_tags(text("tags")) if isinstance(raw_tags, str) else texts("tags")
    tags = tuple(dict.fromkeys(tag for tag in tags if tag))
    picture_name = text("image")
    return QuestionDraft(
        row=index,
        type=text("type"),
        stem=text("stem"),
        options=options,
        answer=answer,
        explanation=text("explanation"),
        tags=tags,
        difficulty=text("difficulty"),
        level=text("level"),
        source=text("source"),
        options_column="options",
        columns={"picture": "image"},
        picture_name=picture_name,
        picture=pictures.named(picture_name),
        pictures_readable=pictures.files is not None,
    )


def _parse_yaml(content: bytes, filename: str, pictures: _Pictures) -> QuestionBank:
    data = _load_yaml(content)
    problems: list[BankProblem] = []

    def fail() -> BankError:
        problems.sort(key=_sort_key)
        return BankError(problems, numbering="question")

    if not isinstance(data, dict):
        problems.append(problem("bad_structure", None, None, expected="mapping"))
        raise fail()
    for key in data:
        if str(key) not in _YAML_TOP_FIELDS:
            problems.append(problem("unknown_field", None, preview(str(key))))

    name = bank_name_from_filename(filename)
    if data.get("name") is not None:
        given = _scalar(data["name"])
        if given is None:
            problems.append(problem("wrong_type", None, "name", expected="text"))
        elif len(given) > MAX_NAME_LENGTH:
            problems.append(
                problem("name_too_long", None, "name", length=len(given), max=MAX_NAME_LENGTH)
            )
        elif given:
            name = given
    version_note = _scalar(data.get("version_note"))
    if version_note is None:
        problems.append(problem("wrong_type", None, "version_note", expected="text"))
        version_note = ""
    elif len(version_note) > MAX_VERSION_NOTE_LENGTH:
        problems.append(
            problem(
                "version_note_too_long",
                None,
                "version_note",
                length=len(version_note),
                max=MAX_VERSION_NOTE_LENGTH,
            )
        )

    items = data.get("questions")
    if not isinstance(items, list):
        if items is None:
            problems.append(problem("no_questions", None, "questions"))
        else:
            problems.append(problem("wrong_type", None, "questions", expected="list"))
        raise fail()
    if len(items) > MAX_QUESTIONS:
        raise _file_error("too_many_rows", max=MAX_QUESTIONS)

    drafts: list[QuestionDraft] = []
    for index, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            problems.append(problem("bad_structure", index, None, expected="mapping"))
            continue
        drafts.append(_yaml_draft(index, item, problems, pictures))
    warnings: list[BankProblem] = []
    questions = check_bank(drafts, problems, warnings)
    if not items:
        problems.append(problem("no_questions", None, "questions"))
    if problems:
        raise fail()
    return QuestionBank(name, tuple(questions), version_note, tuple(warnings), "question")


# --------------------------------------------------------------------------- bundled banks


def bundled_bank_content(name: str = "constitution.zh") -> bytes:
    """The file of a bank shipped with the bot (``quizzes/banks/<name>.yaml``)."""
    if name not in BUNDLED_BANKS:
        raise KeyError(name)
    return resources.files("quizzes").joinpath("banks", f"{name}.yaml").read_bytes()


def load_bundled_bank(name: str = "constitution.zh") -> QuestionBank:
    """A bank shipped with the bot (``quizzes/banks/<name>.yaml``)."""
    return parse_bank(bundled_bank_content(name), f"{name}.yaml")
