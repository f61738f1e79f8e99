"""Question-bank files: .xlsx, .csv (three encodings), .yaml; every problem by row and column."""

from __future__ import annotations

import io
from collections.abc import Sequence

import openpyxl
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.bank_messages import bank_summary, describe_problem, describe_problems
from bot.i18n import SUPPORTED_LOCALES, Translator
from quizzes import bank_parsers
from quizzes.bank import BankError, BankProblem, Question, QuestionType
from quizzes.bank_parsers import MAX_FILE_BYTES, parse_bank, precheck_upload
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
        1,
        "宪法第一条",
    ),
    Question(
        QuestionType.MULTIPLE,
        "下列既是公民的权利又是公民的义务的有（ ）。",
        ("劳动", "受教育", "纳税"),
        frozenset({0, 1}),
        "《宪法》第四十二条、第四十六条。",
        ("公民的基本权利和义务", "权利"),
        3,
        None,
    ),
    Question(
        QuestionType.TRUE_FALSE,
        "中华人民共和国公民在法律面前一律平等。",
        ("正确", "错误"),
        frozenset({0}),
        "《宪法》第三十三条第二款。",
        (),
        None,
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
        (csv_bytes(ROWS, encoding="utf-8"), "sample.csv"),
        (csv_bytes(ROWS, encoding="utf-8-sig"), "sample.csv"),
        (csv_bytes(ROWS, encoding="gb18030"), "sample.CSV"),
        (YAML_SAMPLE.encode("utf-8"), "other-name.yaml"),
        (YAML_SAMPLE.encode("gb18030"), "other-name.yml"),
    ],
    ids=["xlsx", "utf-8", "utf-8-bom", "gb18030", "yaml", "yaml-gb18030"],
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
        (row(难度="易"), "bad_difficulty", "难度"),
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
    suffix=st.sampled_from([".csv", ".xlsx", ".yaml", ".yml", ".txt"]),
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
