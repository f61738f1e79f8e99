"""The bundled constitution bank's own facts (the repeats the content review found are gone,
the gaps it found are covered), the Constitution's text, and `pufa bank check` finding nothing
to say. The rules every bundled bank meets are in test_bundled_banks.py."""

from __future__ import annotations

import re
import socket
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.app import running_bot
from bot.cli import main
from bot.config import Settings
from bot.sandbox.config import SandboxConfig
from bot.sandbox.server import RunningSandbox, run_sandbox
from quizzes.bank import Question
from quizzes.bank_parsers import load_bundled_bank, parse_bank
from quizzes.law_text import (
    PREAMBLE,
    check_citations,
    chinese_numeral,
    cited_articles,
    constitution,
)

BUNDLED = Path(__file__).resolve().parents[1] / "quizzes" / "banks" / "constitution.zh.yaml"


@pytest.fixture(scope="module")
def questions() -> tuple[Question, ...]:
    return load_bundled_bank().questions


# --------------------------------------------------------------------------- no repeats


@pytest.mark.parametrize(
    ("fact", "words"),
    [
        ("the Standing Committee interprets the Constitution", ("解释宪法",)),
        ("the voting age (article 34)", (r"选举权(?!.*主席)",)),
        ("the national anthem", ("义勇军进行曲",)),
        ("what surrounds the national emblem", ("谷穗", "齿轮")),
        ("the amendments to the current Constitution", ("修正",)),
        ("the organs through which the people exercise power", ("人民行使国家权力",)),
        ("the powers of the NPC and its Standing Committee", ("职权的有",)),
    ],
)
def test_a_fact_the_content_review_found_repeated_is_asked_once(
    questions: tuple[Question, ...], fact: str, words: tuple[str, ...]
) -> None:
    asking = [
        q.stem
        for q in questions
        if any(re.search(word, q.stem + "".join(q.options)) for word in words)
    ]
    assert len(asking) == 1, (fact, asking)


def test_the_deleted_term_limit_is_not_asked_about(questions: tuple[Question, ...]) -> None:
    # The 2018 amendment removed it from article 79; a negated item about it only confuses.
    assert not any("连续任职" in q.stem + "".join(q.options) for q in questions)


# --------------------------------------------------------------------------- citations


def test_the_gaps_the_content_review_found_are_covered(questions: tuple[Question, ...]) -> None:
    cited = {
        number for q in questions for _, number in cited_articles(q.source or "", default=True)
    }
    sources = " ".join(q.source or "" for q in questions)
    for article in (26, 40, 41, 48, 51, 52, 54, 111, 127, 131, 140):
        assert article in cited, article
    for paragraph in ("第四十六条第二款", "第三十三条第四款", "第三十六条第三款", "第四条第三款"):
        assert paragraph in sources, paragraph
    tags = Counter(tag for q in questions for tag in q.tags)
    assert tags["序言"] >= 3 and PREAMBLE in cited
    assert tags["宪法宣誓"] >= 2
    assert tags["国家宪法日"] >= 3


def test_the_bundled_bank_passes_bank_check_with_nothing_to_say(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUFA_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("PUFA_DEFAULT_LOCALE", "zh-CN")
    assert load_bundled_bank().warnings == ()
    result = CliRunner().invoke(main, ["bank", "check", str(BUNDLED)])
    assert result.exit_code == 0, result.output
    assert f"共 {len(load_bundled_bank().questions)} 题" in result.output
    assert "需要留意" not in result.output


# --------------------------------------------------------------------------- the law text


def test_the_constitution_text_is_whole() -> None:
    law = constitution()
    assert law.name == "中华人民共和国宪法" and "2018" in law.version
    assert sorted(law.articles) == list(range(1, 144))
    assert all(law.articles[n] and all(p.strip() for p in law.articles[n]) for n in law.articles)
    assert len(law.preamble) == 13
    # Spot checks of the 2018 text: the amendments are in, the deleted words are out.
    assert law.articles[1][1].count("中国共产党领导是中国特色社会主义最本质的特征") == 1
    assert law.articles[27][2] == "国家工作人员就职时应当依照法律规定公开进行宪法宣誓。"
    assert (
        law.articles[79][2] == "中华人民共和国主席、副主席每届任期同全国人民代表大会每届任期相同。"
    )
    assert law.articles[123] == ("中华人民共和国各级监察委员会是国家的监察机关。",)
    assert law.articles[143] == ("中华人民共和国首都是北京。",)
    assert "富强民主文明和谐美丽的社会主义现代化强国" in law.preamble[6]


def test_article_numbers_are_read_as_written() -> None:
    assert [chinese_numeral(t) for t in ("一", "十", "十三", "一百零一", "一百一十一")] == [
        1,
        10,
        13,
        101,
        111,
    ]
    assert chinese_numeral("一百四十三") == 143 and chinese_numeral("条") is None
    assert cited_articles("《宪法》第一百四十一条至第一百四十三条") == [
        ("第一百四十一条至第一百四十三条", 141),
        ("第一百四十一条至第一百四十三条", 142),
        ("第一百四十一条至第一百四十三条", 143),
    ]
    # Articles after another law's name are that law's, not the Constitution's.
    assert cited_articles("《宪法》第四十六条；《未成年人保护法》第四条") == [("第四十六条", 46)]
    assert cited_articles("依照宪法第三十三条和宪法序言") == [
        ("第三十三条", 33),
        ("序言", PREAMBLE),
    ]


def test_a_misquotation_and_a_missing_article_are_found() -> None:
    exact = "《宪法》第一条第二款规定：「社会主义制度是中华人民共和国的根本制度。」"
    assert check_citations(exact) == []
    # The paraphrases the content review found, now in quotation marks, are caught.
    paraphrase = (
        "《宪法》第五十七条规定：「全国人民代表大会的常设机关是全国人民代表大会常务委员会。」"
    )
    assert [f.code for f in check_citations(paraphrase)] == ["quote_not_in_article"]
    assert [f.code for f in check_citations("《宪法》第一百四十四条：首都。")] == [
        "cites_missing_article"
    ]
    assert [f.code for f in check_citations("解析。", "宪法第二百条")] == ["cites_missing_article"]
    # Leaving words out with …… is fine; words in another article are not.
    assert (
        check_citations("《宪法》第三十四条：「中华人民共和国年满十八周岁的公民，……都有选举权」")
        == []
    )
    assert [f.code for f in check_citations("《宪法》第三十三条：「都有选举权」")] == [
        "quote_not_in_article"
    ]
    # The source may carry the citation; another law's quotations are not checked.
    assert check_citations("「国家推广全国通用的普通话。」", "宪法第十九条") == []
    assert check_citations("《民法典》第十七条：「十八周岁以上的自然人为成年人。」") == []


def test_bank_check_lists_a_misquotation_and_a_missing_article(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUFA_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("PUFA_DEFAULT_LOCALE", "zh-CN")
    bank = tmp_path / "自编题库.yaml"
    bank.write_text(
        """name: 自编题库
questions:
  - type: true_false
    stem: 国家推广全国通用的普通话。
    answer: 对
    explanation: 《宪法》第十九条第五款规定：「国家推广全国通用的普通话。」
    source: 宪法第十九条
  - type: single
    stem: 全国人民代表大会的常设机关是（ ）。
    options: [国务院, 全国人民代表大会常务委员会]
    answer: B
    explanation: 《宪法》第五十七条：“全国人民代表大会的常设机关是全国人民代表大会常务委员会。”
    source: 宪法第五十七条
  - type: true_false
    stem: 中华人民共和国首都是北京。
    answer: 对
    explanation: 见宪法。
    source: 宪法第一百四十四条
""",
        "utf-8",
    )
    parsed = parse_bank(bank.read_bytes(), bank.name)
    assert [(w.row, w.column, w.code) for w in parsed.warnings] == [
        (2, "explanation", "quote_not_in_article"),
        (3, "source", "cites_missing_article"),
    ]
    result = CliRunner().invoke(main, ["bank", "check", str(bank)])
    assert result.exit_code == 0, result.output  # worth a look; the bank still imports
    assert "另有 2 处需要留意（不影响导入）" in result.output
    assert (
        "第 2 题，“explanation”字段：解析中用引号标出的“全国人民代表大会的常设机关是"
        "全国人民代表大会常务委员会。”，在所引的《中华人民共和国宪法》条文中找不到原文"
    ) in result.output
    assert "第 3 题，“source”字段：解析或出处引用了《中华人民共和国宪法》第一百四十四条" in (
        result.output
    )


# --------------------------------------------------------------------------- in chat

ADMIN = 1
MISQUOTED_CSV = (
    "题型,题干,选项A,选项B,答案,解析,出处\n"
    "单选,全国人民代表大会的常设机关是（ ）。,国务院,全国人民代表大会常务委员会,B,"
    "《宪法》第五十七条规定：「全国人民代表大会的常设机关是全国人民代表大会常务委员会。」,"
    "宪法第五十七条\n"
    "判断,国家推广全国通用的普通话。,,,对,《宪法》第十九条第五款规定：「国家推广全国通用的普通话。」,"
    "宪法第十九条\n"
).encode("utf-8-sig")


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    async with run_sandbox(SandboxConfig()) as running:
        yield running


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_an_uploaded_bank_with_a_misquotation_is_flagged_before_import(
    sandbox: RunningSandbox, database_url: str
) -> None:
    settings = Settings(
        bot_token=sandbox.config.token,
        bot_api_url=sandbox.url,
        database_url=database_url,
        admin_ids=frozenset({ADMIN}),
        listen_port=_free_port(),
    )
    client = sandbox.client
    async with running_bot(settings, migrate=False):
        await client.send_document(ADMIN, "常设机关.csv", MISQUOTED_CSV)
        summary = (await client.wait_for_messages(ADMIN, 1))[-1]
    text = summary["text"]
    assert "题库《常设机关》检查通过，共 2 题" in text
    assert "有 1 处需要留意（不影响导入）" in text
    assert "第 2 行，“解析”列：解析中用引号标出的" in text
    assert "在所引的《中华人民共和国宪法》条文中找不到原文" in text
