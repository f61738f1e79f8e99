"""Question banks: the rules for one question, the bundled bank, storage and the CLI."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli import main
from quizzes.bank import (
    Difficulty,
    ImportStatus,
    Level,
    Question,
    QuestionBank,
    QuestionDraft,
    QuestionType,
    build_question,
    normalize_stem,
    parse_question_type,
    poll_compatible,
    split_tags,
)
from quizzes.bank_parsers import load_bundled_bank
from storage.banks import BankRepository
from storage.models_quiz_bank import QuestionRow


def draft(**changes: object) -> QuestionDraft:
    base = QuestionDraft(
        row=2,
        type="单选",
        stem="问题？",
        options=(("选项A", "甲"), ("选项B", "乙")),
        answer="A",
        columns={"type": "题型", "stem": "题干", "answer": "答案"},
        options_column="选项A",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def question(stem: str = "问题？", **changes: object) -> Question:
    base = Question(QuestionType.SINGLE, stem, ("甲", "乙"), frozenset({0}), "解析", ("总纲",))
    return replace(base, **changes)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- domain


def test_a_good_draft_becomes_a_question() -> None:
    built, problems = build_question(
        draft(tags=("总纲",), difficulty="难", level="小学", source="宪法第一条")
    )
    assert problems == []
    assert built == Question(
        QuestionType.SINGLE,
        "问题？",
        ("甲", "乙"),
        frozenset({0}),
        "",
        ("总纲",),
        Difficulty.HARD,
        "宪法第一条",
        Level.PRIMARY,
    )


def test_a_draft_with_many_faults_reports_them_all() -> None:
    built, problems = build_question(draft(type="x", stem="", answer="Q", difficulty="0"))
    assert built is None
    assert {p.code for p in problems} == {
        "bad_type",
        "empty_stem",
        "bad_difficulty",
    }
    built, problems = build_question(draft(options=(("选项A", "甲"),), answer="AB"))
    assert {p.code for p in problems} == {
        "too_few_options",
        "answer_not_in_options",
        "single_with_many_answers",
    }


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("单选", QuestionType.SINGLE),
        ("单选题", QuestionType.SINGLE),
        ("Single", QuestionType.SINGLE),
        ("多选题", QuestionType.MULTIPLE),
        ("multiple", QuestionType.MULTIPLE),
        ("判断", QuestionType.TRUE_FALSE),
        ("true_false", QuestionType.TRUE_FALSE),
        ("True-False", QuestionType.TRUE_FALSE),
        ("填空", None),
    ],
)
def test_question_types_in_both_languages(text: str, kind: QuestionType | None) -> None:
    assert parse_question_type(text) is kind


def test_tags_split_on_every_separator() -> None:
    assert split_tags("总纲, 国家机构，宪法宣誓、国旗；国歌;总纲 ,") == (
        "总纲",
        "国家机构",
        "宪法宣誓",
        "国旗",
        "国歌",
    )


def test_stems_compare_without_width_case_space_or_punctuation() -> None:
    assert normalize_stem("Ｗhat is it？ ") == normalize_stem("what is it?")
    assert normalize_stem("甲（ ）乙") == normalize_stem("甲()乙")


def test_poll_compatibility_follows_telegram_quiz_limits() -> None:
    assert poll_compatible(question())
    assert not poll_compatible(question("问" * 301))
    assert poll_compatible(question("问" * 300))
    assert not poll_compatible(question(explanation="解" * 201))
    assert not poll_compatible(question(options=tuple(f"选项{i}" for i in range(11))))
    assert not poll_compatible(question(options=("甲" * 101, "乙")))
    # A quiz poll has one right option: a multiple-answer question cannot be one.
    assert not poll_compatible(question(type=QuestionType.MULTIPLE, correct=frozenset({0, 1})))


# --------------------------------------------------------------------------- the bundled bank

ARTICLE = re.compile(r"第[一二三四五六七八九十百零]+条")


def test_the_bundled_constitution_bank_loads() -> None:
    bank = load_bundled_bank("constitution.zh")
    assert len(bank.questions) >= 60
    assert "2018" in bank.version_note
    kinds = {kind: sum(q.type is kind for q in bank.questions) for kind in QuestionType}
    assert kinds[QuestionType.SINGLE] >= 30
    assert kinds[QuestionType.MULTIPLE] >= 10
    assert kinds[QuestionType.TRUE_FALSE] >= 10
    tags = {tag for q in bank.questions for tag in q.tags}
    assert {"总纲", "公民的基本权利和义务", "国家机构", "国旗国歌国徽首都"} <= tags
    assert {"宪法宣誓", "国家宪法日"} <= tags
    for q in bank.questions:
        assert q.source, q.stem
        assert isinstance(q.difficulty, Difficulty) and isinstance(q.level, Level), q.stem
        names_article = ARTICLE.search(q.explanation) is not None
        names_source = any(word in q.explanation for word in ("决定", "序言", "题注"))
        assert names_article or names_source, q.stem


def test_the_bundled_bank_states_the_facts_we_rely_on() -> None:
    bank = load_bundled_bank()

    def answer_to(stem_part: str) -> set[str]:
        found = [q for q in bank.questions if stem_part in q.stem]
        assert len(found) == 1, stem_part
        return {found[0].options[i] for i in found[0].correct}

    assert answer_to("根本制度") == {"社会主义制度"}
    assert answer_to("周岁的中华人民共和国公民有选举权和被选举权") == {"十八"}
    assert answer_to("可以被选为中华人民共和国主席") == {"四十五"}
    assert answer_to("全国人民代表大会每届任期") == {"五"}
    assert answer_to("国家宪法日是每年的") == {"12月4日"}
    assert answer_to("国歌是（ ）") == {"《义勇军进行曲》"}
    assert answer_to("首都是") == {"北京"}
    assert answer_to("共经过了") == {"五"}


# --------------------------------------------------------------------------- storage


async def test_import_creates_replaces_in_place_and_skips_unchanged(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    first = QuestionBank(
        "宪法",
        (
            question("一？", tags=("总纲",)),
            question("二？", tags=("国家机构",), difficulty=Difficulty.HARD, source="宪法第二条"),
            Question(QuestionType.TRUE_FALSE, "三？", ("正确", "错误"), frozenset({1})),
        ),
        "2018",
    )
    async with session_factory() as session:
        repo = BankRepository(session)
        created = await repo.import_bank(
            first, source_filename="a.yaml", content_sha256="1" * 64, imported_by=7
        )
        await session.commit()
    assert created.status is ImportStatus.CREATED
    assert (created.bank.question_count, created.bank.imported_by) == (3, 7)

    async with session_factory() as session:
        repo = BankRepository(session)
        stored = await repo.questions([created.bank.id])
        assert [q.question for q in stored] == list(first.questions)
        assert [q.position for q in stored] == [1, 2, 3]
        assert [q.stem for q in await repo.questions([created.bank.id], ["国家机构"])] == ["二？"]
        assert await repo.questions([created.bank.id], ["没有"]) == []
        assert len(await repo.questions([created.bank.id], [])) == 3
        unchanged = await repo.import_bank(
            first, source_filename="a.yaml", content_sha256="1" * 64, imported_by=8
        )
        await session.commit()
    assert unchanged.status is ImportStatus.UNCHANGED
    assert unchanged.bank.imported_by == 7

    second = QuestionBank("宪法", (question("一改？"), question("二？")), "2018 修订")
    async with session_factory() as session:
        repo = BankRepository(session)
        replaced = await repo.import_bank(
            second, source_filename="b.xlsx", content_sha256="2" * 64, imported_by=None
        )
        await session.commit()
    assert replaced.status is ImportStatus.REPLACED
    assert (replaced.previous_count, replaced.bank.question_count) == (3, 2)
    assert replaced.bank.id == created.bank.id

    async with session_factory() as session:
        repo = BankRepository(session)
        after = await repo.questions([created.bank.id])
        assert [q.stem for q in after] == ["一改？", "二？"]
        # Replaced in place: the questions that stay keep their ids.
        assert [q.id for q in after] == [q.id for q in stored[:2]]
        assert await session.scalar(select(func.count()).select_from(QuestionRow)) == 2
        again = await repo.get(created.bank.id)
        assert again is not None and again.version_note == "2018 修订"
        assert again.source_filename == "b.xlsx" and again.content_sha256 == "2" * 64
        assert await repo.by_name("宪法") == again
        assert await repo.by_name("没有") is None
        assert await repo.get(999) is None


async def test_banks_are_listed_by_name_and_questions_come_bank_by_bank(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        repo = BankRepository(session)
        b = await repo.import_bank(
            QuestionBank("乙库", (question("乙一？"),)),
            source_filename="b.csv",
            content_sha256="b" * 64,
            imported_by=None,
        )
        a = await repo.import_bank(
            load_bundled_bank(), source_filename="c.yaml", content_sha256="c" * 64, imported_by=1
        )
        await session.commit()
    async with session_factory() as session:
        repo = BankRepository(session)
        names = [bank.name for bank in await repo.list()]
        assert names == sorted(names) and len(names) == 2
        both = await repo.questions([b.bank.id, a.bank.id])
        assert len(both) == 1 + a.bank.question_count
        assert both[0].bank_id == min(a.bank.id, b.bank.id)
        assert await repo.questions([]) == []


# --------------------------------------------------------------------------- the CLI


def test_cli_template_check_import_and_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUFA_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("PUFA_DEFAULT_LOCALE", "zh-CN")
    runner = CliRunner()
    template = tmp_path / "模板.xlsx"
    result = runner.invoke(main, ["bank", "template", str(template)])
    assert result.exit_code == 0 and template.exists()

    result = runner.invoke(main, ["bank", "check", str(template)])
    assert result.exit_code == 0, result.output
    assert "检查通过：题库《模板》共 3 题" in result.output
    assert "单选 1 题，多选 1 题，判断 1 题" in result.output

    bad = tmp_path / "bad.csv"
    bad.write_text("题型,题干,选项A,选项B,答案\n单选,问？,甲,乙,C\n判断,问？,,,对\n", "utf-8")
    result = runner.invoke(main, ["bank", "check", str(bad)])
    assert result.exit_code == 1
    assert "第 2 行，“答案”列" in result.output
    assert "第 3 行，“题干”列" in result.output

    bundled = Path(__file__).resolve().parents[1] / "quizzes" / "banks" / "constitution.zh.yaml"
    result = runner.invoke(main, ["bank", "import", str(bundled), "--name", "宪法题库"])
    assert result.exit_code == 0, result.output
    assert "已导入题库《宪法题库》" in result.output
    result = runner.invoke(main, ["bank", "import", str(bundled), "--name", "宪法题库"])
    assert "没有改动" in result.output
    result = runner.invoke(main, ["bank", "import", str(bad)])
    assert result.exit_code == 1 and "题库未导入" in result.output

    result = runner.invoke(main, ["bank", "list"])
    assert result.exit_code == 0
    assert "宪法题库" in result.output and "constitution.zh.yaml" in result.output


def test_cli_check_flags_a_question_that_refers_to_a_picture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUFA_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("PUFA_DEFAULT_LOCALE", "zh-CN")
    bank = tmp_path / "图片题.csv"
    bank.write_text(
        "题型,题干,选项A,选项B,答案\n"
        "单选,我国的根本制度是？,社会主义制度,人民代表大会制度,A\n"
        "单选,见图，图中的标志是？,国徽,国旗,A\n"
        '单选,下列哪一个是国旗？,<img src="a.png">,<img src="b.png">,A\n',
        "utf-8",
    )
    result = CliRunner().invoke(main, ["bank", "check", str(bank)])
    assert result.exit_code == 0, result.output  # a warning does not fail the check
    assert "检查通过：题库《图片题》共 3 题" in result.output
    assert "另有 2 处需要留意（不影响导入）" in result.output
    assert "第 3 行，“题干”列：题目提到了图片（“见图”）" in result.output
    assert "第 4 行，“选项A”列：题目提到了图片（“<img”）" in result.output
