"""Read a question bank from an uploaded file: ``.xlsx``, ``.csv`` or ``.yaml``/``.yml``.

:func:`parse_bank` either returns the whole :class:`~quizzes.bank.QuestionBank` or raises
:class:`~quizzes.bank.BankError` listing every problem in the file, each with its row (or,
in YAML, the question's number) and column; it never raises anything else.

Spreadsheets have one question per row under a header such as
``题型 | 题干 | 选项A … 选项H | 答案 | 解析 | 标签 | 难度 | 出处`` (English headers work too);
the header may follow a few title rows. A YAML file looks like::

    name: 宪法知识题库
    version_note: 依据 2018 年修正的宪法
    questions:
      - type: single
        stem: ……
        options: [甲, 乙, 丙, 丁]
        answer: B            # or [A, C] for a multiple-choice question
        explanation: ……
        tags: [总纲]
        difficulty: 2
        source: 宪法第一条
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import PurePath
from typing import Any

from quizzes.bank import (
    LETTERS,
    MAX_NAME_LENGTH,
    BankError,
    BankProblem,
    QuestionBank,
    QuestionDraft,
    check_bank,
    preview,
    problem,
    split_tags,
)
from quizzes.tabular import (
    Cell,
    TabularError,
    clean_text,
    decode_text,
    normalize_header,
    read_csv,
    read_xlsx,
)

__all__ = [
    "BUNDLED_BANKS",
    "COLUMNS",
    "MAX_FILE_BYTES",
    "MAX_QUESTIONS",
    "SUPPORTED_SUFFIXES",
    "bank_name_from_filename",
    "load_bundled_bank",
    "parse_bank",
    "precheck_upload",
]

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_QUESTIONS = 5_000
MAX_VERSION_NOTE_LENGTH = 500
MAX_COLUMNS = 100
MAX_RAW_LINES = 100_000
HEADER_SEARCH_ROWS = 10
SUPPORTED_SUFFIXES = (".xlsx", ".csv", ".yaml", ".yml")
BUNDLED_BANKS = ("constitution.zh",)


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
    _Column("difficulty", "难度", "difficulty", _aliases("难度", "difficulty"), False),
    _Column("source", "出处", "source", _aliases("出处", "来源", "依据", "source"), False),
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
    "source",
)


def _file_error(code: str, **params: str | int) -> BankError:
    return BankError([problem(code, **params)])


def _sort_key(item: BankProblem) -> tuple[int, int]:
    return (item.row or 0, 0 if item.column is None else 1)


def bank_name_from_filename(filename: str) -> str:
    """The file name without its extension, cleaned: the default name of a bank."""
    name = clean_text(PurePath(filename.strip().replace("\\", "/")).stem)
    return name[:MAX_NAME_LENGTH] or "bank"


def precheck_upload(filename: str, size: int | None) -> BankError | None:
    """What can be said before reading the file: too large, or not a bank file at all."""
    if size is not None and size > MAX_FILE_BYTES:
        return _file_error(
            "file_too_large",
            size_mb=f"{size / 1024 / 1024:.1f}",
            max_mb=MAX_FILE_BYTES // (1024 * 1024),
        )
    if PurePath(filename.strip()).suffix.lower() not in SUPPORTED_SUFFIXES:
        return _file_error("unsupported_format", filename=preview(filename.strip()))
    return None


def parse_bank(content: bytes, filename: str) -> QuestionBank:
    """Parse a bank file; raise :class:`BankError` listing every problem."""
    refused = precheck_upload(filename, len(content))
    if refused is not None:
        raise refused
    suffix = PurePath(filename.strip()).suffix.lower()
    if not content.strip():
        raise _file_error("empty_file")
    if suffix in (".yaml", ".yml"):
        return _parse_yaml(content, filename)
    return _parse_table(content, filename, xlsx=suffix == ".xlsx" or content[:4] == b"PK\x03\x04")


# --------------------------------------------------------------------------- spreadsheets


@dataclass
class _Header:
    line: int
    positions: dict[str, int]
    titles: dict[str, str]


def _table_rows(content: bytes, *, xlsx: bool) -> list[tuple[int, list[Cell]]]:
    reader = read_xlsx if xlsx else read_csv
    try:
        return reader(content, max_lines=MAX_RAW_LINES, max_columns=MAX_COLUMNS)
    except TabularError as error:
        if error.code == "too_many_rows":
            raise _file_error("too_many_rows", max=MAX_QUESTIONS) from error
        raise _file_error(error.code) from error


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
        matches = [
            (position, _COLUMN_BY_ALIAS.get(normalize_header(text)), text)
            for position, text in enumerate(texts)
        ]
        # Two known headers make a header row; one lone "A" in a title row does not.
        if sum(column is not None for _, column, _ in matches) >= 2:
            positions: dict[str, int] = {}
            titles: dict[str, str] = {}
            ok = True
            for position, column, title in matches:
                if column is None:
                    continue
                if column.key in positions:
                    ok = False
                    problems.append(
                        problem("duplicate_column", line, title, column=titles[column.key])
                    )
                    continue
                positions[column.key] = position
                titles[column.key] = title
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


def _draft_from_row(header: _Header, line: int, cells: list[Cell]) -> QuestionDraft:
    def cell(key: str) -> str:
        position = header.positions.get(key)
        if position is None or position >= len(cells):
            return ""
        return clean_text(cells[position])

    option_letters = [letter for letter in LETTERS if letter in header.positions]
    last = LETTERS.index(option_letters[-1]) + 1 if option_letters else 0
    options = tuple(
        (header.titles.get(letter, f"选项{letter}"), cell(letter)) for letter in LETTERS[:last]
    )
    options_column = header.titles[option_letters[0]] if option_letters else "选项A"
    return QuestionDraft(
        row=line,
        type=cell("type"),
        stem=cell("stem"),
        options=options,
        answer=cell("answer"),
        explanation=cell("explanation"),
        tags=split_tags(cell("tags")),
        difficulty=cell("difficulty"),
        source=cell("source"),
        columns={key: title for key, title in header.titles.items() if key not in LETTERS},
        options_column=options_column,
    )


def _parse_table(content: bytes, filename: str, *, xlsx: bool) -> QuestionBank:
    rows = _table_rows(content, xlsx=xlsx)
    problems: list[BankProblem] = []
    found = _find_header(rows, problems)
    if found is None:
        raise BankError(problems)
    header, start = found

    def drafts() -> Iterator[QuestionDraft]:
        count = 0
        for line, cells in rows[start:]:
            if not any(clean_text(cell) for cell in cells):
                continue
            count += 1
            if count > MAX_QUESTIONS:
                raise _file_error("too_many_rows", max=MAX_QUESTIONS)
            yield _draft_from_row(header, line, cells)

    questions = check_bank(drafts(), problems)
    if not questions and not problems:
        problems.append(problem("no_questions", header.line))
    if problems:
        problems.sort(key=_sort_key)
        raise BankError(problems)
    return QuestionBank(bank_name_from_filename(filename), tuple(questions))


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


def _load_yaml(content: bytes) -> object:
    import yaml

    try:
        text = decode_text(content)
    except TabularError as error:
        raise _file_error(error.code) from error
    if "\x00" in text:
        raise _file_error("unreadable_file")
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        if mark is None:
            raise _file_error("bad_yaml_content") from error
        raise _file_error("bad_yaml", line=mark.line + 1) from error
    except Exception as error:  # deep nesting, impossible dates...: all "not valid YAML"
        raise _file_error("bad_yaml_content") from error


def _yaml_draft(index: int, item: dict[Any, Any], problems: list[BankProblem]) -> QuestionDraft:
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
    return QuestionDraft(
        row=index,
        type=text("type"),
        stem=text("stem"),
        options=options,
        answer=answer,
        explanation=text("explanation"),
        tags=tags,
        difficulty=text("difficulty"),
        source=text("source"),
        options_column="options",
    )


def _parse_yaml(content: bytes, filename: str) -> QuestionBank:
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
        drafts.append(_yaml_draft(index, item, problems))
    questions = check_bank(drafts, problems)
    if not items:
        problems.append(problem("no_questions", None, "questions"))
    if problems:
        raise fail()
    return QuestionBank(name, tuple(questions), version_note)


# --------------------------------------------------------------------------- bundled banks


def load_bundled_bank(name: str = "constitution.zh") -> QuestionBank:
    """A bank shipped with the bot (``quizzes/banks/<name>.yaml``)."""
    if name not in BUNDLED_BANKS:
        raise KeyError(name)
    content = resources.files("quizzes").joinpath("banks", f"{name}.yaml").read_bytes()
    return parse_bank(content, f"{name}.yaml")
