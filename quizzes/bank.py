"""Question banks: the questions a quiz campaign draws from, and the rules each must meet.

A bank arrives as a teacher's spreadsheet or a YAML file (see :mod:`quizzes.bank_parsers`).
The parsers hand each question over as a :class:`QuestionDraft` of raw text;
:func:`build_question` turns a draft into a :class:`Question` or reports every problem with
it, and :func:`check_bank` adds the problems only the whole file shows (duplicates).

Problems carry a ``code`` and ``params`` only; wording lives in the translation catalog
(``bank.problem.<code>``). Pure Python: nothing here knows Telegram or the database.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Literal

from quizzes.images import image_media_type
from quizzes.law_text import check_citations

__all__ = [
    "DEFAULT_DIFFICULTY",
    "DEFAULT_LEVEL",
    "LETTERS",
    "MAX_EXPLANATION_LENGTH",
    "MAX_NAME_LENGTH",
    "MAX_OPTIONS",
    "MAX_OPTION_LENGTH",
    "MAX_STEM_LENGTH",
    "MESSAGE_MAX",
    "MIN_OPTIONS",
    "PICTURE_MAX_BYTES",
    "POLL_MAX_EXPLANATION",
    "POLL_MAX_OPTIONS",
    "POLL_MAX_OPTION_LENGTH",
    "POLL_MAX_STEM",
    "TRUE_FALSE_OPTIONS",
    "BankError",
    "BankImport",
    "BankProblem",
    "Difficulty",
    "ImportStatus",
    "Level",
    "Picture",
    "Question",
    "QuestionBank",
    "QuestionDraft",
    "QuestionType",
    "StoredBank",
    "StoredQuestion",
    "bank_sha256",
    "build_question",
    "check_bank",
    "fits_one_message",
    "message_length",
    "normalize_stem",
    "parse_difficulty",
    "parse_level",
    "parse_question_type",
    "parse_truth",
    "picture_media_type",
    "picture_reference",
    "poll_compatible",
    "split_tags",
]

LETTERS = "ABCDEFGH"
MIN_OPTIONS = 2
MAX_OPTIONS = len(LETTERS)
# Options become inline buttons and quiz-poll options, which Telegram caps at 100 characters;
# a stem or explanation over 1000 would crowd a message (4096) with its options.
MAX_STEM_LENGTH = 1000
MAX_OPTION_LENGTH = 100
MAX_EXPLANATION_LENGTH = 1000
MAX_SOURCE_LENGTH = 100
MAX_TAG_LENGTH = 30
MAX_TAGS = 10
MAX_NAME_LENGTH = 100
# A Telegram quiz poll (the live group quiz): question, option and explanation limits.
POLL_MAX_STEM = 300
POLL_MAX_OPTION_LENGTH = 100
POLL_MAX_OPTIONS = 10
POLL_MAX_EXPLANATION = 200
# One Telegram message, counted as Telegram counts it (UTF-16 code units), and what the quiz
# puts around a question: the campaign's name (up to 100 characters), number, type, time limit.
MESSAGE_MAX = 4096
MESSAGE_FRAME = 300
# Words that point at a picture the bot cannot show: the question makes no sense without it.
_PICTURE_WORDS = re.compile(
    r"<\s*img\b|!\[|如下图|见下图|如上图|见上图|如图|见图|下图|上图|左图|右图|图示|图片|看图",
    re.IGNORECASE,
)

# A question's picture: PNG or JPEG, told by its first bytes rather than its name, at most
# 1 MB so that a class drawing the same question at once does not fill the line.
PICTURE_MAX_BYTES = 1024 * 1024
# The pictures a question may carry.
_PICTURE_TYPES = frozenset({"image/png", "image/jpeg"})

TRUE_FALSE_OPTIONS = ("正确", "错误")
_PREVIEW = 30


class QuestionType(StrEnum):
    SINGLE = "single"
    MULTIPLE = "multiple"
    TRUE_FALSE = "true_false"


class Level(IntEnum):
    """The school level a question suits: from this level up. A 小学 question suits every
    campaign, a 初中 one campaigns for 初中 and 高中及教职工, a 高中及教职工 one only those."""

    PRIMARY = 1  # 小学
    JUNIOR = 2  # 初中
    SENIOR = 3  # 高中及教职工

    @property
    def label(self) -> str:
        return _LEVEL_LABELS[self]

    def suits(self, audience: Level) -> bool:
        """Whether a question of this level may be drawn for a campaign of ``audience``."""
        return self <= audience


class Difficulty(IntEnum):
    """How hard a question is: 易, 中 or 难. A 小学 campaign never draws a 难 one."""

    EASY = 1  # 易
    MEDIUM = 2  # 中
    HARD = 3  # 难

    @property
    def label(self) -> str:
        return _DIFFICULTY_LABELS[self]


_LEVEL_LABELS = {Level.PRIMARY: "小学", Level.JUNIOR: "初中", Level.SENIOR: "高中及教职工"}
_DIFFICULTY_LABELS = {Difficulty.EASY: "易", Difficulty.MEDIUM: "中", Difficulty.HARD: "难"}
# A question whose file says nothing: a middle-school item of middle difficulty.
DEFAULT_LEVEL = Level.JUNIOR
DEFAULT_DIFFICULTY = Difficulty.MEDIUM


def picture_media_type(content: bytes) -> str | None:
    """``image/png`` or ``image/jpeg`` when the bytes are one, by their signature."""
    media_type = image_media_type(content)
    return media_type if media_type in _PICTURE_TYPES else None


@dataclass(frozen=True, slots=True)
class Picture:
    """The one picture a question may show: its bytes and their media type."""

    content: bytes = field(repr=False)
    media_type: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True, slots=True)
class Question:
    """One question. ``correct`` holds indices into ``options``."""

    type: QuestionType
    stem: str
    options: tuple[str, ...]
    correct: frozenset[int]
    explanation: str = ""
    tags: tuple[str, ...] = ()
    difficulty: Difficulty = DEFAULT_DIFFICULTY
    source: str | None = None
    level: Level = DEFAULT_LEVEL
    picture: Picture | None = None


@dataclass(frozen=True, slots=True)
class QuestionBank:
    """A checked bank. ``warnings`` are things worth a look that do not stop the import;
    ``numbering`` says what their ``row`` counts, as in :class:`BankError`."""

    name: str
    questions: tuple[Question, ...]
    version_note: str = ""
    warnings: tuple[BankProblem, ...] = ()
    numbering: Literal["row", "question"] = "row"


@dataclass(frozen=True, slots=True)
class StoredQuestion:
    """A question as stored: its database id and bank, and the :class:`Question` fields."""

    id: int
    bank_id: int
    position: int
    type: QuestionType
    stem: str
    options: tuple[str, ...]
    correct: frozenset[int]
    explanation: str = ""
    tags: tuple[str, ...] = ()
    difficulty: Difficulty = DEFAULT_DIFFICULTY
    source: str | None = None
    level: Level = DEFAULT_LEVEL
    # The stored picture's key (its SHA-256), fetched on its own only when shown.
    picture_sha256: str | None = None

    @property
    def question(self) -> Question:
        return Question(
            self.type,
            self.stem,
            self.options,
            self.correct,
            self.explanation,
            self.tags,
            self.difficulty,
            self.source,
            self.level,
        )


@dataclass(frozen=True, slots=True)
class StoredBank:
    id: int
    name: str
    version_note: str
    source_filename: str
    content_sha256: str
    question_count: int
    imported_by: int | None
    imported_at: datetime


class ImportStatus(StrEnum):
    CREATED = "created"
    REPLACED = "replaced"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class BankImport:
    """What an import did; ``previous_count`` is the size of the bank it replaced."""

    bank: StoredBank
    status: ImportStatus
    previous_count: int = 0


@dataclass(frozen=True)
class BankProblem:
    """One thing wrong with the file. ``row`` is the spreadsheet row (header = 1) or, in a
    YAML file, the question's number; ``column`` is the header or field as written."""

    row: int | None
    column: str | None
    code: str
    params: dict[str, str | int] = field(default_factory=dict)


class BankError(Exception):
    """The bank cannot be imported; ``problems`` lists everything that is wrong.

    ``numbering`` says what ``row`` counts: spreadsheet rows, or questions in a YAML file.
    """

    def __init__(
        self,
        problems: Sequence[BankProblem],
        *,
        numbering: Literal["row", "question"] = "row",
    ) -> None:
        self.problems: list[BankProblem] = list(problems)
        self.numbering = numbering
        codes = ", ".join(sorted({problem.code for problem in self.problems}))
        super().__init__(f"{len(self.problems)} question bank problem(s): {codes}")


def problem(
    code: str, row: int | None = None, column: str | None = None, /, **params: str | int
) -> BankProblem:
    return BankProblem(row=row, column=column, code=code, params=dict(params))


# Separates the items of a list-valued problem parameter (``sheets``); the renderer joins
# them again with its language's separator ("、" or ", ").
LIST_SEPARATOR = "\n"


def preview(text: str) -> str:
    return text if len(text) <= _PREVIEW else text[: _PREVIEW - 1] + "…"


# --------------------------------------------------------------------------- normalising


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def normalize_stem(text: str) -> str:
    """What makes two stems "the same question": width, case, spaces and punctuation aside."""
    return "".join(
        ch for ch in _fold(text) if not ch.isspace() and unicodedata.category(ch)[0] != "P"
    )


def _normalize_option(text: str) -> str:
    return " ".join(_fold(text).split())


_TYPE_WORDS: dict[str, QuestionType] = {}
for _type, _words in (
    (QuestionType.SINGLE, ("单选", "单选题", "单项选择", "单项选择题", "single", "singlechoice")),
    (
        QuestionType.MULTIPLE,
        (
            "多选",
            "多选题",
            "多项选择",
            "多项选择题",
            "不定项选择",
            "不定项选择题",
            "multiple",
            "multi",
        ),
    ),
    (
        QuestionType.TRUE_FALSE,
        ("判断", "判断题", "是非题", "truefalse", "true/false", "tf", "judge"),
    ),
):
    for _word in _words:
        _TYPE_WORDS[_word] = _type
_TYPE_WORDS.update({"multiplechoice": QuestionType.MULTIPLE})


def parse_question_type(text: str) -> QuestionType | None:
    """``单选``/``single``, ``多选``/``multiple``, ``判断``/``true_false`` and kin."""
    key = re.sub(r"[\s_\-]+", "", _fold(text))
    return _TYPE_WORDS.get(key)


_TRUE_WORDS = frozenset({"对", "正确", "是", "t", "true", "y", "yes", "√", "✓", "✔"})
_FALSE_WORDS = frozenset({"错", "错误", "否", "f", "false", "n", "no", "×", "✗", "✘", "x"})


def _truth(text: str) -> bool | None:
    key = "".join(_fold(text).split())
    if key in _TRUE_WORDS:
        return True
    if key in _FALSE_WORDS:
        return False
    return None


def parse_truth(text: str) -> bool | None:
    """``对``/``正确``/``√``/``T`` and kin: true; ``错``/``错误``/``×``: false; else ``None``."""
    return _truth(text)


_LEVEL_WORDS: dict[str, Level] = {}
_level_names: tuple[tuple[Level, tuple[str, ...]], ...] = (
    (Level.PRIMARY, ("小学", "小学生", "小学及以上", "primary", "primaryschool")),
    (Level.JUNIOR, ("初中", "初中生", "初中及以上", "junior", "middle", "middleschool")),
    (
        Level.SENIOR,
        (
            "高中及教职工",
            "高中",
            "高中生",
            "教职工",
            "高中及以上",
            "senior",
            "highschool",
            "staff",
            "seniorandstaff",
        ),
    ),
)
for _level, _names in _level_names:
    for _name in _names:
        _LEVEL_WORDS[_name] = _level

_DIFFICULTY_WORDS: dict[str, Difficulty] = {}
_difficulty_names: tuple[tuple[Difficulty, tuple[str, ...]], ...] = (
    (Difficulty.EASY, ("易", "容易", "简单", "easy", "1", "2")),
    (Difficulty.MEDIUM, ("中", "中等", "适中", "一般", "medium", "normal", "3")),
    (Difficulty.HARD, ("难", "较难", "困难", "hard", "difficult", "4", "5")),
)
for _difficulty, _names in _difficulty_names:
    for _name in _names:
        _DIFFICULTY_WORDS[_name] = _difficulty


def _word_key(text: str) -> str:
    key = re.sub(r"[\s_\-]+", "", _fold(text))
    return re.sub(r"^(\d)\.0*$", r"\1", key)


def parse_level(text: str) -> Level | None:
    """``小学``, ``初中``, ``高中及教职工`` (or ``高中``, ``教职工``; ``primary``, ``junior``,
    ``senior``); ``None`` for anything else."""
    return _LEVEL_WORDS.get(_word_key(text))


def parse_difficulty(text: str) -> Difficulty | None:
    """``易``/``中``/``难`` (``easy``/``medium``/``hard``, ``简单``, ``较难``…), or the old
    five-point scale: 1-2 易, 3 中, 4-5 难; ``None`` for anything else."""
    return _DIFFICULTY_WORDS.get(_word_key(text))


def split_tags(text: str) -> tuple[str, ...]:
    """Tags separated by ``,`` ``，`` ``、`` ``;`` or ``；``; blanks and repeats dropped."""
    parts = (" ".join(part.split()) for part in re.split(r"[,，、;；]", text))
    return tuple(dict.fromkeys(part for part in parts if part))


# --------------------------------------------------------------------------- one question


@dataclass(frozen=True)
class QuestionDraft:
    """One question as read from the file, before any checking.

    ``options`` are ``(column, text)`` pairs in letter order, blanks included; ``answer`` is
    the answer cell (``"AC"``, ``"A,C"``, ``"对"``) or a list of letters; ``difficulty`` and
    ``level`` are the cells as text. ``columns`` maps each field (``type``, ``stem``,
    ``answer``, ``explanation``, ``tags``, ``difficulty``, ``level``, ``source``) to its
    header as written.
    """

    row: int
    type: str
    stem: str
    options: tuple[tuple[str, str], ...]
    answer: str | tuple[str, ...]
    explanation: str = ""
    tags: tuple[str, ...] = ()
    difficulty: str = ""
    source: str = ""
    columns: dict[str, str] = field(default_factory=dict)
    options_column: str = "options"
    level: str = ""
    # The picture file the question names (``picture_name``) and its bytes, ``None`` when
    # no such file was found; an embedded spreadsheet picture has bytes and no name.
    picture_name: str = ""
    picture: bytes | None = None
    pictures_readable: bool = True  # False where files beside the bank cannot be read

    def column(self, key: str) -> str:
        return self.columns.get(key, key)


def _answer_letters(answer: str | tuple[str, ...]) -> list[str] | None:
    """The letters of an answer, in order without repeats; ``None`` if it is not letters."""
    parts = [answer] if isinstance(answer, str) else list(answer)
    text = _fold("".join(parts)).upper()
    text = re.sub(r"[\s,，、;；/|+&]+", "", text)
    if not text or any(ch not in LETTERS for ch in text):
        return None
    return list(dict.fromkeys(text))


def _answer_shown(answer: str | tuple[str, ...]) -> str:
    return preview(answer if isinstance(answer, str) else ",".join(answer))


def _check_lengths(draft: QuestionDraft, problems: list[BankProblem]) -> None:
    for key, value, limit in (
        ("stem", draft.stem, MAX_STEM_LENGTH),
        ("explanation", draft.explanation, MAX_EXPLANATION_LENGTH),
        ("source", draft.source, MAX_SOURCE_LENGTH),
    ):
        if len(value) > limit:
            problems.append(
                problem(
                    f"{key}_too_long", draft.row, draft.column(key), length=len(value), max=limit
                )
            )
    if len(draft.tags) > MAX_TAGS:
        problems.append(
            problem(
                "too_many_tags",
                draft.row,
                draft.column("tags"),
                count=len(draft.tags),
                max=MAX_TAGS,
            )
        )
    for tag in draft.tags:
        if len(tag) > MAX_TAG_LENGTH:
            problems.append(
                problem(
                    "tag_too_long",
                    draft.row,
                    draft.column("tags"),
                    tag=preview(tag),
                    length=len(tag),
                    max=MAX_TAG_LENGTH,
                )
            )


def _check_difficulty(draft: QuestionDraft, problems: list[BankProblem]) -> Difficulty:
    text = unicodedata.normalize("NFKC", draft.difficulty).strip()
    if not text:
        return DEFAULT_DIFFICULTY
    difficulty = parse_difficulty(text)
    if difficulty is None:
        problems.append(
            problem("bad_difficulty", draft.row, draft.column("difficulty"), value=preview(text))
        )
        return DEFAULT_DIFFICULTY
    return difficulty


def _check_level(draft: QuestionDraft, problems: list[BankProblem]) -> Level:
    text = unicodedata.normalize("NFKC", draft.level).strip()
    if not text:
        return DEFAULT_LEVEL
    level = parse_level(text)
    if level is None:
        problems.append(
            problem("bad_level", draft.row, draft.column("level"), value=preview(text))
        )
        return DEFAULT_LEVEL
    return level


def _check_options(draft: QuestionDraft, problems: list[BankProblem]) -> tuple[list[str], bool]:
    """The options, letters A.. in order, and whether all of them are right."""
    given = list(draft.options)
    while given and not given[-1][1]:
        given.pop()
    ok = True
    seen: dict[str, str] = {}
    for column, text in given:
        if not text:
            problems.append(problem("empty_option", draft.row, column))
            ok = False
            continue
        if len(text) > MAX_OPTION_LENGTH:
            problems.append(
                problem(
                    "option_too_long", draft.row, column, length=len(text), max=MAX_OPTION_LENGTH
                )
            )
            ok = False
        key = _normalize_option(text)
        if key in seen:
            problems.append(
                problem(
                    "duplicate_option", draft.row, column, value=preview(text), first=seen[key]
                )
            )
            ok = False
        else:
            seen[key] = column
    return [text for _, text in given], ok


def _true_false(
    draft: QuestionDraft, options: list[str] | None, problems: list[BankProblem]
) -> tuple[tuple[str, ...], frozenset[int]] | None:
    """Options become 正确/错误 whatever the file wrote; the answer follows them."""
    mapping: list[bool] = [True, False]
    options_ok = True
    if options:
        truths = [_truth(option) for option in options]
        if len(options) != 2 or set(truths) != {True, False}:
            problems.append(
                problem(
                    "bad_true_false_options",
                    draft.row,
                    draft.options_column,
                    options=preview(" / ".join(options)),
                )
            )
            options_ok = False
        else:
            mapping = [bool(truth) for truth in truths]
    column = draft.column("answer")
    answer = draft.answer
    if not isinstance(answer, str) and len(answer) == 1:
        answer = answer[0]
    truth: bool | None = None
    if isinstance(answer, str):
        truth = _truth(answer)
        if truth is None:
            letters = _answer_letters(answer)
            if letters is not None and len(letters) == 1 and LETTERS.index(letters[0]) < 2:
                truth = mapping[LETTERS.index(letters[0])]
    if truth is None:
        if not _answer_shown(draft.answer).strip():
            problems.append(problem("empty_answer", draft.row, column))
        else:
            problems.append(
                problem(
                    "bad_true_false_answer", draft.row, column, value=_answer_shown(draft.answer)
                )
            )
        return None
    if not options_ok:
        return None
    return TRUE_FALSE_OPTIONS, frozenset({0 if truth else 1})


def build_question(draft: QuestionDraft) -> tuple[Question | None, list[BankProblem]]:
    """Check one question: the question when all is well, and every problem found."""
    problems: list[BankProblem] = []
    row = draft.row
    question_type = parse_question_type(draft.type)
    if question_type is None:
        if draft.type.strip():
            problems.append(
                problem("bad_type", row, draft.column("type"), value=preview(draft.type))
            )
        else:
            problems.append(problem("empty_type", row, draft.column("type")))
    if not draft.stem.strip():
        problems.append(problem("empty_stem", row, draft.column("stem")))
    _check_lengths(draft, problems)
    difficulty = _check_difficulty(draft, problems)
    level = _check_level(draft, problems)
    options, options_ok = _check_options(draft, problems)

    result: tuple[tuple[str, ...], frozenset[int]] | None = None
    if question_type is QuestionType.TRUE_FALSE:
        result = _true_false(draft, options if options_ok else None, problems)
    elif question_type is not None:
        result = _choice(draft, question_type, options, problems)
    if not options_ok:
        result = None
    picture = _check_picture(draft, problems)
    if problems or result is None or question_type is None:
        return None, problems
    final_options, correct = result
    question = Question(
        type=question_type,
        stem=draft.stem.strip(),
        options=final_options,
        correct=correct,
        explanation=draft.explanation.strip(),
        tags=draft.tags,
        difficulty=difficulty,
        source=draft.source.strip() or None,
        level=level,
        picture=picture,
    )
    return question, []


def _check_picture(draft: QuestionDraft, problems: list[BankProblem]) -> Picture | None:
    """The question's picture when it names or embeds one that is a PNG/JPEG up to 1 MB."""
    name = draft.picture_name.strip()
    column = draft.column("picture")
    if name and (name.startswith(("/", "\\")) or ".." in re.split(r"[/\\]", name)):
        problems.append(problem("picture_bad_name", draft.row, column, name=preview(name)))
        return None
    if name and not draft.pictures_readable:
        problems.append(problem("picture_not_beside", draft.row, column, name=preview(name)))
        return None
    if draft.picture is None:
        if name:
            problems.append(problem("picture_missing", draft.row, column, name=preview(name)))
        return None
    shown = preview(name) if name else "—"
    if len(draft.picture) > PICTURE_MAX_BYTES:
        problems.append(
            problem(
                "picture_too_large",
                draft.row,
                column,
                name=shown,
                size_kb=(len(draft.picture) + 1023) // 1024,
                max_kb=PICTURE_MAX_BYTES // 1024,
            )
        )
        return None
    media_type = picture_media_type(draft.picture)
    if media_type is None:
        problems.append(problem("picture_not_image", draft.row, column, name=shown))
        return None
    return Picture(draft.picture, media_type)


def _choice(
    draft: QuestionDraft,
    question_type: QuestionType,
    options: list[str],
    problems: list[BankProblem],
) -> tuple[tuple[str, ...], frozenset[int]] | None:
    ok = True
    if len(options) < MIN_OPTIONS:
        problems.append(
            problem(
                "too_few_options",
                draft.row,
                draft.options_column,
                count=len(options),
                min=MIN_OPTIONS,
            )
        )
        ok = False
    elif len(options) > MAX_OPTIONS:
        problems.append(
            problem(
                "too_many_options",
                draft.row,
                draft.options_column,
                count=len(options),
                max=MAX_OPTIONS,
            )
        )
        ok = False
    column = draft.column("answer")
    shown = _answer_shown(draft.answer)
    if not shown.strip():
        problems.append(problem("empty_answer", draft.row, column))
        return None
    letters = _answer_letters(draft.answer)
    if letters is None:
        problems.append(problem("bad_answer", draft.row, column, value=shown))
        return None
    missing = [letter for letter in letters if LETTERS.index(letter) >= len(options)]
    if missing:
        problems.append(
            problem(
                "answer_not_in_options",
                draft.row,
                column,
                letter="".join(missing),
                count=len(options),
                last=LETTERS[max(len(options), 1) - 1],
            )
        )
        ok = False
    if question_type is QuestionType.SINGLE and len(letters) > 1:
        problems.append(
            problem("single_with_many_answers", draft.row, column, value=shown, count=len(letters))
        )
        ok = False
    if not ok:
        return None
    return tuple(options), frozenset(LETTERS.index(letter) for letter in letters)


# --------------------------------------------------------------------------- the whole file


def picture_reference(text: str) -> str | None:
    """The words by which ``text`` refers to a picture (``如下图``, ``<img``), if it does."""
    match = _PICTURE_WORDS.search(text)
    return match.group(0) if match else None


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def message_length(question: Question) -> int:
    """The question as the quiz shows it (stem, then ``A. option`` lines), in UTF-16 units."""
    return (
        _utf16_length(question.stem)
        + 2
        + sum(_utf16_length(option) + 4 for option in question.options)
        + MESSAGE_FRAME
    )


def fits_one_message(question: Question) -> bool:
    """Whether the question with its options and the quiz's frame fits one Telegram message."""
    return message_length(question) <= MESSAGE_MAX


def _check_display(draft: QuestionDraft, question: Question, warnings: list[BankProblem]) -> None:
    for column, text in (
        (draft.column("stem"), question.stem),
        *((draft.options_column, option) for option in question.options),
    ):
        word = picture_reference(text)
        if word is not None and question.picture is None:
            warnings.append(problem("refers_to_picture", draft.row, column, word=word))
            break
    if question.level is Level.PRIMARY and question.difficulty is Difficulty.HARD:
        # A 小学 campaign never draws a 难 question: this one only reaches 初中 and up.
        warnings.append(problem("hard_for_primary", draft.row, draft.column("difficulty")))
    if not fits_one_message(question):
        warnings.append(
            problem(
                "too_long_for_message",
                draft.row,
                draft.column("stem"),
                length=message_length(question) - MESSAGE_FRAME,
                max=MESSAGE_MAX - MESSAGE_FRAME,
            )
        )


def _check_citations(
    draft: QuestionDraft, question: Question, warnings: list[BankProblem]
) -> None:
    """A cited article of the Constitution that does not exist, a quotation not in it."""
    for finding in check_citations(question.explanation, question.source or ""):
        column = draft.column("explanation")
        if finding.code == "cites_missing_article":
            written = str(finding.params["article"])
            column = draft.column("explanation" if written in question.explanation else "source")
        warnings.append(problem(finding.code, draft.row, column, **finding.params))


def check_bank(
    drafts: Iterable[QuestionDraft],
    problems: list[BankProblem],
    warnings: list[BankProblem] | None = None,
) -> list[Question]:
    """Build every question, adding its problems and duplicate stems to ``problems``, and
    what a student could not answer as shown (a picture it refers to) and what does not
    match the Constitution's text (a missing article, a misquotation) to ``warnings``."""
    questions: list[Question] = []
    first_row: dict[str, int] = {}
    for draft in drafts:
        question, found = build_question(draft)
        problems.extend(found)
        if question is not None and warnings is not None:
            _check_display(draft, question, warnings)
            _check_citations(draft, question, warnings)
        key = normalize_stem(draft.stem)
        if key:
            if key in first_row:
                problems.append(
                    problem(
                        "duplicate_question",
                        draft.row,
                        draft.column("stem"),
                        first_row=first_row[key],
                        stem=preview(draft.stem.strip()),
                    )
                )
                continue
            first_row[key] = draft.row
        if question is not None:
            questions.append(question)
    return questions


def bank_sha256(content: bytes, bank: QuestionBank) -> str:
    """The bank file's hash, covering its pictures too: a picture changed beside an unchanged
    file makes a new version. A bank without pictures keeps its file's plain hash."""
    digest = hashlib.sha256(content)
    for question in bank.questions:
        if question.picture is not None:
            digest.update(question.picture.sha256.encode())
    return digest.hexdigest()


def poll_compatible(question: Question) -> bool:
    """Whether the question fits a Telegram quiz poll (the live group quiz).

    A quiz poll has one correct option, so a multiple-answer question never fits; nor does
    a picture question, since a poll shows text only.
    """
    return (
        question.picture is None
        and len(question.stem) <= POLL_MAX_STEM
        and len(question.options) <= POLL_MAX_OPTIONS
        and all(len(option) <= POLL_MAX_OPTION_LENGTH for option in question.options)
        and len(question.explanation) <= POLL_MAX_EXPLANATION
        and len(question.correct) == 1
    )
