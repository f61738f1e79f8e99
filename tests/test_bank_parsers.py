"""Question-bank files: .xlsx, .csv (three encodings), .yaml; every problem by row and column."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import replace

import docx
import openpyxl
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.bank_messages import bank_summary, describe_problem, describe_problems
from bot.i18n import SUPPORTED_LOCALES, Translator
from quizzes import bank_parsers
from quizzes.bank import (
    BankError,
    BankProblem,
    Difficulty,
    Question,
    QuestionType,
    fits_one_message,
)
from quizzes.bank_parsers import (
    MAX_FILE_BYTES,
    is_bank_filename,
    parse_bank,
    precheck_upload,
    split_option_cell,
)
from quizzes.bank_template import TEMPLATE_HEADER, bank_template_xlsx

HEADER = [
    "题型",
    "题干",
    "选项A",
    "选项B",
    "选项C",
    "选项D",
    "答案",
    "解析",
    "标签",
    "难度",
    "出处",
]
ROWS: list[list[object]] = [
    [
        "单选",
        "中华人民共和国的根本制度是（ ）。",
        "社会主义制度",
        "人民代表大会制度",
        "民族区域自治制度",
        "基层群众自治制度",
        "A",
        "《宪法》第一条第二款：社会主义制度是中华人民共和国的根本制度。",
        "总纲",
        1,
        "宪法第一条",
    ],
    [
        "多选",
        "下列既是公民的权利又是公民的义务的有（ ）。",
        "劳动",
        "受教育",
        "纳税",
        "",
        "A,B",
        "《宪法》第四十二条、第四十六条。",
        "公民的基本权利和义务、权利",
        3,
        "",
    ],
    [
        "判断",
        "中华人民共和国公民在法律面前一律平等。",
        "",
        "",
        "",
        "",
        "对",
        "《宪法》第三十三条第二款。",
        "",
        "",
        "",
    ],
]
EXPECTED = (
    Question(
        QuestionType.SINGLE,
        "中华人民共和国的根本制度是（ ）。",
        ("社会主义制度", "人民代表大会制度", "民族区域自治制度", "基层群众自治制度"),
        frozenset({0}),
        "《宪法》第一条第二款：社会主义制度是中华人民共和国的根本制度。",
        ("总纲",),
        Difficulty.EASY,
        "宪法第一条",
    ),
    Question(
        QuestionType.MULTIPLE,
        "下列既是公民的权利又是公民的义务的有（ ）。",
        ("劳动", "受教育", "纳税"),
        frozenset({0, 1}),
        "《宪法》第四十二条、第四十六条。",
        ("公民的基本权利和义务", "权利"),
        Difficulty.MEDIUM,  # 3 on the old five-point scale
        None,
    ),
    Question(
        QuestionType.TRUE_FALSE,
        "中华人民共和国公民在法律面前一律平等。",
        ("正确", "错误"),
        frozenset({0}),
        "《宪法》第三十三条第二款。",
        (),
        Difficulty.MEDIUM,  # none given
        None,
    ),
)

YAML_SAMPLE = """
name: sample
version_note: 依据2018年修正的宪法
questions:
  - type: single
    stem: 中华人民共和国的根本制度是（ ）。
    options: [社会主义制度, 人民代表大会制度, 民族区域自治制度, 基层群众自治制度]
    answer: A
    explanation: 《宪法》第一条第二款：社会主义制度是中华人民共和国的根本制度。
    tags: [总纲]
    difficulty: 1
    source: 宪法第一条
  - type: multiple
    stem: 下列既是公民的权利又是公民的义务的有（ ）。
    options: [劳动, 受教育, 纳税]
    answer: [A, B]
    explanation: 《宪法》第四十二条、第四十六条。
    tags: 公民的基本权利和义务；权利
    difficulty: "3"
  - type: true_false
    stem: 中华人民共和国公民在法律面前一律平等。
    answer: true
    explanation: 《宪法》第三十三条第二款。
"""


def csv_text(rows: Sequence[Sequence[object]], header: Sequence[str] = HEADER) -> str:
    def cell(value: object) -> str:
        text = "" if value is None else str(value)
        return f'"{text}"' if any(ch in text for ch in ',"\n') else text

    lines = [",".join(header)]
    lines.extend(",".join(cell(value) for value in row) for row in rows)
    return "\r\n".join(lines) + "\r\n"


def csv_bytes(
    rows: Sequence[Sequence[object]], header: Sequence[str] = HEADER, encoding: str = "utf-8"
) -> bytes:
    return csv_text(rows, header).encode(encoding)


def xlsx_bytes(
    rows: Sequence[Sequence[object]], header: Sequence[object] | None = HEADER
) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    if header is not None:
        sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def problems_of(content: bytes, filename: str = "bank.csv") -> list[BankProblem]:
    with pytest.raises(BankError) as caught:
        parse_bank(content, filename)
    return caught.value.problems


def only(problems: list[BankProblem]) -> BankProblem:
    assert len(problems) == 1, problems
    return problems[0]


def row(**changes: object) -> list[object]:
    """The first sample row with some cells replaced, by header name."""
    values = list(ROWS[0])
    for name, value in changes.items():
        values[HEADER.index(name)] = value
    return values


# --------------------------------------------------------------------------- formats


@pytest.mark.parametrize(
    ("content", "filename"),
    [
        (xlsx_bytes(ROWS), "sample.xlsx"),
        (xlsx_bytes(ROWS), "sample.xlsm"),
        (csv_bytes(ROWS, encoding="utf-8"), "sample.csv"),
        (csv_bytes(ROWS, encoding="utf-8-sig"), "sample.csv"),
        (csv_bytes(ROWS, encoding="gb18030"), "sample.CSV"),
        (YAML_SAMPLE.encode("utf-8"), "other-name.yaml"),
        (YAML_SAMPLE.encode("gb18030"), "other-name.yml"),
    ],
    ids=["xlsx", "xlsm", "utf-8", "utf-8-bom", "gb18030", "yaml", "yaml-gb18030"],
)
def test_every_format_parses_to_the_same_bank(content: bytes, filename: str) -> None:
    bank = parse_bank(content, filename)
    assert bank.name == "sample"
    assert bank.questions == EXPECTED


def test_yaml_keeps_the_version_note_and_tables_have_none() -> None:
    assert parse_bank(YAML_SAMPLE.encode(), "x.yaml").version_note == "依据2018年修正的宪法"
    assert parse_bank(csv_bytes(ROWS), "x.csv").version_note == ""


def test_english_headers_title_rows_and_letter_columns() -> None:
    header = ["type", "Question", "A", "B", "C", "D", "Answer", "explanation", "tags"]
    rows = [["2024 宪法题库"], [], header, ["single", "Q?", "x", "y", "", "", "b", "", ""]]
    bank = parse_bank(xlsx_bytes(rows, header=None), "english.xlsx")
    assert bank.questions[0].options == ("x", "y")
    assert bank.questions[0].correct == frozenset({1})


@pytest.mark.parametrize(
    ("answer", "correct"),
    [("AC", {0, 2}), ("A,C", {0, 2}), ("a、c", {0, 2}), ("C;A", {0, 2}), ("ＡＣ", {0, 2})],
)
def test_multiple_choice_answers_in_many_spellings(answer: str, correct: set[int]) -> None:
    bank = parse_bank(csv_bytes([row(题型="多选", 答案=answer)]), "b.csv")
    assert bank.questions[0].correct == frozenset(correct)


@pytest.mark.parametrize(
    ("answer", "options", "correct"),
    [
        ("对", ("", ""), 0),
        ("错", ("", ""), 1),
        ("正确", ("", ""), 0),
        ("错误", ("", ""), 1),
        ("T", ("", ""), 0),
        ("f", ("", ""), 1),
        ("√", ("", ""), 0),
        ("×", ("", ""), 1),
        ("TRUE", ("", ""), 0),
        ("A", ("对", "错"), 0),
        ("B", ("对", "错"), 1),
        # Options written the other way round are normalised; the letter follows the file.
        ("A", ("错误", "正确"), 1),
        ("对", ("错", "对"), 0),
    ],
)
def test_true_false_answers_and_options_are_normalised(
    answer: str, options: tuple[str, str], correct: int
) -> None:
    cells = row(题型="判断", 选项A=options[0], 选项B=options[1], 选项C="", 选项D="", 答案=answer)
    question = parse_bank(csv_bytes([cells]), "b.csv").questions[0]
    assert question.options == ("正确", "错误")
    assert question.correct == frozenset({correct})


def test_template_round_trips_with_one_question_per_type() -> None:
    content = bank_template_xlsx()
    bank = parse_bank(content, "题库模板.xlsx")
    assert bank.name == "题库模板"
    assert [q.type for q in bank.questions] == list(QuestionType)
    workbook = openpyxl.load_workbook(io.BytesIO(content))
    assert workbook.sheetnames == ["题库", "说明"]
    first = [cell.value for cell in workbook["题库"][1]]
    assert tuple(first) == TEMPLATE_HEADER
    notes = {row[0].value for row in workbook["说明"].iter_rows()}
    assert {"题型", "题干", "答案", "解析", "标签", "难度", "出处"} <= notes


# --------------------------------------------------------------------------- every problem

LONG = "长" * 1001


@pytest.mark.parametrize(
    ("cells", "code", "column"),
    [
        (row(题型=""), "empty_type", "题型"),
        (row(题型="填空"), "bad_type", "题型"),
        (row(题干=""), "empty_stem", "题干"),
        (row(题干=LONG), "stem_too_long", "题干"),
        (row(解析=LONG), "explanation_too_long", "解析"),
        (row(出处="出" * 101), "source_too_long", "出处"),
        (row(标签=",".join(f"t{i}" for i in range(11))), "too_many_tags", "标签"),
        (row(标签="标" * 31), "tag_too_long", "标签"),
        (row(难度="6"), "bad_difficulty", "难度"),
        (row(难度="很难"), "bad_difficulty", "难度"),
        (row(难度="9" * 5000), "bad_difficulty", "难度"),
        (row(选项B=""), "empty_option", "选项B"),
        (row(选项C="项" * 101), "option_too_long", "选项C"),
        (row(选项D="社会主义制度"), "duplicate_option", "选项D"),
        (row(选项B="", 选项C="", 选项D=""), "too_few_options", "选项A"),
        (row(题型="判断", 选项C="", 选项D=""), "bad_true_false_options", "选项A"),
        (row(答案=""), "empty_answer", "答案"),
        (row(题型="多选", 答案=""), "empty_answer", "答案"),
        (row(答案="甲"), "bad_answer", "答案"),
        (
            row(题型="判断", 选项A="", 选项B="", 选项C="", 选项D="", 答案="C"),
            "bad_true_false_answer",
            "答案",
        ),
        (row(答案="E"), "answer_not_in_options", "答案"),
        (row(答案="AB"), "single_with_many_answers", "答案"),
    ],
)
def test_each_question_problem_names_its_row_and_column(
    cells: list[object], code: str, column: str
) -> None:
    # Row 2 is fine; the broken question is on row 3 (the header is row 1).
    good = row(题干="另一道题？")
    problem = only(problems_of(csv_bytes([good, cells])))
    assert (problem.row, problem.column, problem.code) == (3, column, code)


def test_answer_letter_beyond_the_options_says_which() -> None:
    problem = only(problems_of(csv_bytes([row(选项D="", 答案="D")])))
    assert problem.params == {"letter": "D", "count": 3, "last": "C"}


def test_duplicate_question_points_at_the_first() -> None:
    second = row(题干=" 中华人民共和国的根本制度是(  ). ", 选项A="甲")
    problem = only(problems_of(csv_bytes([row(), second])))
    assert (problem.row, problem.column, problem.code) == (3, "题干", "duplicate_question")
    assert problem.params["first_row"] == 2


def test_every_problem_in_the_file_is_reported_at_once() -> None:
    rows = [row(题干=f"第{i}题", 答案="Z") for i in range(25)]
    rows.append(row(题干="第1题"))
    problems = problems_of(xlsx_bytes(rows), "many.xlsx")
    assert [p.code for p in problems].count("bad_answer") == 25
    assert any(p.code == "duplicate_question" and p.row == 27 for p in problems)
    assert [p.row for p in problems] == sorted(p.row or 0 for p in problems)


def test_a_broken_question_reports_its_answer_too() -> None:
    codes = {p.code for p in problems_of(csv_bytes([row(选项B="社会主义制度", 答案="")]))}
    assert codes == {"duplicate_option", "empty_answer"}


@pytest.mark.parametrize(
    ("content", "filename", "code"),
    [
        (b"x" * (MAX_FILE_BYTES + 1), "big.csv", "file_too_large"),
        (b"", "empty.csv", "empty_file"),
        (b"\r\n\r\n", "blank.csv", "empty_file"),
        (b"whatever", "bank.xls", "unsupported_format"),
        (b"whatever", "bank.doc", "unsupported_format"),
        (b"not a zip", "bank.docx", "unreadable_file"),
        (b"PK\x03\x04 not really a zip", "bank.docx", "unreadable_file"),
        ("只有一个标题\n随便写点\n".encode(), "bank.txt", "no_numbered_questions"),
        (b"whatever", "bank", "unsupported_format"),
        (b"PK\x03\x04 not really a zip", "bank.xlsx", "unreadable_file"),
        (b"\xff\xfe\xfa\xff" * 10, "bank.csv", "bad_encoding"),
        (b"\xff\xfe\xfa\xff" * 10, "bank.yaml", "bad_encoding"),
        (b"a,b\x00,c\n", "nul.csv", "unreadable_file"),
        ("宪法题库\n随便写点\n".encode(), "bank.csv", "no_header"),
        ("题型,题干,答案,题干\n".encode(), "bank.csv", "duplicate_column"),
        ("题型,题干,选项A\n".encode(), "bank.csv", "missing_column"),
        (csv_bytes([]), "bank.csv", "no_questions"),
        (b"questions: [\n  - a\n", "bank.yaml", "bad_yaml"),
        (b"[" * 5000, "deep.yaml", "bad_yaml_content"),
        (b"- just\n- a list\n", "bank.yaml", "bad_structure"),
        (b"name: x\n", "bank.yaml", "no_questions"),
        (b"questions: []\n", "bank.yaml", "no_questions"),
        (b"questions: 3\n", "bank.yaml", "wrong_type"),
        (b"questions: [1]\n", "bank.yaml", "bad_structure"),
        ("name: " + "名" * 101 + "\nquestions: []\n", "bank.yaml", "name_too_long"),
        ("version_note: " + "v" * 501 + "\nquestions: []\n", "b.yaml", "version_note_too_long"),
        (b"title: x\nquestions: []\n", "bank.yaml", "unknown_field"),
    ],
)
def test_file_problems(content: bytes | str, filename: str, code: str) -> None:
    data = content.encode() if isinstance(content, str) else content
    assert code in {p.code for p in problems_of(data, filename)}


def test_missing_column_names_it_in_both_languages() -> None:
    problem = only(problems_of("题型,题干,选项A,选项B\n单选,x,a,b\n".encode()))
    assert problem.code == "missing_column"
    assert problem.params == {"column": "答案", "column_en": "answer"}


def test_too_many_questions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bank_parsers, "MAX_QUESTIONS", 2)
    rows = [row(题干=f"第{i}题") for i in range(3)]
    assert only(problems_of(csv_bytes(rows))).code == "too_many_rows"


YAML_BROKEN = """
questions:
  - type: single
    stem: 好题
    options: [甲, 乙, 丙, 丁, 戊, 己, 庚, 辛, 壬]
    answer: A
  - type: multiple
    stem: [not, text]
    options: [甲, 乙]
    answer: []
    colour: red
  - type: true_false
    stem: 判断
    options: 对错
    answer: 也许
  - type: single
    stem: 好题
    options: [甲, {x: 1}]
    answer: B
"""


def test_yaml_problems_are_numbered_by_question_and_field() -> None:
    with pytest.raises(BankError) as caught:
        parse_bank(YAML_BROKEN.encode(), "broken.yaml")
    assert caught.value.numbering == "question"
    found = {(p.row, p.column, p.code) for p in caught.value.problems}
    assert found == {
        (1, "options", "too_many_options"),
        (2, "stem", "wrong_type"),
        (2, "colour", "unknown_field"),
        (2, "stem", "empty_stem"),
        (2, "answer", "empty_answer"),
        (3, "options", "wrong_type"),
        (3, "answer", "bad_true_false_answer"),
        (4, "options B", "wrong_type"),
        (4, "stem", "duplicate_question"),
    }


def test_precheck_refuses_before_reading() -> None:
    too_big = precheck_upload("bank.xlsx", MAX_FILE_BYTES + 1)
    assert too_big is not None and too_big.problems[0].code == "file_too_large"
    wrong = precheck_upload("photo.jpg", 10)
    assert wrong is not None and wrong.problems[0].code == "unsupported_format"
    assert precheck_upload("bank.yml", None) is None


# --------------------------------------------------------------------------- messages

ALL_CODES = [
    "file_too_large",
    "empty_file",
    "unsupported_format",
    "unreadable_file",
    "bad_encoding",
    "too_many_rows",
    "no_header",
    "duplicate_column",
    "missing_column",
    "no_questions",
    "bad_yaml",
    "bad_yaml_content",
    "bad_structure",
    "unknown_field",
    "wrong_type",
    "name_too_long",
    "version_note_too_long",
    "empty_type",
    "bad_type",
    "empty_stem",
    "stem_too_long",
    "explanation_too_long",
    "source_too_long",
    "too_many_tags",
    "tag_too_long",
    "bad_difficulty",
    "empty_option",
    "option_too_long",
    "duplicate_option",
    "too_few_options",
    "too_many_options",
    "bad_true_false_options",
    "empty_answer",
    "bad_answer",
    "bad_true_false_answer",
    "answer_not_in_options",
    "single_with_many_answers",
    "duplicate_question",
    "no_header_in_sheets",
    "formula_without_value",
    "options_twice",
    "option_letters",
    "unlabelled_line",
    "no_numbered_questions",
    "yaml_too_big",
    "refers_to_picture",
    "too_long_for_message",
]


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_every_problem_code_has_wording(locale: str) -> None:
    catalog = Translator.load().catalogs[locale]
    assert [code for code in ALL_CODES if f"bank.problem.{code}" not in catalog] == []


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_problems_render_with_their_place_and_escape_html(locale: str) -> None:
    _ = Translator.load().bind(locale)
    problem = only(problems_of(csv_bytes([row(答案="<b>")])))
    text = describe_problem(problem, _)
    assert "&lt;b&gt;" in text and "&amp;" not in text
    assert ("第 2 行，“答案”列" if locale == "zh-CN" else "Row 2, column “答案”") in text
    plain = describe_problem(problem, _.plain, numbering="question")
    assert "<b>" in plain and ("第 2 题" if locale == "zh-CN" else "Question 2") in plain
    # Every code renders, whatever its params, in both numberings.
    for code in ALL_CODES:
        rendered = describe_problem(BankProblem(None, None, code, {}), lambda k, **p: k)
        assert rendered.endswith(f"bank.problem.{code}")


def test_long_lists_are_capped_with_a_count() -> None:
    _ = Translator.load().bind("zh-CN")
    rows = [row(题干=f"第{i}题", 答案="Z") for i in range(25)]
    with pytest.raises(BankError) as caught:
        parse_bank(csv_bytes(rows), "b.csv")
    text = describe_problems(caught.value.problems, _, limit=20)
    assert len(text.splitlines()) == 21
    assert "另有 5 个问题未列出" in text


def test_summary_counts_types_tags_and_poll_fit() -> None:
    _ = Translator.load().bind("en")
    text = bank_summary(EXPECTED, _.plain)
    assert "1 single-choice, 1 multiple-choice, 1 true/false" in text
    assert "0 from primary school, 3 from junior secondary" in text
    assert "difficulty: 1 easy, 2 medium, 0 hard" in text
    assert "总纲 1" in text
    assert "2 of the 3 questions fit a quiz poll" in text


# --------------------------------------------------------------------------- fuzzing

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parse_or_bank_error(content: bytes, filename: str) -> None:
    try:
        parse_bank(content, filename)
    except BankError as error:
        assert error.problems
        for problem in error.problems:
            assert isinstance(problem.code, str)


@FUZZ
@given(
    content=st.binary(max_size=2000),
    suffix=st.sampled_from([".csv", ".xlsx", ".yaml", ".yml", ".txt", ".docx"]),
)
def test_arbitrary_bytes_never_raise_anything_but_bank_error(content: bytes, suffix: str) -> None:
    parse_or_bank_error(content, "fuzz" + suffix)


@FUZZ
@given(
    st.lists(
        st.lists(
            st.one_of(
                st.sampled_from([*HEADER, "A", "AC", "对", "单选", "多选", "判断", "", "3"]),
                st.text(max_size=20),
            ),
            max_size=12,
        ),
        max_size=8,
    ),
    st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]),
)
def test_arbitrary_csv_never_raises_anything_but_bank_error(
    rows: list[list[str]], encoding: str
) -> None:
    text = csv_text(rows, HEADER if rows and len(rows[0]) % 2 else rows[0] if rows else [])
    try:
        content = text.encode(encoding)
    except UnicodeEncodeError:
        content = text.encode("utf-8")
    parse_or_bank_error(content, "fuzz.csv")


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=15),
    st.sampled_from(["A", "AC", "对", "single", "multiple", "true_false", "判断"]),
)
_values = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=20,
)
_questions = st.fixed_dictionaries(
    {},
    optional={
        key: _values
        for key in (
            "type",
            "stem",
            "options",
            "answer",
            "explanation",
            "tags",
            "difficulty",
            "source",
        )
    },
)


@FUZZ
@given(
    st.one_of(
        _values,
        st.fixed_dictionaries(
            {"questions": st.lists(st.one_of(_questions, _values), max_size=5)},
            optional={"name": _values, "version_note": _values},
        ),
    )
)
def test_arbitrary_yaml_never_raises_anything_but_bank_error(document: object) -> None:
    content = yaml.safe_dump(document, allow_unicode=True).encode("utf-8")
    parse_or_bank_error(content, "fuzz.yaml")


@FUZZ
@given(st.text(max_size=300))
def test_arbitrary_yaml_text_never_raises_anything_but_bank_error(text: str) -> None:
    parse_or_bank_error(text.encode("utf-8"), "fuzz.yml")


@FUZZ
@given(st.lists(st.text(max_size=40), max_size=30))
def test_arbitrary_text_lines_never_raise_anything_but_bank_error(lines: list[str]) -> None:
    parse_or_bank_error("\n".join(lines).encode("utf-8"), "fuzz.txt")


# --------------------------------------------------------------------------- other sheets


def workbook_bytes(workbook: openpyxl.Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("first_sheet", [[], [["填表说明：每行一题，答案填字母。"]]])
def test_a_workbook_with_its_questions_on_the_second_sheet(
    first_sheet: list[list[object]],
) -> None:
    # Regression: the first sheet (empty, or the teacher's notes) was read, "文件是空的".
    workbook = openpyxl.Workbook()
    notes = workbook.active
    assert notes is not None
    notes.title = "说明"
    for line in first_sheet:
        notes.append(line)
    questions = workbook.create_sheet("题库")
    questions.append(["2024 年宪法知识竞赛"])
    questions.append(HEADER)
    for cells in ROWS:
        questions.append(cells)
    bank = parse_bank(workbook_bytes(workbook), "sample.xlsx")
    assert bank.questions == EXPECTED


def test_a_workbook_without_a_header_names_its_sheets() -> None:
    workbook = openpyxl.Workbook()
    first = workbook.active
    assert first is not None
    first.title = "Sheet1"
    workbook.create_sheet("题目").append(["我国的根本制度是？", "社会主义制度"])
    problem = only(problems_of(workbook_bytes(workbook), "bank.xlsx"))
    assert problem.code == "no_header_in_sheets"
    assert problem.params == {"sheets": "“Sheet1”\n“题目”", "count": 2}
    zh = Translator.load().bind("zh-CN")
    assert "2 个工作表（“Sheet1”、“题目”）都找不到表头" in describe_problem(problem, zh.plain)
    en = Translator.load().bind("en")
    assert "2 sheets (“Sheet1”, “题目”) has" in describe_problem(problem, en.plain)


# --------------------------------------------------------------------------- options in one cell


@pytest.mark.parametrize(
    "cell",
    [
        "A.社会主义制度\nB.人民代表大会制度\nC.民族区域自治制度",
        "A．社会主义制度 B．人民代表大会制度 C．民族区域自治制度",
        "A、社会主义制度B、人民代表大会制度C、民族区域自治制度",
        "（A）社会主义制度（B）人民代表大会制度（C）民族区域自治制度",
        "(A) 社会主义制度 (B) 人民代表大会制度 (C) 民族区域自治制度",
        "A:社会主义制度；B:人民代表大会制度；C:民族区域自治制度",
        "社会主义制度\r\n人民代表大会制度\r\n民族区域自治制度",
        "社会主义制度|人民代表大会制度|民族区域自治制度",
    ],
)
def test_options_written_in_one_cell(cell: str) -> None:
    # Regression: a "选项" column was ignored, then "只有 0 个选项".
    header = ["题型", "题干", "选项", "答案"]
    rows = [["单选", "中华人民共和国的根本制度是（ ）。", cell, "A"]]
    for content, name in (
        (xlsx_bytes(rows, header), "b.xlsx"),
        (csv_bytes(rows, header), "b.csv"),
    ):
        question = parse_bank(content, name).questions[0]
        assert question.options == ("社会主义制度", "人民代表大会制度", "民族区域自治制度")
        assert question.correct == frozenset({0})


def test_a_letter_inside_an_option_is_not_a_new_option() -> None:
    assert split_option_cell("A.USB.接口 B.网线") == ["USB.接口", "网线"]
    assert split_option_cell("A. Windows B. Linux") == ["Windows", "Linux"]


def test_problems_in_a_one_cell_option_list_name_the_option() -> None:
    header = ["题型", "题干", "选项", "答案"]
    problems = problems_of(csv_bytes([["单选", "问？", "A.甲\nB.甲\nC.乙", "D"]], header))
    found = {(p.row, p.column, p.code) for p in problems}
    assert found == {
        (2, "选项（B）", "duplicate_option"),
        (2, "答案", "answer_not_in_options"),
    }
    only_one = only(problems_of(csv_bytes([["单选", "问？", "甲", "A"]], header)))
    assert (only_one.column, only_one.code, only_one.params["count"]) == (
        "选项",
        "too_few_options",
        1,
    )


def test_options_in_one_cell_and_in_letter_columns_is_a_problem() -> None:
    header = ["题型", "题干", "选项", "选项A", "选项B", "答案"]
    rows = [["单选", "问？", "A.甲 B.乙", "甲", "乙", "A"]]
    problem = only(problems_of(csv_bytes(rows, header)))
    assert (problem.row, problem.column, problem.code) == (2, "选项", "options_twice")


# --------------------------------------------------------------------------- text and Word

WENJUANXING = """2024年“宪法卫士”知识竞赛题库
一、单选题（每题 2 分）
1．中华人民共和国的根本制度是（ ）。
A．社会主义制度
B．人民代表大会制度
C．民族区域自治制度
D．基层群众自治制度
答案：A
解析：《宪法》第一条第二款：社会主义制度是中华人民共和国的根本制度。

二、多选题
2、下列既是公民的权利又是公民的义务的有（ ）。
A、劳动    B、受教育    C、纳税
答案:A、B
解析:《宪法》第四十二条、第四十六条。
三、判断题
3. 中华人民共和国公民在法律面前一律平等。
答案：正确
解析：《宪法》第三十三条第二款。
"""
WENJUANXING_EXPECTED = tuple(
    Question(q.type, q.stem, q.options, q.correct, q.explanation) for q in EXPECTED
)


def docx_bytes(paragraphs: Sequence[tuple[str, str | None]]) -> bytes:
    document = docx.Document()
    for text, style in paragraphs:
        document.add_paragraph(text, style=style)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_the_wenjuanxing_text_format_in_a_gb18030_txt() -> None:
    # Regression: .txt was "不支持该文件类型".
    bank = parse_bank(WENJUANXING.replace("\n", "\r\n").encode("gb18030"), "宪法竞赛.txt")
    assert bank.name == "宪法竞赛"
    assert bank.questions == WENJUANXING_EXPECTED


def test_the_same_bank_typed_in_word() -> None:
    content = docx_bytes([(line, None) for line in WENJUANXING.splitlines()])
    assert parse_bank(content, "宪法竞赛.docx").questions == WENJUANXING_EXPECTED


def test_word_automatic_numbering_and_answers_in_the_brackets() -> None:
    # Questions numbered by Word itself (the number is not in the text), options typed
    # two to a line, the answer written in the stem's brackets as many Word banks do.
    content = docx_bytes(
        [
            ("宪法知识练习", "Title"),
            ("中华人民共和国的根本制度是（ A ）。", "List Number"),
            ("A．社会主义制度  B．人民代表大会制度", None),
            ("C．民族区域自治制度  D．基层群众自治制度", None),
            ("公民在法律面前一律平等。（√）", "List Number"),
        ]
    )
    bank = parse_bank(content, "练习.docx")
    first, second = bank.questions
    assert first.stem == "中华人民共和国的根本制度是（ ）。"
    assert first.options[3] == "基层群众自治制度" and first.correct == frozenset({0})
    assert (second.type, second.correct) == (QuestionType.TRUE_FALSE, frozenset({0}))


def test_a_word_table_with_a_header_is_read_like_a_spreadsheet() -> None:
    document = docx.Document()
    document.add_paragraph("宪法知识题库（表格版）")
    table = document.add_table(rows=1, cols=5)
    for cell, title in zip(
        table.rows[0].cells, ["题型", "题干", "选项", "答案", "解析"], strict=True
    ):
        cell.text = title
    for cells in (
        [
            "单选",
            "中华人民共和国的根本制度是（ ）。",
            "A．社会主义制度\nB．人民代表大会制度",
            "A",
            "",
        ],
        ["判断", "宪法是国家的根本法。", "", "正确", "宪法序言。"],
    ):
        for cell, text in zip(table.add_row().cells, cells, strict=True):
            cell.text = text
    buffer = io.BytesIO()
    document.save(buffer)
    first, second = parse_bank(buffer.getvalue(), "表格.docx").questions
    assert first.options == ("社会主义制度", "人民代表大会制度")
    assert (second.type, second.correct, second.explanation) == (
        QuestionType.TRUE_FALSE,
        frozenset({0}),
        "宪法序言。",
    )


@pytest.mark.parametrize(
    ("lines", "kind", "options", "correct"),
    [
        (["1. 问？[多选题]", "A.甲", "B.乙", "C.丙", "答案：AB"], "multiple", 3, {0, 1}),
        (["1. 问？", "A.甲", "B.乙", "C.丙", "答案：A、C"], "multiple", 3, {0, 2}),
        (["1. 问？", "（A）甲 （B）乙", "【答案】B"], "single", 2, {1}),
        (["1) 问？（单选题）", "A)甲", "B)乙", "答案:Ｂ"], "single", 2, {1}),
        (["第1题 问？", "A．甲", "B．乙", "参考答案：A"], "single", 2, {0}),
        (["1. 判断：宪法是根本法。", "答案：对"], "true_false", 2, {0}),
        (["1. 宪法可以随意修改。", "答案：错"], "true_false", 2, {1}),
        (["1. 宪法可以随意修改。", "答案：错误"], "true_false", 2, {1}),
        (["1. 宪法是根本法。[判断题]", "A.正确", "B.错误", "答案：A"], "true_false", 2, {0}),
        (["一、多选题", "1. 问？", "A.甲", "B.乙", "答案：A"], "multiple", 2, {0}),
    ],
)
def test_text_questions_in_the_spellings_teachers_type(
    lines: list[str], kind: str, options: int, correct: set[int]
) -> None:
    question = only_question("\n".join(lines))
    assert (question.type.value, len(question.options), question.correct) == (
        kind,
        options,
        frozenset(correct),
    )


def test_a_stem_line_that_starts_with_a_type_word_is_no_heading() -> None:
    question = only_question(
        "1. 阅读下面的材料，\n判断下列说法是否正确：\n宪法是根本法。\n答案：对"
    )
    assert question.stem == "阅读下面的材料，判断下列说法是否正确：宪法是根本法。"
    assert question.type is QuestionType.TRUE_FALSE


def only_question(text: str) -> Question:
    (question,) = parse_bank(text.encode("utf-8"), "q.txt").questions
    return question


def test_text_problems_are_numbered_by_question_and_field() -> None:
    text = "\n".join(
        [
            "1. 好题？",
            "A.甲",
            "B.乙",
            "答案：A",
            "2. 少了答案？",
            "A.甲",
            "C.乙",
            "3. 答案之后多了一行？",
            "A.甲",
            "B.乙",
            "答案：B",
            "这一行没有标明是什么",
        ]
    )
    with pytest.raises(BankError) as caught:
        parse_bank(text.encode(), "q.txt")
    assert caught.value.numbering == "question"
    found = {(p.row, p.column, p.code) for p in caught.value.problems}
    assert found == {
        (2, "选项", "option_letters"),
        (2, "答案", "empty_answer"),
        (3, None, "unlabelled_line"),
    }
    _ = Translator.load().bind("zh-CN")
    text_of = describe_problems(caught.value.problems, _.plain, numbering="question")
    assert "第 2 题，“选项”字段：选项字母应从 A 开始依次排列，这里是“A、C”。" in text_of


def test_a_tab_separated_txt_from_excel_is_read_as_a_table() -> None:
    content = csv_text(ROWS).replace(",", "\t").encode("gb18030")
    assert parse_bank(content, "sample.txt").questions == EXPECTED


# --------------------------------------------------------------------------- warnings


def test_questions_that_refer_to_a_picture_are_flagged_with_their_row() -> None:
    rows = [
        row(),
        row(题干="如下图所示，图中的标志是（ ）。", 选项A="国徽"),
        row(题干="观察国旗，正确的说法是（ ）。", 选项B='<img src="flag.png">'),
    ]
    bank = parse_bank(csv_bytes(rows), "b.csv")
    assert len(bank.questions) == 3  # a warning does not stop the import
    found = [(w.row, w.column, w.code, w.params) for w in bank.warnings]
    assert found == [
        (3, "题干", "refers_to_picture", {"word": "如下图"}),
        (4, "选项A", "refers_to_picture", {"word": "<img"}),
    ]
    text = "1. 见图，这是什么？\nA.国旗\nB.国徽\n答案：A\n"
    warned = parse_bank(text.encode(), "q.txt")
    assert [(w.row, w.column) for w in warned.warnings] == [(1, "题干")]
    assert warned.numbering == "question"


def test_a_question_too_long_for_one_message_does_not_fit() -> None:
    base = EXPECTED[0]
    assert fits_one_message(base)
    # Telegram counts UTF-16 units: characters outside the BMP (a rare name) count twice.
    assert not fits_one_message(Question(base.type, "𠀀" * 1900, base.options, base.correct))


# --------------------------------------------------------------------------- messages to act on


def test_a_file_too_large_says_how_to_split_it() -> None:
    _ = Translator.load().bind("zh-CN")
    refused = precheck_upload("bank.xlsx", MAX_FILE_BYTES + 1)
    assert refused is not None
    text = describe_problem(refused.problems[0], _.plain)
    assert "超过了 5 MB 的上限" in text and "分成几个文件分别上传" in text


def test_a_formula_without_a_stored_result_says_to_open_and_save() -> None:
    # openpyxl, like many programs, writes formulas without their results.
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(HEADER)
    sheet.append(row(答案='=IF(1=1,"A","B")'))
    sheet.append(row(题干="另一道题？", 难度="=1+1"))
    problem = only(problems_of(workbook_bytes(workbook), "formula.xlsx"))
    assert (problem.row, problem.column, problem.code) == (2, "答案", "formula_without_value")
    assert problem.params == {"count": 2}
    _ = Translator.load().bind("zh-CN")
    assert "请用 Excel 或 WPS 打开这个文件，保存后重新上传" in describe_problem(problem, _.plain)


def saved_by_excel(content: bytes, results: dict[str, str]) -> bytes:
    """The workbook as Excel saves it: each formula cell (by reference) with its text result."""
    source = zipfile.ZipFile(io.BytesIO(content))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                for reference, result in results.items():
                    text = re.sub(
                        rf'<c r="{reference}"([^>]*)>(<f>.*?</f>)<v\s*(?:/>|></v>)',
                        rf'<c r="{reference}"\1 t="str">\2<v>{result}</v>',
                        text,
                    )
                data = text.encode()
            target.writestr(item, data)
    return buffer.getvalue()


def test_formulas_with_their_stored_results_are_read() -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(HEADER)
    sheet.append(row(答案='=IF(1=1,"A","B")', 出处='=IF(1=1,"","x")'))
    saved = saved_by_excel(workbook_bytes(workbook), {"G2": "A", "K2": ""})
    assert parse_bank(saved, "saved.xlsx").questions[0] == replace(EXPECTED[0], source=None)


YAML_BOMB = "\n".join(
    [
        'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]',
        *(
            f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]"
            for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
        ),
        "questions: *i",
    ]
)


def test_a_yaml_bomb_is_refused_in_one_line() -> None:
    with pytest.raises(BankError) as caught:
        parse_bank(YAML_BOMB.encode(), "bomb.yaml")
    _ = Translator.load().bind("zh-CN")
    text = describe_problems(caught.value.problems, _.plain, numbering=caught.value.numbering)
    assert [p.code for p in caught.value.problems] == ["yaml_too_big"]
    assert len(text.splitlines()) == 1


def test_only_spreadsheet_yaml_and_text_files_are_banks() -> None:
    for name in ("题库.xlsx", "题库.XLSM", "b.csv", "b.yaml", "b.yml", "b.txt", "b.docx", "b.xls"):
        assert is_bank_filename(name), name
    for name in ("宪法日海报.jpg", "海报.png", "通知.pdf", "题库", "", None):
        assert not is_bank_filename(name), name
