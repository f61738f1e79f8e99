"""Offline activities: the template as schools fill it in, the all-or-nothing import, the
bureau's review and the figures the report reads, on both databases."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.application.activities import (
    ReviewOutcome,
    appoint_vice_principal,
    import_activities,
    recent_activities,
    record_activity,
    review_activity,
)
from quizzes.activities import ActivityDraft, ActivityStatus, Headcount
from quizzes.activity_import import (
    ActivityImportError,
    activity_template_xlsx,
    parse_activities,
    parse_day,
)
from quizzes.permissions import Permissions
from quizzes.statistics import Period
from quizzes.themes import Theme
from storage.unit_of_work import UnitOfWork
from tests.factories import build_world

NOW = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
ZONE = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 12, 7)
BUREAU = Permissions(is_admin=True)
SHANGHAI = ZoneInfo("Asia/Shanghai")
YEAR = Period(date(2026, 1, 1), date(2026, 12, 31))


def filled_template(*rows: tuple[Any, ...]) -> bytes:
    """The bundled template with rows appended under its grey examples, as a teacher
    fills it in Excel (the examples left in place)."""
    book = load_workbook(io.BytesIO(activity_template_xlsx()))
    sheet = book["活动记录"]
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


MORNING_READING = (
    datetime(2026, 12, 4),  # a date cell, as Excel stores it
    "宪法晨读",
    "",
    "国家宪法日晨读",
    "129团",
    "胡杨河市第一中学",
    "七年级1班",
    45,
    2,
    None,
    None,
    None,
)
VICE_PRINCIPAL_LECTURE = (
    "2026/9/1",
    "法治副校长讲座",
    "未成年人保护",
    "开学第一课",
    "129团",
    "胡杨河市第一中学",
    "",
    "420",
    30,
    0,
    "王某某",
    "第七师中级人民法院",
)


# --------------------------------------------------------------------------- the file


@pytest.mark.parametrize(
    ("cell", "day"),
    [
        ("2026-09-01", date(2026, 9, 1)),
        ("2026/9/1", date(2026, 9, 1)),
        ("2026.9.1", date(2026, 9, 1)),
        ("2026年9月1日", date(2026, 9, 1)),
        ("2026-09-01 00:00:00", date(2026, 9, 1)),  # a date cell, read as text
        (46266, date(2026, 9, 1)),  # Excel's day number in a cell formatted as number
        ("9月1日", None),  # no year: which one?
        ("2026-02-30", None),
        ("明天", None),
        (3.5, None),
    ],
)
def test_days_are_read_as_teachers_write_them(cell: Any, day: date | None) -> None:
    assert parse_day(cell) == day


def test_the_template_reads_back_with_its_examples_skipped() -> None:
    rows = parse_activities(
        filled_template(MORNING_READING, VICE_PRINCIPAL_LECTURE), "活动.xlsx", today=TODAY
    )
    assert [(r.kind, r.theme, r.held_on, r.class_name) for r in rows] == [
        ("morning_reading", Theme.CONSTITUTION, date(2026, 12, 4), "七年级1班"),
        ("vice_principal_lecture", Theme.MINORS, date(2026, 9, 1), ""),
    ]
    assert rows[0].headcount == Headcount(45, 2, 0)
    assert rows[1].headcount.total == 450
    assert rows[1].speaker_organisation == "第七师中级人民法院"


def test_every_problem_is_named_by_row_and_column() -> None:
    bad = filled_template(
        ("2026-12-25", "宪法晨读", "", "圣诞晨读", "129团", "胡杨河市第一中学", "", 10, 0, 0),
        ("2026-10-10", "讲座", "", "无主讲人的讲座", "129团", "胡杨河市第一中学", "", 10, 0, 0),
        ("2026-10-11", "跳绳", "体育", "@全体同学", "129团", "胡杨河市第一中学", "", -3),
        ("2026-10-12", "主题班会", "", "人数全空", "129团", "胡杨河市第一中学", "", 0, 0, 0),
    )
    with pytest.raises(ActivityImportError) as caught:
        parse_activities(bad, "活动.xlsx", today=TODAY)
    found = {(p.row, p.column, p.code) for p in caught.value.problems}
    assert found == {
        (4, "日期", "date_in_future"),
        (5, "主讲人", "missing_speaker"),
        (6, "活动类型", "unknown_kind"),
        (6, "主题", "unknown_theme"),
        (6, "活动名称", "formula_like"),
        (6, "学生人数", "negative_count"),
        (7, None, "nobody_counted"),
    }


def test_a_file_without_the_header_says_so() -> None:
    book = Workbook()
    sheet: Any = book.active
    sheet.append(["姓名", "班级"])
    out = io.BytesIO()
    book.save(out)
    with pytest.raises(ActivityImportError) as caught:
        parse_activities(out.getvalue(), "x.xlsx", today=TODAY)
    assert [p.code for p in caught.value.problems] == ["no_header"]


def test_a_csv_from_excel_in_gb18030_is_read() -> None:
    text = (
        "日期,活动类型,活动名称,团场,学校,学生人数\n"
        "2026-12-04,宪法宣誓,宣誓仪式,129团,胡杨河市第一中学,300\n"
    )
    rows = parse_activities(text.encode("gb18030"), "活动.csv", today=TODAY)
    assert [(r.kind, r.headcount.students) for r in rows] == [("oath", 300)]


# --------------------------------------------------------------------------- the database


async def test_an_import_is_all_or_nothing_and_once(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await build_world(session_factory)
    unknown = (*MORNING_READING[:4], "129团", "不存在的学校", "", 5, 0, 0, None, None)
    async with session_factory() as session:
        uow = UnitOfWork.over(session)
        with pytest.raises(ActivityImportError) as caught:
            await import_activities(
                uow,
                filled_template(MORNING_READING, unknown),
                "a.xlsx",
                by=None,
                permissions=BUREAU,
                now=NOW,
                zone=ZONE,
            )
        assert [(p.row, p.code) for p in caught.value.problems] == [(5, "unknown_school")]
        assert await recent_activities(uow) == []

        content = filled_template(MORNING_READING, VICE_PRINCIPAL_LECTURE)
        first = await import_activities(
            uow, content, "a.xlsx", by=None, permissions=BUREAU, now=NOW, zone=ZONE
        )
        again = await import_activities(
            uow, content, "a.xlsx", by=None, permissions=BUREAU, now=NOW, zone=ZONE
        )
    assert (first.recorded, first.already, first.status) == (2, 0, ActivityStatus.CONFIRMED)
    assert (again.recorded, again.already) == (0, 2)
    async with session_factory() as session:
        listed = await recent_activities(UnitOfWork.over(session))
    assert [(x.activity.title, x.unit_label) for x in listed] == [
        ("国家宪法日晨读", "胡杨河市第一中学 · 七年级1班"),
        ("开学第一课", "胡杨河市第一中学"),
    ]


async def test_a_school_records_only_its_own_and_waits_for_the_bureau(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    world = await build_world(session_factory)
    school = world.schools["胡杨河市第一中学"]
    other = world.schools["一三一团中学"]
    coordinator = Permissions(coordinator_of=frozenset({school.id}))
    async with session_factory() as session:
        uow = UnitOfWork.over(session)
        foreign = (*MORNING_READING[:4], "131团", "一三一团中学", "", 5, 0, 0, None, None)
        with pytest.raises(ActivityImportError) as caught:
            await import_activities(
                uow,
                filled_template(foreign),
                "a.xlsx",
                by=None,
                permissions=coordinator,
                now=NOW,
                zone=ZONE,
            )
        assert [p.code for p in caught.value.problems] == ["not_your_school"]

        draft = ActivityDraft(
            "class_meeting",
            Theme.ANTI_BULLYING,
            date(2026, 11, 20),
            "拒绝校园欺凌主题班会",
            world.classes["七年级2班"].id,
            Headcount(44, 1, 0),
        )
        recorded = await record_activity(
            uow, draft, recorder=None, permissions=coordinator, now=NOW, zone=ZONE
        )
        refused = await record_activity(
            uow,
            ActivityDraft(
                "oath", Theme.CONSTITUTION, date(2026, 12, 4), "宣誓", other.id, Headcount(9)
            ),
            recorder=None,
            permissions=coordinator,
            now=NOW,
            zone=ZONE,
        )
        assert recorded.activity is not None
        assert recorded.activity.status is ActivityStatus.PENDING
        assert refused.activity is None and refused.problems == (("not_your_school", {}),)
        root = (await uow.units.roots())[0]
        waiting = (await uow.statistics.compile(root, YEAR, SHANGHAI)).activities
        assert (waiting.tallies, waiting.pending, waiting.events) == ((), 1, 0)  # not yet

        denied, _ = await review_activity(
            uow, recorded.activity.id, confirm=True, by=None, permissions=coordinator, now=NOW
        )
        outcome, confirmed = await review_activity(
            uow, recorded.activity.id, confirm=True, by=None, permissions=BUREAU, now=NOW
        )
        assert denied is ReviewOutcome.NOT_ALLOWED
        assert outcome is ReviewOutcome.DONE and confirmed is not None
        [tally] = (await uow.statistics.compile(root, YEAR, SHANGHAI)).activities.tallies
    assert (tally.school_id, tally.kind, tally.theme, tally.events) == (
        school.id,
        "class_meeting",
        Theme.ANTI_BULLYING,
        1,
    )
    assert tally.headcount == Headcount(44, 1, 0)


async def test_a_vice_principal_is_appointed_once_and_serves_from_the_day(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    world = await build_world(session_factory)
    school = world.schools["一三一团中学"]
    async with session_factory() as session:
        uow = UnitOfWork.over(session)
        first = await appoint_vice_principal(
            uow, "131团 一三一团中学", "李某", "一三一团派出所", date(2026, 3, 1)
        )
        again = await appoint_vice_principal(
            uow, "一三一团中学", "李某", "一三一团派出所", date(2026, 3, 1)
        )
        missing = await appoint_vice_principal(uow, "不存在", "李某", "法院", date(2026, 3, 1))
        before = await uow.vice_principals.serving([school.id], date(2026, 2, 28))
        [serving] = await uow.vice_principals.serving([school.id], date(2026, 12, 1))
    assert (first.added, first.school_label) == (True, "一三一团中学")
    assert (again.added, missing.school_label, missing.candidates) == (False, "", ())
    assert before == []
    assert (serving.name, serving.organisation_kind) == ("李某", "公安")


def test_every_problem_the_import_can_name_has_a_message_in_both_languages() -> None:
    import re
    from pathlib import Path

    from bot.i18n import SUPPORTED_LOCALES, load_catalog
    from quizzes import activity_import
    from quizzes.roster import parse_count

    root = Path(__file__).resolve().parents[1]
    sources = [
        Path(activity_import.__file__).read_text(encoding="utf-8"),
        (root / "bot" / "application" / "activities.py").read_text(encoding="utf-8"),
    ]
    codes = {
        code
        for source in sources
        for code in re.findall(
            r'(?:ActivityProblem\(\s*|fail\((?:\w+|"\w+"), )"([a-z_]+)"', source
        )
    }
    codes |= {"not_a_number", "not_an_integer", "negative_count", "count_too_large"}
    codes |= {"unreadable_file", "bad_encoding", "too_many_rows"}  # from the table reader
    assert parse_count("x") == ("not_a_number", {"value": "x"})
    assert {"unknown_kind", "unknown_school", "missing_speaker"} <= codes
    for locale in SUPPORTED_LOCALES:
        catalog = load_catalog(locale)
        assert sorted(c for c in codes if f"activity.problem.{c}" not in catalog) == []


# --------------------------------------------------------------------------- the report


async def test_the_report_counts_confirmed_activities_and_names_what_waits(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """Counted by hand: two confirmed events at 第一中学 (45+2 and 420+30 attendances,
    one a 法治副校长 lecture), one waiting at the same school, a 法治副校长 at 一三一团中学."""
    from zoneinfo import ZoneInfo

    from bot.reports.compile import XLSX, compile_report

    world = await build_world(session_factory)
    school = world.schools["胡杨河市第一中学"]
    async with session_factory() as session:
        uow = UnitOfWork.over(session)
        await import_activities(
            uow,
            filled_template(MORNING_READING, VICE_PRINCIPAL_LECTURE),
            "a.xlsx",
            by=None,
            permissions=BUREAU,
            now=NOW,
            zone=ZONE,
        )
        await record_activity(
            uow,
            ActivityDraft(
                "contest",
                Theme.CONSTITUTION,
                date(2026, 12, 5),
                "宪法手抄报比赛",
                school.id,
                Headcount(200),
            ),
            recorder=None,
            permissions=Permissions(coordinator_of=frozenset({school.id})),
            now=NOW,
            zone=ZONE,
        )
        await appoint_vice_principal(
            uow, "一三一团中学", "李某", "一三一团派出所", date(2026, 3, 1)
        )
        root = (await uow.units.roots())[0]
    files = await compile_report(
        session_factory,
        root,
        YEAR,
        zone=ZoneInfo("Asia/Shanghai"),
        locale="zh-CN",
        compiled_at=NOW,
    )
    md = files.files["report.md"].decode("utf-8")
    assert "开展线下法治宣传教育活动2场，参与497人次，其中学生465人次、教职工32人次。" in md
    assert "按活动类型分，法治副校长讲座1场（450人次）、宪法晨读1场（47人次）。" in md
    assert "按主题分，宪法1场、未成年人保护1场。" in md
    assert "另有学校录入的1项活动待教育局确认，未计入以上数字。" in md
    assert "3所学校中，1所学校配备了法治副校长，统计期间法治副校长到校开展法治讲座1场。" in md
    assert "| 胡杨河市第一中学 | 2 | 497 | 465 | 否 | 1 |" in md
    assert "| 一三一团中学 | 0 | 0 | 0 | 是 | 0 |" in md
    assert "- 线下活动：活动日期在统计期间内、经教育局确认" in md

    book = load_workbook(io.BytesIO(files.files[XLSX]))
    per_school = [[c.value for c in row] for row in book["线下活动"].iter_rows()]
    assert per_school[1] == ["胡杨河市第一中学", 2, 497, 465, 32, 0, None, 1]
    assert per_school[-1] == ["合计", 2, 497, 465, 32, 0, 1, 1]
    kinds = [[c.value for c in row][:3] for row in book["活动类型"].iter_rows()]
    assert kinds[1:] == [["法治副校长讲座", 1, 450], ["宪法晨读", 1, 47], ["合计", 2, 497]]

    # The demo's own check agrees, and would see one event missing from the report.
    from dataclasses import replace

    from bot.demo_report import check_activities

    said: list[str] = []
    async with session_factory() as session:
        assert await check_activities(session, files.statistics, said.append)
        short = replace(
            files.statistics,
            activities=replace(
                files.statistics.activities, tallies=files.statistics.activities.tallies[1:]
            ),
        )
        assert not await check_activities(session, short, said.append)

    english = await compile_report(
        session_factory,
        root,
        YEAR,
        zone=ZoneInfo("Asia/Shanghai"),
        locale="en",
        compiled_at=NOW,
    )
    text = english.files["report.md"].decode("utf-8")
    assert "Schools held 2 confirmed offline legal-education activities, attended 497" in text
    assert "1 school has a legal vice-principal (of 3); they gave 1 lecture" in text


def jpeg(width: int, height: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


async def test_the_docx_ends_with_the_photos_of_confirmed_activities(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    from zoneinfo import ZoneInfo

    from docx import Document
    from PIL import Image

    from bot.reports.compile import REPORT_DOCX, compile_report

    world = await build_world(session_factory)
    school = world.schools["胡杨河市第一中学"]
    draft = ActivityDraft(
        "oath",
        Theme.CONSTITUTION,
        date(2026, 12, 4),
        "宪法宣誓[七年级]",
        world.classes["七年级1班"].id,
        Headcount(45, 1),
    )
    async with session_factory() as session:
        uow = UnitOfWork.over(session)
        await record_activity(
            uow,
            draft,
            recorder=None,
            permissions=BUREAU,
            now=NOW,
            zone=ZONE,
            photos=[("file-1", jpeg(4000, 3000)), ("file-2", b"not a picture")],
        )
        waiting = await record_activity(  # not confirmed: its photo stays out
            uow,
            ActivityDraft(
                "visit", Theme.CONSTITUTION, date(2026, 12, 5), "参观", school.id, Headcount(9)
            ),
            recorder=None,
            permissions=Permissions(coordinator_of=frozenset({school.id})),
            now=NOW,
            zone=ZONE,
            photos=[("file-3", jpeg(300, 200))],
        )
        assert waiting.activity is not None
        root = (await uow.units.roots())[0]
    files = await compile_report(
        session_factory,
        root,
        YEAR,
        zone=ZoneInfo("Asia/Shanghai"),
        locale="zh-CN",
        compiled_at=NOW,
    )
    md = files.files["report.md"].decode("utf-8")
    appendix = md.split("## 附：活动照片")[1]
    caption = "图2　胡杨河市第一中学　2026年12月4日　宪法宣誓［七年级］"
    assert f"![{caption}](activity-photo-01.jpg)" in appendix
    assert "activity-photo-02" not in md  # the file that was no picture is left out
    with Image.open(io.BytesIO(files.files["activity-photo-01.jpg"])) as kept:
        assert kept.size == (1280, 960)
    document = Document(io.BytesIO(files.files[REPORT_DOCX]))
    assert len(document.inline_shapes) == 2  # the chart and the one photo
    assert document.paragraphs[-1].text == caption
