"""Levels and difficulty: each question suits a school level (小学, 初中, 高中及教职工) from
that level up and is 易, 中 or 难; a campaign for a level draws only what suits it, in a mix
of difficulties, and a 小学 campaign never draws a 难 question whatever the bank says."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from importlib import resources
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import SUPPORTED_LOCALES, Translator
from quizzes.attempts import Attempts
from quizzes.bank import (
    BankError,
    Difficulty,
    Level,
    Question,
    QuestionBank,
    QuestionType,
    parse_difficulty,
    parse_level,
)
from quizzes.bank_parsers import load_bundled_bank, parse_bank
from quizzes.bank_template import TEMPLATE_HEADER, bank_template_xlsx
from quizzes.campaigns import (
    DEFAULT_MIXES,
    CampaignSpec,
    Rules,
    SpecError,
    campaign_spec_from_mapping,
)
from quizzes.engine import Candidate, DrawError, draw, eligible, largest_remainder
from storage.campaign_setup import create_campaign
from storage.models_quiz import AttemptQuestionRow, CampaignRow
from storage.models_quiz_bank import QuestionRow
from storage.repositories import Repositories
from tests.factories import build_world
from tests.quiz_world import registered

ZONE = ZoneInfo("Asia/Shanghai")
E, M, H = Difficulty.EASY, Difficulty.MEDIUM, Difficulty.HARD
P, J, S = Level.PRIMARY, Level.JUNIOR, Level.SENIOR


def pool_of(*groups: tuple[int, Level, Difficulty, tuple[str, ...]]) -> list[Candidate]:
    """``(how many, level, difficulty, tags)`` groups as candidates with ids from 1."""
    pool: list[Candidate] = []
    for count, level, difficulty, tags in groups:
        for _ in range(count):
            pool.append(Candidate(len(pool) + 1, tags, level, difficulty))
    return pool


def counts(pool: Sequence[Candidate], ids: Sequence[int]) -> Counter[Difficulty]:
    by_id = {c.id: c for c in pool}
    return Counter(by_id[i].difficulty for i in ids)


# --------------------------------------------------------------------------- the draw


def test_a_level_suits_itself_and_every_level_above() -> None:
    assert [level.label for level in Level] == ["小学", "初中", "高中及教职工"]
    assert P.suits(P) and P.suits(J) and P.suits(S)
    assert not J.suits(P) and J.suits(J) and J.suits(S)
    assert not S.suits(J) and S.suits(S)
    pool = pool_of((2, P, E, ()), (2, J, M, ()), (2, S, H, ()), (1, P, H, ()))
    assert [c.id for c in eligible(pool, None)] == [1, 2, 3, 4, 5, 6, 7]
    assert [c.id for c in eligible(pool, S)] == [1, 2, 3, 4, 5, 6, 7]
    assert [c.id for c in eligible(pool, J)] == [1, 2, 3, 4, 7]
    # A 难 question the bank marked 小学 still never reaches a 小学 campaign.
    assert [c.id for c in eligible(pool, P)] == [1, 2]


def test_the_mix_is_split_by_largest_remainder() -> None:
    assert largest_remainder({E: 0.5, M: 0.4, H: 0.1}, 10) == {E: 5, M: 4, H: 1}
    assert largest_remainder(DEFAULT_MIXES[P], 9) == {E: 6, M: 3, H: 0}  # 6.3, 2.7
    assert largest_remainder(DEFAULT_MIXES[J], 10) == {E: 4, M: 5, H: 1}  # 4, 4.5, 1.5
    assert largest_remainder(DEFAULT_MIXES[S], 20) == {E: 6, M: 9, H: 5}
    assert largest_remainder({E: 1, M: 1, H: 1}, 2) == {E: 1, M: 1, H: 0}  # ties: easier first
    assert sum(largest_remainder(DEFAULT_MIXES[S], 7).values()) == 7


def test_the_draw_takes_the_mix_as_quotas() -> None:
    pool = pool_of((20, P, E, ()), (20, J, M, ()), (20, S, H, ()))
    for seed in range(30):
        ids = draw(pool, 20, random.Random(seed), level=S, mix=DEFAULT_MIXES[S])
        assert len(set(ids)) == 20
        assert counts(pool, ids) == {E: 6, M: 9, H: 5}
        ids = draw(pool, 10, random.Random(seed), mix={E: 0.5, M: 0.5})  # no level: a mix only
        assert counts(pool, ids) == {E: 5, M: 5}


def test_a_primary_campaign_never_draws_a_hard_question() -> None:
    # The bank says 小学 for hard questions, and the mix asks for them: still none.
    pool = pool_of((6, P, E, ()), (6, P, M, ()), (10, P, H, ()), (10, J, E, ()))
    for seed in range(50):
        ids = draw(pool, 10, random.Random(seed), level=P, mix={E: 0.2, M: 0.2, H: 0.6})
        drawn = [c for c in pool if c.id in ids]
        assert len(drawn) == 10
        assert all(c.difficulty is not H and c.level is P for c in drawn)
    with pytest.raises(DrawError):  # 12 suitable questions: 13 cannot be drawn
        draw(pool, 13, random.Random(1), level=P, mix=DEFAULT_MIXES[P])


def test_a_short_difficulty_borrows_from_its_neighbours() -> None:
    # No 难 at all: the 难 quota (1 of 10) comes from 中, the nearest.
    pool = pool_of((10, J, E, ()), (10, J, M, ()))
    for seed in range(20):
        ids = draw(pool, 10, random.Random(seed), level=J, mix=DEFAULT_MIXES[J])
        assert counts(pool, ids) == {E: 4, M: 6}
    # Two 易 only: the other 5 of 易's 7 come from 中 first, then 难 (中 runs out).
    pool = pool_of((2, P, E, ()), (3, P, M, ()), (10, J, H, ()))
    for seed in range(20):
        ids = draw(pool, 10, random.Random(seed), level=J, mix={E: 0.7, M: 0.3})
        assert counts(pool, ids) == {E: 2, M: 3, H: 5}


def test_tag_quotas_are_met_within_the_mix() -> None:
    tag = ("国家机构",)
    pool = pool_of((10, J, E, ()), (10, J, M, ()), (4, J, H, tag), (10, J, H, ()), (2, J, E, tag))
    tagged = {c.id for c in pool if c.tags}
    for seed in range(40):
        ids = draw(pool, 10, random.Random(seed), {"国家机构": 3}, level=J, mix=DEFAULT_MIXES[J])
        assert len(set(ids)) == 10 and len(tagged & set(ids)) >= 3
        # The tagged questions count toward the mix: 4 易, 5 中, 1 难 all the same.
        assert counts(pool, ids) == {E: 4, M: 5, H: 1}
    # A tag whose questions are all 难 and outnumber the 难 quota: the tag wins, the rest
    # of the mix is filled from what is left.
    pool = pool_of((10, J, E, ()), (10, J, M, ()), (5, J, H, tag))
    for seed in range(20):
        ids = draw(pool, 10, random.Random(seed), {"国家机构": 4}, level=J, mix=DEFAULT_MIXES[J])
        drawn = counts(pool, ids)
        assert drawn[H] >= 4 and sum(drawn.values()) == 10


def _draw_before_levels(
    pool: Sequence[Candidate], count: int, rng: random.Random, per_tag: Mapping[str, int]
) -> list[int]:
    """The draw as it was before levels, copied: campaigns without a level must match it."""
    chosen: list[int] = []
    taken: set[int] = set()
    for tag, quota in per_tag.items():
        tagged = [c.id for c in pool if tag in c.tags and c.id not in taken]
        for question_id in rng.sample(tagged, quota):
            chosen.append(question_id)
            taken.add(question_id)
    rest = [c.id for c in pool if c.id not in taken]
    chosen.extend(rng.sample(rest, count - len(chosen)))
    rng.shuffle(chosen)
    return chosen


def test_a_campaign_without_a_level_draws_exactly_as_before() -> None:
    rules = Rules(questions=8, per_tag={"总纲": 2})
    assert rules.level is None and rules.mix is None
    pool = pool_of((10, P, E, ("总纲",)), (10, J, H, ()), (10, S, M, ("总纲",)))
    for seed in range(30):
        before = _draw_before_levels(pool, 8, random.Random(seed), rules.per_tag)
        now = draw(pool, 8, random.Random(seed), rules.per_tag, level=rules.level, mix=rules.mix)
        assert now == before


# --------------------------------------------------------------------------- the spec


def spec(**changes: object) -> CampaignSpec:
    raw: dict[str, object] = {
        "name": "宪法卫士",
        "banks": ["宪法知识（2018年修正文本）"],
        "questions": 10,
        "opens": "2030-12-01 08:00",
        "closes": "2030-12-04 22:00",
    }
    raw.update(changes)
    return campaign_spec_from_mapping(raw, ZONE)


def spec_codes(**changes: object) -> set[tuple[str, str]]:
    with pytest.raises(SpecError) as raised:
        spec(**changes)
    return {(p.key, p.code) for p in raised.value.problems}


def test_a_campaign_file_sets_a_level_and_a_mix() -> None:
    assert spec().rules.level is None and spec().rules.mix is None
    assert spec(level="全部").rules.level is None
    primary = spec(level="小学").rules
    assert primary.level is P and primary.difficulty_mix is None
    assert primary.mix == {E: 0.7, M: 0.3}
    staff = spec(level="高中及教职工", difficulty={"易": 50, "中": 40, "难": 10}).rules
    assert staff.level is S and staff.mix == pytest.approx({E: 0.5, M: 0.4, H: 0.1})
    assert spec(difficulty={"easy": 1, "hard": 1}).rules.mix == {E: 0.5, H: 0.5}


def test_a_bad_level_or_mix_is_reported() -> None:
    assert spec_codes(level="大学") == {("level", "bad_level")}
    assert spec_codes(difficulty="easy") == {("difficulty", "bad_mix")}
    assert spec_codes(difficulty={"易": 0, "中": 0}) == {("difficulty", "bad_mix")}
    assert spec_codes(difficulty={"很难": 1}) == {("difficulty", "bad_difficulty")}
    assert spec_codes(difficulty={"3": 1}) == {("difficulty", "bad_difficulty")}
    assert spec_codes(difficulty={"易": -1, "中": "x"}) == {("difficulty", "bad_share")}
    assert spec_codes(level="小学", difficulty={"易": 0.8, "难": 0.2}) == {
        ("difficulty", "hard_for_primary")
    }
    _ = Translator.load()
    for locale in SUPPORTED_LOCALES:
        plain = _.bind(locale).plain
        for code in ("bad_level", "bad_mix", "bad_difficulty", "bad_share", "hard_for_primary"):
            text = plain(f"campaign.problem.{code}", value="x")
            assert text and "campaign.problem" not in text, (locale, code)


# --------------------------------------------------------------------------- bank files


def test_level_and_difficulty_words() -> None:
    assert [parse_level(w) for w in ("小学", "初中", "高中及教职工", "高中", "教职工")] == [
        P,
        J,
        S,
        S,
        S,
    ]
    assert [parse_level(w) for w in ("Primary", " junior ", "senior", "大学", "")] == [
        P,
        J,
        S,
        None,
        None,
    ]
    assert [parse_difficulty(w) for w in ("易", "中", "难", "简单", "较难", "Hard")] == [
        E,
        M,
        H,
        E,
        H,
        H,
    ]
    # The old five-point scale still reads: 1-2 易, 3 中, 4-5 难.
    assert [parse_difficulty(w) for w in ("1", "2", "3", "4", "5.0", "6")] == [
        E,
        E,
        M,
        H,
        H,
        None,
    ]


CSV_HEAD = "题型,题干,选项A,选项B,答案,{level},难度\r\n"


def csv(level_header: str, *rows: str) -> bytes:
    return (CSV_HEAD.format(level=level_header) + "".join(f"{r}\r\n" for r in rows)).encode()


@pytest.mark.parametrize("header", ["级别", "适用学段", "学段", "level"])
def test_a_spreadsheet_gives_each_question_its_level_and_difficulty(header: str) -> None:
    bank = parse_bank(
        csv(header, "单选,国旗是什么？,五星红旗,八一军旗,A,小学,易", "判断,宪法可以修改。,,,对,,"),
        "bank.csv",
    )
    first, second = bank.questions
    assert (first.level, first.difficulty) == (P, E)
    assert (second.level, second.difficulty) == (J, M)  # empty cells: 初中, 中


def test_bad_levels_and_difficulties_are_reported_by_row_and_column() -> None:
    content = csv(
        "适用学段",
        "单选,国旗是什么？,五星红旗,八一军旗,A,大学,易",
        "单选,国歌是什么？,义勇军进行曲,东方红,A,小学,很难",
    )
    with pytest.raises(BankError) as raised:
        parse_bank(content, "bank.csv")
    found = {(p.row, p.column, p.code) for p in raised.value.problems}
    assert found == {(2, "适用学段", "bad_level"), (3, "难度", "bad_difficulty")}
    yaml_bank = (
        "questions:\n"
        "  - {type: true_false, stem: 宪法是根本法。, answer: 对, level: 幼儿园}\n"
        "  - {type: true_false, stem: 国旗是五星红旗。, answer: 对, level: 小学, difficulty: 易}\n"
    )
    with pytest.raises(BankError) as raised:
        parse_bank(yaml_bank.encode(), "bank.yaml")
    [problem] = raised.value.problems
    assert (problem.row, problem.column, problem.code) == (1, "level", "bad_level")
    _ = Translator.load()
    for locale in SUPPORTED_LOCALES:
        text = _.bind(locale).plain("bank.problem.bad_level", value="幼儿园")
        assert "幼儿园" in text and "小学" in text


def test_a_primary_question_marked_hard_is_a_warning() -> None:
    bank = parse_bank(csv("级别", "单选,国旗是什么？,五星红旗,八一军旗,A,小学,难"), "bank.csv")
    assert bank.questions[0].difficulty is H
    assert [(w.row, w.column, w.code) for w in bank.warnings] == [(2, "难度", "hard_for_primary")]


def test_the_text_format_and_the_template_carry_levels() -> None:
    text = "1. 国旗是什么？\nA. 五星红旗\nB. 八一军旗\n答案：A\n难度：易\n适用学段：小学\n"
    [question] = parse_bank(text.encode(), "bank.txt").questions
    assert (question.level, question.difficulty) == (P, E)
    assert "适用学段" in TEMPLATE_HEADER and "难度" in TEMPLATE_HEADER
    template = parse_bank(bank_template_xlsx(), "template.xlsx")
    assert {q.level for q in template.questions} >= {P, J}
    assert all(q.difficulty in (E, M) for q in template.questions)


# --------------------------------------------------------------------------- bundled bank


def test_the_bundled_bank_gives_every_question_a_level_and_a_difficulty() -> None:
    raw = yaml.safe_load(
        resources.files("quizzes").joinpath("banks", "constitution.zh.yaml").read_bytes()
    )
    for item in raw["questions"]:  # written out, not left to the defaults
        assert parse_level(str(item["level"])) is not None, item["stem"]
        assert parse_difficulty(str(item["difficulty"])) in (E, M, H), item["stem"]
        assert str(item["difficulty"]) in "易中难", item["stem"]
    bank = load_bundled_bank()
    levels = Counter(q.level for q in bank.questions)
    assert levels[P] >= 20
    assert not [q.stem for q in bank.questions if q.level is P and q.difficulty is H]
    assert not [w for w in bank.warnings if w.code == "hard_for_primary"]
    # Enough of each difficulty that every level's default mix fills 10 without borrowing.
    for level, mix in DEFAULT_MIXES.items():
        pool = [q for q in bank.questions if q.level.suits(level)]
        have = Counter(q.difficulty for q in pool)
        assert all(have[d] >= n for d, n in largest_remainder(mix, 10).items()), level


def test_a_primary_campaign_over_the_bundled_bank_fills_ten_questions() -> None:
    bank = load_bundled_bank()
    pool = [
        Candidate(number, q.tags, q.level, q.difficulty)
        for number, q in enumerate(bank.questions, start=1)
    ]
    rules = spec(level="小学").rules
    for seed in range(50):
        ids = draw(pool, 10, random.Random(seed), rules.per_tag, level=rules.level, mix=rules.mix)
        drawn = [bank.questions[i - 1] for i in ids]
        assert len(set(ids)) == 10
        assert all(q.level is P and q.difficulty is not H for q in drawn)
        assert Counter(q.difficulty for q in drawn) == {E: 7, M: 3}


# --------------------------------------------------------------------------- storage


def graded(stem: str, level: Level, difficulty: Difficulty, *tags: str) -> Question:
    return Question(
        QuestionType.TRUE_FALSE,
        stem,
        ("正确", "错误"),
        frozenset({0}),
        tags=tags,
        difficulty=difficulty,
        level=level,
    )


# 17 questions: 9 a 小学 campaign may draw (6 易, 3 中), one 小学 难 it never may.
GRADED = QuestionBank(
    "分级题库",
    (
        *(graded(f"小学易{i}。", P, E) for i in range(6)),
        *(graded(f"小学中{i}。", P, M) for i in range(3)),
        graded("小学难。", P, H),
        *(graded(f"初中中{i}。", J, M) for i in range(4)),
        *(graded(f"高中难{i}。", S, H, "国家机构") for i in range(3)),
    ),
)


async def test_levels_are_stored_and_a_campaign_draws_by_its_level(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    world = await build_world(session_factory)
    async with session_factory() as session:
        repo = Repositories.over(session)
        await repo.banks.import_bank(
            GRADED, source_filename="g.yaml", content_sha256="1", imported_by=None
        )
        stored = await repo.banks.questions([(await repo.banks.by_name("分级题库")).id])  # type: ignore[union-attr]
        assert [(q.level, q.difficulty) for q in stored] == [
            (q.level, q.difficulty) for q in GRADED.questions
        ]
        candidates = await repo.attempts.candidates([stored[0].bank_id])
        assert Counter((c.level, c.difficulty) for c in candidates)[(P, H)] == 1
        base = {
            "banks": ["分级题库"],
            "opens": (datetime.now(UTC) - timedelta(minutes=5)).astimezone(ZONE),
            "closes": datetime.now(UTC) + timedelta(days=1),
        }
        # 小学: 9 suitable questions (the 难 one never), so 10 are too many.
        with pytest.raises(SpecError) as raised:
            await create_campaign(
                session,
                campaign_spec_from_mapping(
                    {**base, "name": "小学", "questions": 10, "level": "小学"}, ZONE
                ),
                None,
            )
        [problem] = raised.value.problems
        assert problem.code == "pool_too_small" and problem.params == {"pool": 9, "asked": 10}
        created = await create_campaign(
            session,
            campaign_spec_from_mapping(
                {**base, "name": "小学", "questions": 9, "level": "小学"}, ZONE
            ),
            None,
        )
        assert created.question_pool == 9
        mixed = await create_campaign(
            session,
            campaign_spec_from_mapping(
                {
                    **base,
                    "name": "教职工",
                    "questions": 4,
                    "level": "高中及教职工",
                    "difficulty": {"中": 0.5, "难": 0.5},
                },
                ZONE,
            ),
            None,
        )
        await session.commit()
    async with session_factory() as session:
        rows = {row.name: row for row in await session.scalars(select(CampaignRow))}
        assert (rows["小学"].level, rows["小学"].difficulty_mix) == (1, None)
        assert (rows["教职工"].level, rows["教职工"].difficulty_mix) == (3, {"中": 0.5, "难": 0.5})
        repo = Repositories.over(session)
        primary = await repo.campaigns.get(created.campaign.id)
        staff = await repo.campaigns.get(mixed.campaign.id)
        assert primary is not None and staff is not None
        assert primary.rules.level is P and primary.rules.mix == {E: 0.7, M: 0.3}
        assert staff.rules.level is S and staff.rules.mix == {M: 0.5, H: 0.5}

    # An attempt at the 小学 campaign asks the nine primary questions that are not hard.
    [school] = list(world.classes.values())[:1]
    pupil = await registered(session_factory, 501, school.id)
    async with session_factory() as session:
        repo = Repositories.over(session)
        started = await Attempts(repo.attempts, repo.campaigns, rng=random.Random(3)).start(
            primary, pupil, school, 501
        )
        assert started.attempt is not None, started.refusal
        await session.commit()
        asked = await session.scalars(
            select(QuestionRow)
            .join(AttemptQuestionRow, AttemptQuestionRow.question_id == QuestionRow.id)
            .where(AttemptQuestionRow.attempt_id == started.attempt.id)
        )
        grades = Counter((row.level, row.difficulty) for row in asked)
    assert grades == {(1, 1): 6, (1, 2): 3}


async def test_a_new_level_on_reimport_keeps_the_question_row(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        repo = Repositories.over(session)
        first = await repo.banks.import_bank(
            GRADED, source_filename="g.yaml", content_sha256="1", imported_by=None
        )
        before = {q.stem: q.id for q in await repo.banks.questions([first.bank.id])}
        regraded = QuestionBank(
            GRADED.name,
            tuple(
                graded(q.stem, J, M, *q.tags) if q.stem == "小学难。" else q
                for q in GRADED.questions
            ),
        )
        await repo.banks.import_bank(
            regraded, source_filename="g.yaml", content_sha256="2", imported_by=None
        )
        await session.commit()
        after = {q.stem: q for q in await repo.banks.questions([first.bank.id])}
    assert {stem: q.id for stem, q in after.items()} == before
    assert (after["小学难。"].level, after["小学难。"].difficulty) == (J, M)
