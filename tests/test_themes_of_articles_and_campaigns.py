"""Articles and quiz campaigns carry a theme: what they default to (a campaign its banks',
an article 其他, a lecture's notice its lecture's), the migration that gave existing rows
theirs, ``--theme`` at the command line, the key-date reminder's offer, the dashboard's
pages, and the report's figures per theme checked against a hand count of a known
history, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import inspect, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.application import UnitOfWork
from bot.application.campaign_setup import CampaignNotCreated, SetupRefusal, create_from_answers
from bot.application.publicity import create_draft
from bot.i18n import Translator
from bot.reports.document import render_markdown
from bot.views.calendar import CalendarCb, offer_of
from quizzes.bank_themes import BUNDLED_BANK_THEMES, bank_theme, campaign_theme
from quizzes.clock import fixed_clock
from quizzes.permissions import Permissions
from quizzes.publicity import Audience
from quizzes.statistics import Period, Statistics
from quizzes.theme_figures import ThemeBreakdown, ThemeReach
from quizzes.themes import Theme
from storage.migrate import downgrade, upgrade
from storage.models_publicity import ArticleRow, LectureRow
from storage.models_quiz import CampaignRow
from storage.models_quiz_bank import QuestionBankRow
from storage.publicity import LectureRepository, PublicityRepository
from storage.statistics import StatisticsRepository
from tests.factories import World, build_world
from tests.quiz_world import SMALL_BANK
from tests.report_world import ALL, PERIOD, Expected, build_history

SHANGHAI = ZoneInfo("Asia/Shanghai")
ADMIN = Permissions(is_admin=True)
BANKS = Path(__file__).resolve().parent.parent / "quizzes" / "banks"


# ---------------------------------------------------------------------- banks' themes


def test_every_bundled_bank_has_its_theme_and_its_name_says_the_same() -> None:
    files = sorted(path.name for path in BANKS.glob("*.zh.yaml"))
    assert files == sorted(BUNDLED_BANK_THEMES)  # a new bundled bank needs its theme
    for name in files:
        bank_name = yaml.safe_load((BANKS / name).read_text(encoding="utf-8"))["name"]
        assert bank_theme(bank_name, name) is BUNDLED_BANK_THEMES[name]
        if name != "bullying_fraud.zh.yaml":
            assert bank_theme(bank_name) is BUNDLED_BANK_THEMES[name], bank_name
    # Two themes in one name: the file decides for the bundled bank, else no theme.
    assert bank_theme("防欺凌防诈骗知识") is None
    assert bank_theme("防欺凌防诈骗知识", "uploads/bullying_fraud.zh.yaml") is Theme.ANTI_FRAUD


def test_a_bank_of_the_bureau_has_the_one_theme_its_name_names() -> None:
    assert bank_theme("2026年宪法卫士题库", "题库.xlsx") is Theme.CONSTITUTION
    assert bank_theme("毒品预防知识", "a.csv") is Theme.ANTI_DRUG
    assert bank_theme("校园欺凌", "b.csv") is Theme.ANTI_BULLYING
    assert bank_theme("宪法和民法典综合", "c.csv") is None
    assert bank_theme("法律常识", "d.csv") is None


def test_a_campaign_takes_its_banks_theme_when_they_agree() -> None:
    assert campaign_theme([Theme.ANTI_DRUG]) is Theme.ANTI_DRUG
    assert campaign_theme([Theme.MINORS, Theme.MINORS]) is Theme.MINORS
    assert campaign_theme([Theme.MINORS, Theme.CONSTITUTION]) is Theme.OTHER
    assert campaign_theme([Theme.CONSTITUTION, None]) is Theme.OTHER
    assert campaign_theme([None]) is Theme.OTHER
    assert campaign_theme([]) is Theme.OTHER


# ---------------------------------------------------------------------- the migration


async def test_the_migration_gives_existing_rows_their_theme_and_goes_back(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    async with session_factory() as session:
        banks = {}
        for name, filename in (
            ("宪法知识（2018年修正文本）", "constitution.zh.yaml"),
            ("宪法补充题", "宪法补充.csv"),
            ("禁毒知识", "anti_drug.zh.yaml"),
            ("预防未成年人犯罪法知识", "delinquency_prevention.zh.yaml"),
            ("未成年人保护法知识", "minors_protection.zh.yaml"),
            ("防欺凌防诈骗知识", "bullying_fraud.zh.yaml"),
            ("本局民法典题", "自编.xlsx"),
            ("综合题库", "综合.csv"),
        ):
            bank = QuestionBankRow(
                name=name, source_filename=filename, content_sha256="x", question_count=0
            )
            session.add(bank)
            await session.flush()
            banks[name] = bank.id
        plan = {
            "宪法两库": (["宪法知识（2018年修正文本）", "宪法补充题"], "constitution"),
            "宪法和禁毒": (["宪法知识（2018年修正文本）", "禁毒知识"], "other"),
            "未成年人两法": (["预防未成年人犯罪法知识", "未成年人保护法知识"], "minors"),
            "防欺凌防诈骗": (["防欺凌防诈骗知识"], "anti_fraud"),
            "民法典": (["本局民法典题"], "civil_code"),
            "综合": (["综合题库"], "other"),
            "题库已删": ([], "other"),
        }
        campaigns = {}
        for name, (bank_names, _theme) in plan.items():
            campaign = CampaignRow(
                name=name,
                bank_ids=[banks[b] for b in bank_names] or [9999],
                questions=5,
                opens_at=now,
                closes_at=now + timedelta(days=7),
                theme="anti_drug",  # gone with the column on the way down
            )
            session.add(campaign)
            await session.flush()
            campaigns[name] = campaign.id
        lecture = LectureRow(
            title="宪法公开课",
            speaker="法治副校长",
            starts_at=now,
            ends_at=now + timedelta(hours=1),
            audience={},
            created_by=1,
        )
        session.add(lecture)
        await session.flush()

        def article(title: str, **extra: object) -> ArticleRow:
            row = ArticleRow(
                title=title, body="正文", audience={}, author_id=1, link_secret="s", **extra
            )
            session.add(row)
            return row

        plain = article("普法文章", theme="civil_code")
        await session.flush()
        notice = article("公开课通知", lecture_id=lecture.id, theme="anti_drug")
        reminder = article("提醒阅读", reminder_of=plain.id, theme="anti_drug")
        await session.commit()
        articles = {"plain": plain.id, "notice": notice.id, "reminder": reminder.id}

    await downgrade(engine, "0031@-1")
    async with engine.connect() as connection:

        def names(sync: object) -> tuple[set[str], set[str]]:
            inspector = inspect(sync)
            return (
                {c["name"] for c in inspector.get_columns("articles")},
                {c["name"] for c in inspector.get_columns("campaigns")},
            )

        article_columns, campaign_columns = await connection.run_sync(names)
    assert "theme" not in article_columns and "theme" not in campaign_columns
    await upgrade(engine)

    async with session_factory() as session:
        rows = await session.execute(select(CampaignRow.name, CampaignRow.theme))
        themes = {name: theme for name, theme in rows}
        assert themes == {name: theme for name, (_banks, theme) in plan.items()}
        article_rows = await session.execute(select(ArticleRow.id, ArticleRow.theme))
        by_id = {article_id: theme for article_id, theme in article_rows}
        assert by_id[articles["plain"]] == "other"
        assert by_id[articles["notice"]] == "constitution"  # a lecture's notice: 宪法
        assert by_id[articles["reminder"]] == "other"  # its article's


# ---------------------------------------------------------------------- use cases


@pytest.fixture
async def world(session_factory: async_sessionmaker[AsyncSession]) -> World:
    world = await build_world(session_factory)
    async with session_factory() as session:
        made = UnitOfWork.over(session)
        for name, filename in (
            ("宪法小题库", "constitution.zh.yaml"),
            ("禁毒小题库", "禁毒.yaml"),
            ("禁毒拓展题库", "禁毒2.yaml"),
        ):
            await made.banks.import_bank(
                replace(SMALL_BANK, name=name),
                source_filename=filename,
                content_sha256=name,
                imported_by=None,
            )
        await made.commit()
    return world


@pytest.fixture
async def uow(session_factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[UnitOfWork]:
    async with session_factory() as session:
        yield UnitOfWork.over(session)


async def test_a_draft_is_about_what_its_poster_chose_else_other(
    world: World, uow: UnitOfWork
) -> None:
    async def draft(theme: Theme | None) -> Theme:
        made = await create_draft(
            uow,
            title="禁毒宣传",
            body="正文",
            link=None,
            photo_file_id=None,
            photo_bytes=None,
            author_id=1,
            viewer=ADMIN,
            **({"theme": theme} if theme else {}),
        )
        assert made is not None
        stored = await uow.publicity.article(made.id)
        assert stored is not None and stored.theme is made.theme
        return made.theme

    assert await draft(None) is Theme.OTHER
    assert await draft(Theme.ANTI_DRUG) is Theme.ANTI_DRUG


async def test_a_notice_and_a_reminder_take_their_lecture_and_article_theme(
    world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    school = next(iter(world.schools.values()))
    async with session_factory() as session:
        lectures = LectureRepository(session)
        publicity = PublicityRepository(session)

        async def notice_of(theme: Theme | None) -> Theme:
            lecture = await lectures.create(
                title="公开课",
                speaker="法治副校长",
                starts_at=now,
                ends_at=now + timedelta(hours=1),
                link=None,
                audience=Audience(frozenset({school.id})),
                created_by=1,
                zone=SHANGHAI,
                **({"theme": theme} if theme else {}),
            )
            notice = await publicity.create_article(
                title="通知", body="正文", author_id=1, lecture_id=lecture.id
            )
            return notice.theme

        assert await notice_of(Theme.ANTI_DRUG) is Theme.ANTI_DRUG
        assert await notice_of(None) is Theme.CONSTITUTION  # the lecture kind's usual one
        article = await publicity.create_article(
            title="禁毒", body="正文", author_id=1, theme=Theme.ANTI_DRUG
        )
        reminder = await publicity.create_article(
            title="请阅读", body="正文", author_id=1, reminder_of=article
        )
        assert reminder.theme is Theme.ANTI_DRUG
        await session.rollback()


def answers(name: str, banks: list[str]) -> dict[str, object]:
    now = datetime.now(UTC)
    return {
        "name": name,
        "banks": banks,
        "questions": 5,
        "time_per_question": None,
        "time_per_attempt": None,
        "attempts": 1,
        "pass_mark": 60,
        "feedback": "each",
        "partial_credit": False,
        "opens": f"{(now + timedelta(days=1)).astimezone(SHANGHAI):%Y-%m-%d %H:%M}",
        "closes": f"{(now + timedelta(days=8)).astimezone(SHANGHAI):%Y-%m-%d %H:%M}",
        "audience": {"units": ["129团"], "roles": ["student"]},
        "certificate": True,
    }


async def test_a_campaign_is_about_its_banks_theme_unless_staff_chose_one(
    world: World, uow: UnitOfWork
) -> None:
    async def created(name: str, banks: list[str], theme: Theme | None = None) -> Theme:
        made = await create_from_answers(
            uow,
            answers(name, banks),
            zone=SHANGHAI,
            viewer=ADMIN,
            created_by=1,
            clock=fixed_clock(datetime.now(UTC)),
            scheduler=None,
            **({"theme": theme} if theme else {}),
        )
        assert not isinstance(made, CampaignNotCreated | SetupRefusal), made
        stored = await uow.campaigns.get(made.campaign.id)
        assert stored is not None and stored.theme is made.campaign.theme
        return made.campaign.theme

    assert await created("宪法答题", ["宪法小题库"]) is Theme.CONSTITUTION
    assert await created("禁毒答题", ["禁毒小题库", "禁毒拓展题库"]) is Theme.ANTI_DRUG
    assert await created("综合答题", ["宪法小题库", "禁毒小题库"]) is Theme.OTHER
    chosen = await created("国家安全日答题", ["宪法小题库"], Theme.NATIONAL_SECURITY)
    assert chosen is Theme.NATIONAL_SECURITY


# ---------------------------------------------------------------------- command line


def test_theme_at_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.cli import main

    monkeypatch.chdir(tmp_path)
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("PUFA_DATABASE_URL", url)
    monkeypatch.setenv("PUFA_DEFAULT_LOCALE", "zh-CN")
    post = tmp_path / "post.md"
    post.write_text("---\ntitle: 禁毒宣传\n---\n珍爱生命", encoding="utf-8")
    runner = CliRunner()
    bad = runner.invoke(main, ["article", "create", str(post), "--theme", "毒品"])
    assert bad.exit_code == 2
    assert "“毒品”不是可选的主题" in bad.output
    assert "禁毒 / anti-drug" in bad.output and "其他 / other" in bad.output
    made = runner.invoke(main, ["article", "create", str(post), "--theme", "禁毒教育"])
    assert made.exit_code == 0, made.output
    plain = runner.invoke(main, ["article", "create", str(post)])
    assert plain.exit_code == 0, plain.output

    spec = tmp_path / "campaign.yaml"
    spec.write_text(
        "name: 宪法卫士\nbanks: [宪法小题库]\nquestions: 5\n"
        "opens: 2099-01-01 08:00\ncloses: 2099-01-08 08:00\n",
        encoding="utf-8",
    )
    refused = runner.invoke(main, ["campaign", "create", str(spec), "--theme", "环保"])
    assert refused.exit_code == 2 and "“环保”不是可选的主题" in refused.output

    import asyncio

    from storage.database import create_engine, create_session_factory

    async def stored() -> tuple[list[str], list[str]]:
        engine = create_engine(url)
        try:
            async with create_session_factory(engine)() as session:
                articles = list(await session.scalars(select(ArticleRow.theme)))
                campaigns = list(await session.scalars(select(CampaignRow.theme)))
        finally:
            await engine.dispose()
        return articles, campaigns

    articles, campaigns = asyncio.run(stored())
    assert sorted(articles) == ["anti_drug", "other"] and campaigns == []


# ---------------------------------------------------------------------- the calendar


def test_a_key_date_offers_its_theme_with_the_title() -> None:
    _ = Translator.load().bind("zh-CN")
    post = offer_of(CalendarCb(action="post", code="anti_drug_day", year=2027), _)
    assert post is not None and post.theme is Theme.ANTI_DRUG
    assert post.title == _.plain("calendar.article.anti_drug_day", year=2027)
    campaign = offer_of(CalendarCb(action="campaign", code="constitution_day", year=2027), _)
    assert campaign is not None and campaign.theme is Theme.CONSTITUTION
    assert campaign.title == "2027年“宪法卫士”网络答题"
    assert offer_of(CalendarCb(action="post", code="gone_day", year=2027), _) is None
    assert offer_of(CalendarCb(action="dance", code="anti_drug_day", year=2027), _) is None


# ---------------------------------------------------------------------- the report

THEMES_OF_ARTICLES = (Theme.CONSTITUTION, Theme.ANTI_DRUG, Theme.CONSTITUTION, Theme.MINORS)
THEMES_OF_CAMPAIGNS = (Theme.CONSTITUTION, Theme.ANTI_DRUG)


async def themed_history(session_factory: async_sessionmaker[AsyncSession]) -> Expected:
    """The report's known history, its publicity articles and campaigns given themes."""
    history = await build_history(session_factory)
    publicity = sorted(a for a in history.articles if a not in history.lecture_articles)
    async with session_factory() as session:
        for article_id, theme in zip(publicity, THEMES_OF_ARTICLES, strict=True):
            await session.execute(
                update(ArticleRow).where(ArticleRow.id == article_id).values(theme=theme.value)
            )
        for campaign_id, theme in zip(sorted(history.campaigns), THEMES_OF_CAMPAIGNS, strict=True):
            await session.execute(
                update(CampaignRow).where(CampaignRow.id == campaign_id).values(theme=theme.value)
            )
        await session.commit()
    return history


def counted_by_hand(history: Expected, school: str) -> dict[Theme, ThemeReach]:
    """Every theme figure from the list of what was written (no SQL)."""
    publicity = sorted(a for a in history.articles if a not in history.lecture_articles)
    article_theme = dict(zip(publicity, THEMES_OF_ARTICLES, strict=True))
    campaign_theme_ = dict(zip(sorted(history.campaigns), THEMES_OF_CAMPAIGNS, strict=True))

    def mine(pid: int) -> bool:
        return school == ALL or history.school_of(pid) == school

    articles: dict[Theme, set[int]] = defaultdict(set)
    reached: dict[Theme, set[int]] = defaultdict(set)
    for pid, article, status, test, sent_at in history.deliveries:
        if article not in article_theme or status != "sent" or test or not mine(pid):
            continue
        article_status, publish_at = history.articles[article]
        if article_status == "published" and history.inside(publish_at):
            articles[article_theme[article]].add(article)
        if history.inside(sent_at):
            reached[article_theme[article]].add(pid)
    reads: dict[Theme, int] = defaultdict(int)
    for pid, article, read_at in history.reads:
        if article in article_theme and mine(pid) and history.inside(read_at):
            reads[article_theme[article]] += 1
    campaigns: dict[Theme, set[int]] = defaultdict(set)
    took_part: dict[Theme, set[int]] = defaultdict(set)
    for pid, campaign, started, _status, _passed in history.attempts:
        if mine(pid) and history.inside(started):
            campaigns[campaign_theme_[campaign]].add(campaign)
            took_part[campaign_theme_[campaign]].add(pid)
    found = {}
    for theme in Theme:
        reach = ThemeReach(
            theme,
            len(articles[theme]),
            reads[theme],
            len(reached[theme]),
            len(campaigns[theme]),
            len(took_part[theme]),
        )
        if reach.any:
            found[theme] = reach
    return found


async def compiled(
    session_factory: async_sessionmaker[AsyncSession], school: str | None = None
) -> Statistics:
    async with session_factory() as session:
        repo = StatisticsRepository(session)
        if school is None:
            scope = await repo.root()
        else:
            scope = (await repo.units_matching(school))[0]
        assert scope is not None
        return await repo.compile(
            scope, Period(*PERIOD), SHANGHAI, now=datetime(2023, 6, 1, tzinfo=UTC)
        )


async def test_the_report_counts_articles_and_campaigns_per_theme_as_by_hand(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    history = await themed_history(session_factory)
    stats = await compiled(session_factory)
    by_hand = counted_by_hand(history, ALL)
    assert {t.theme: t for t in stats.themes.themes} == by_hand
    # Sanity of the history: more than one theme has articles, reads and campaigns.
    assert sum(1 for t in by_hand.values() if t.articles and t.reads and t.campaigns) >= 2
    # Things and events add up to the report's totals; people are per theme.
    themes = stats.themes.themes
    assert sum(t.articles for t in themes) == stats.total.articles_published
    assert sum(t.reads for t in themes) == stats.total.reads
    assert sum(t.campaigns for t in themes) == len(stats.campaigns)
    assert max(t.reached for t in themes) <= stats.total.people_reached
    assert sum(t.reached for t in themes) >= stats.total.people_reached
    assert sum(t.took_part for t in themes) >= stats.total.took_part.total

    school = sorted(history.schools)[0]
    at_school = await compiled(session_factory, school)
    assert {t.theme: t for t in at_school.themes.themes} == counted_by_hand(history, school)

    _ = Translator.load().bind("zh-CN").plain
    md = render_markdown(
        stats,
        locale="zh-CN",
        _=_,
        compiled_at=datetime(2023, 1, 2, tzinfo=SHANGHAI),
        scope_kind="division",
        chart="chart.png",
    )
    constitution = by_hand[Theme.CONSTITUTION]
    row = (
        f"| 宪法 | {constitution.articles} | {constitution.reads} | {constitution.reached} "
        f"| {constitution.campaigns} | {constitution.took_part} |"
    )
    assert row in md
    assert "- 主题：" + _("report.definition.theme") in md
    assert "防诈骗 |" not in md  # a theme with nothing is left out


def test_figures_of_a_theme_no_longer_known_count_as_other() -> None:
    figures = ThemeBreakdown.of_rows(
        [("articles", "constitution", 2), ("reads", "retired_theme", 3), ("reads", "other", 1)]
    )
    assert figures.of(Theme.OTHER).reads == 4
    assert figures.of(Theme.CONSTITUTION).articles == 2
    assert figures.of(Theme.ANTI_DRUG) == ThemeReach(Theme.ANTI_DRUG)
    with pytest.raises(ValueError, match="unknown theme figure"):
        ThemeBreakdown.of_rows([("clicks", "other", 1)])
