"""The dashboard's campaign page through aiohttp's test client: progress equal to the
report's, item analysis per level with the most chosen wrong answer of the people in
reach, the score distribution, the shortlist's audit trail, too-fast flags, and rights
checked on every request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.application.campaign_page import score_bands
from bot.application.dashboard import campaign_days
from quizzes.attempts import Attempts, Verdict
from quizzes.bank import Level, Question, QuestionBank, QuestionType
from quizzes.campaigns import Audience, Campaign, Rules
from quizzes.statistics import Period, percent_text
from storage.repositories import Repositories
from tests.publicity_chat import ADMIN, COORDINATOR, chat
from tests.publicity_factories import add_people
from tests.test_dashboard import Site, report_figures, site

__all__ = ["chat", "site"]  # the fixtures

TEACHER = 5000  # 班主任 of 七年级1班
FAR_STUDENTS = (4000, 4001)  # 一三七团第一小学: no school of the coordinator's


def _question(stem: str, level: Level, options: tuple[str, ...]) -> Question:
    return Question(QuestionType.SINGLE, stem, options, frozenset({0}), level=level)


BANK = QuestionBank(
    name="看板题库",
    questions=(
        _question("国家宪法日是哪一天？", Level.PRIMARY, ("12月4日", "3月15日", "10月1日")),
        _question("我国的根本法是什么？", Level.PRIMARY, ("宪法", "刑法", "民法典")),
        _question(
            "未成年人保护法保护多大的人？",
            Level.JUNIOR,
            ("未满十八周岁", "未满十六周岁", "未满十四周岁"),
        ),
        _question(
            "全国人大常委会是什么机关？", Level.SENIOR, ("常设机关", "审判机关", "检察机关")
        ),
    ),
)


async def bank_campaign(session_factory: async_sessionmaker[AsyncSession]) -> Campaign:
    async with session_factory() as session:
        repo = Repositories.over(session)
        imported = await repo.banks.import_bank(
            BANK, source_filename="dash.yaml", content_sha256="d", imported_by=None
        )
        now = datetime.now(UTC)
        campaign = await repo.campaigns.create(
            name="宪法卫士看板测试",
            bank_ids=[imported.bank.id],
            rules=Rules(questions=len(BANK.questions), attempts_allowed=1, pass_mark=60),
            opens_at=now - timedelta(minutes=5),
            closes_at=now + timedelta(days=1),
            audience=Audience((), ()),
            created_by=None,
        )
        await session.commit()
    return campaign


@dataclass
class Clock:
    moment: datetime = field(default_factory=lambda: datetime.now(UTC) - timedelta(minutes=4))

    def __call__(self) -> datetime:
        return self.moment


async def played(
    session_factory: async_sessionmaker[AsyncSession],
    campaign: Campaign,
    telegram_id: int,
    pick: Callable[[str], int],
    *,
    fast: bool = False,
) -> None:
    """One attempt to the end: ``pick`` gives the bank option chosen for each stem; a
    fast player answers the moment a question is shown, the others after 20 s."""
    clock = Clock()
    async with session_factory() as session:
        repo = Repositories.over(session)
        person = await repo.participants.by_telegram_id(telegram_id)
        assert person is not None and person.unit_id is not None
        attempts = Attempts(repo.attempts, repo.campaigns, clock=clock)
        started = await attempts.start(
            campaign, person, await repo.units.get(person.unit_id), chat_id=telegram_id
        )
        await repo.commit()
        attempt = started.attempt
        assert attempt is not None
        for seq in range(1, attempt.question_count + 1):
            question = await repo.attempts.question(attempt.id, seq)
            assert question is not None
            if not fast:
                clock.moment += timedelta(seconds=20)
            stem = question.question.stem
            step = await attempts.choose(
                telegram_id, attempt.id, seq, question.order.index(pick(stem))
            )
            await repo.commit()
            assert step.verdict is Verdict.RECORDED


def right(_stem: str) -> int:
    return 0


@dataclass
class Cells(HTMLParser):
    """The page's figures by ``(section id, row, field)``: rows are marked ``data-unit``,
    ``data-question`` or ``data-band``, cells ``data-field``."""

    found: dict[tuple[str, str, str], str] = field(default_factory=dict)
    section: str = ""
    row: str = ""
    cell: tuple[str, str, str] | None = None

    def __post_init__(self) -> None:
        HTMLParser.__init__(self)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "section":
            self.section = attributes.get("id") or attributes.get("data-section") or ""
            self.row = ""
        for key in ("data-unit", "data-question", "data-band", "data-shortlist"):
            if key in attributes:
                self.row = attributes[key] or ""
        if "data-field" in attributes:
            self.cell = (self.section, self.row, attributes["data-field"] or "")
            self.found[self.cell] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "text", "p"):
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.found[self.cell] += data


def cells(html: str) -> dict[tuple[str, str, str], str]:
    parser = Cells()
    parser.feed(html)
    return {key: " ".join(value.split()) for key, value in parser.found.items()}


async def world(site: Site) -> tuple[Campaign, dict[str, int]]:
    """四 people answer: 3000 all right; 3001 fast, right on the 根本法 question only;
    4000 and 4001 (another regiment's school) wrong on the 宪法日 question only, both
    choosing 10月1日, where 3001 chose 3月15日."""
    chat = site.chat
    factory = chat.session_factory
    far = chat.world.classes["三年级1班"].id
    await add_people(factory, FAR_STUDENTS, far)
    await add_people(factory, [TEACHER], chat.world.classes["七年级1班"].id, "teacher")
    campaign = await bank_campaign(factory)
    await played(factory, campaign, 3000, right)
    await played(factory, campaign, 3001, lambda s: 0 if "根本法" in s else 1, fast=True)
    for student in FAR_STUDENTS:
        await played(factory, campaign, student, lambda s: 2 if "宪法日" in s else 0)
    ids = {
        "first": chat.world.schools["胡杨河市第一中学"].id,
        "far": chat.world.schools["一三七团第一小学"].id,
        "class": chat.world.classes["七年级1班"].id,
        "far_class": far,
    }
    return campaign, ids


def period_of(site: Site, campaign: Campaign) -> Period:
    """The campaign's days so far, as its page counts them."""
    zone = site.chat.context.settings.zone
    return campaign_days(campaign, zone, datetime.now(UTC).astimezone(zone).date())


async def question_id(site: Site, stem: str) -> str:
    async with site.chat.session_factory() as session:
        repo = Repositories.over(session)
        bank = await repo.banks.by_name(BANK.name)
        assert bank is not None
        questions = await repo.banks.questions([bank.id])
    return str(next(q.id for q in questions if q.stem == stem))


async def test_the_admins_page_has_the_reports_figures_items_scores_and_flags(
    site: Site,
) -> None:
    campaign, ids = await world(site)
    async with site.make_client() as client:
        await site.login(client, ADMIN)
        page = await client.get(f"/admin/campaigns/{campaign.id}")
        html = await page.text()
        assert page.status == 200, html
        overview = await (await client.get("/admin/")).text()
    assert f'href="/admin/campaigns/{campaign.id}"' in overview  # linked from the overview
    found = cells(html)
    async with site.chat.session_factory() as session:
        (scope,) = await Repositories.over(session).units.roots()
    report = await report_figures(site.chat, scope, period_of(site, campaign))
    total = report.total
    assert [found[("progress", "total", f)] for f in ("enrolled", "registered", "took_part")] == [
        str(total.enrolled),
        str(total.registered.total),
        str(total.took_part.total),
    ]
    assert (found[("progress", "total", "completed")], found[("progress", "total", "passed")]) == (
        str(total.completed),
        str(total.passed),
    )
    (whole,) = report.campaigns
    assert (whole.took_part.total, whole.completed, whole.passed) == (4, 4, 3)  # not vacuous
    assert found[("progress", "", "campaign_total")] == (
        "本活动合计：参与 4 人，完成 4 人，合格 3 人，"
        f"参与率 {percent_text(whole.participation_rate)}"
    )
    # Item analysis: the whole campaign; 宪法日 first (lowest rate), 10月1日 chosen twice.
    day = await question_id(site, "国家宪法日是哪一天？")
    assert found[("items", day, "answers")] == "4"
    assert found[("items", day, "rate")] == "25%"
    assert found[("items", day, "wrong")] == "10月1日 （2 次）"
    assert html.index("小学题目") < html.index("初中题目") < html.index("高中及教职工题目")
    assert html.index("国家宪法日是哪一天？") < html.index("我国的根本法是什么？")
    # Scores: 3001 has 25, the far students 75, 3000 100; as many as completed.
    bands = {band: found[("scores", band, "people")] for band in ("0", "60", "70", "80", "90")}
    assert bands == {"0": "1", "60": "0", "70": "2", "80": "0", "90": "1"}
    assert sum(int(n) for n in bands.values()) == total.completed
    # Flags: 3001 answered all four at once; an admin sees who.
    assert found[("flags", str(ids["class"]), "answers")] == "4"
    assert found[("flags", str(ids["class"]), "people")] == "1"
    assert "p3001（胡杨河市第一中学 · 七年级1班）：4 次" in html
    assert "p3000（" not in html


async def test_a_coordinator_sees_their_schools_part_and_no_other_school(site: Site) -> None:
    campaign, ids = await world(site)
    async with site.make_client() as client:
        await site.login(client, COORDINATOR)
        page = await client.get(f"/admin/campaigns/{campaign.id}/units/{ids['first']}")
        html = await page.text()
        assert page.status == 200, html
        other = await client.get(f"/admin/campaigns/{campaign.id}/units/{ids['far']}")
        assert other.status == 403
        assert "一三七团第一小学" not in await other.text()
        deeper = await client.get(f"/admin/campaigns/{campaign.id}/units/{ids['far_class']}")
        assert deeper.status == 403
        unknown = await client.get("/admin/campaigns/999999")
        assert unknown.status == 404
        mangled = await client.get(f"/admin/campaigns/{campaign.id}/units/1e3")
        assert mangled.status == 404
    found = cells(html)
    assert "本页只统计您负责的范围：胡杨河市第一中学。" in html
    first = site.chat.world.schools["胡杨河市第一中学"]
    report = await report_figures(site.chat, first, period_of(site, campaign))
    (school,) = report.schools
    assert found[("progress", str(first.id), "took_part")] == str(school.took_part.total) == "2"
    assert found[("progress", str(first.id), "passed")] == str(school.passed) == "1"
    # The school's own answers: 3001's 3月15日, not the far school's 10月1日.
    day = await question_id(site, "国家宪法日是哪一天？")
    assert found[("items", day, "answers")] == "2"
    assert found[("items", day, "wrong")] == "3月15日 （1 次）"
    assert sum(int(found[("scores", b, "people")]) for b in ("0", "60", "70", "80", "90")) == 2


async def test_a_teacher_sees_their_class_counts_but_no_names(site: Site) -> None:
    campaign, ids = await world(site)
    async with site.make_client() as client:
        await site.login(client, TEACHER)
        page = await client.get(f"/admin/campaigns/{campaign.id}")
        html = await page.text()
        assert page.status == 200, html
        school = await client.get(f"/admin/campaigns/{campaign.id}/units/{ids['first']}")
        assert school.status == 403
    found = cells(html)
    assert found[("flags", str(ids["class"]), "answers")] == "4"
    assert "p3001" not in html and "p3000" not in html  # flags counted, nobody named
    assert "推荐名单只对教育局工作人员和学校联络员显示。" in html


async def test_students_and_strangers_are_refused(site: Site) -> None:
    campaign, _ids = await world(site)
    reply = await site.chat.say(3000, "/web")
    assert "/admin/login/" not in reply
    async with site.make_client() as client:
        page = await client.get(f"/admin/campaigns/{campaign.id}")
        assert page.status == 401
        assert "宪法卫士看板测试" not in await page.text()


async def test_the_shortlist_shows_who_drew_it_when_and_by_which_rule(site: Site) -> None:
    campaign, _ids = await world(site)
    chat = site.chat
    await chat.say(ADMIN, f"/top 3 {campaign.id}")
    await chat.say(COORDINATOR, f"/top 5 {campaign.id}")
    async with chat.session_factory() as session:
        repo = Repositories.over(session)
        kept = await repo.shortlists.of_campaign(campaign.id)
        (school_list, places), (overall, _places) = kept
        assert overall.scope_unit_id is None and school_list.scope_unit_id is not None
        assert await repo.shortlists.confirm(overall.id, COORDINATOR, datetime.now(UTC))
        await session.commit()
    async with site.make_client() as client:
        await site.login(client, ADMIN)
        html = await (await client.get(f"/admin/campaigns/{campaign.id}")).text()
        await site.login(client, COORDINATOR)
        theirs = await (await client.get(f"/admin/campaigns/{campaign.id}")).text()
    found = cells(html)
    drawn = found[("shortlist", str(overall.id), "drawn")]
    assert drawn.endswith("由 p1 抽取"), drawn
    assert found[("shortlist", str(overall.id), "rule")] == (
        "规则：全部学校前 3 名（学生），每人取最好的一次答卷，须达到合格线 60 分，"
        "依次按得分、用时、交卷先后排序"
    )
    confirmed = found[("shortlist", str(overall.id), "confirmed")]
    assert confirmed.endswith("由 p2 确认为推荐名单，计入工作报告"), confirmed
    assert found[("shortlist", str(school_list.id), "confirmed")].startswith("仅查看")
    assert "胡杨河市第一中学前 5 名（学生）" in found[("shortlist", str(school_list.id), "rule")]
    # Three passed students: 3000 first, the far students after; display names only.
    section = html[html.index('id="shortlist"') : html.index('id="flags"')]
    assert section.index("p3000") < section.index("p4000")
    assert [p.display_name for p in places] == ["p3000"]
    # A coordinator reads the list drawn for their school, not the list of every school.
    assert f'data-shortlist="{school_list.id}"' in theirs
    assert f'data-shortlist="{overall.id}"' not in theirs


def test_scores_fall_in_bands_floored_to_whole_percent() -> None:
    bands = score_bands([0.0, 59.9, 60.0, 89.99, 90.0, 100.0])
    assert [(b.low, b.high, b.people) for b in bands] == [
        (0, 59, 2),
        (60, 69, 1),
        (70, 79, 0),
        (80, 89, 1),
        (90, 100, 2),
    ]
