"""The report section: every figure in every file against the history's own count.

The history (tests.report_world) is counted in Python, independently of the SQL; the
report is compiled through ``pufa report`` as the bureau would, and read back with
python-docx, openpyxl, csv and Pillow. Then the same from chat and on a schedule.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import docx
import pytest
from aiogram import Dispatcher
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.methods import AnswerCallbackQuery, SendDocument
from click.testing import CliRunner
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.factory import create_dispatcher
from bot.fonts import missing_glyphs
from bot.i18n import Translator
from bot.reports import format as fmt
from bot.reports.chart import chart_font, participation_chart
from bot.reports.compile import CSV, REPORT_MD, XLSX, render_files
from bot.reports.jobs import compile_scheduled_report, plan_reports
from bot.scheduler import Scheduler
from bot.services import ServiceContext
from handlers.reports import ReportCb, parse_period
from quizzes.participants import GrantKind
from quizzes.statistics import (
    CampaignFigures,
    LectureFigures,
    Period,
    RoleCounts,
    Statistics,
    UnitFigures,
    total_of,
)
from storage.models_reports import ReportVersionRow
from storage.repositories import Repositories
from storage.statistics import SECTIONS
from tests.mocked_bot import MockedBot, callback_update, text_update, user
from tests.report_world import ALL, NAME_PREFIX, SHANGHAI, Expected, build_history

ADMIN_ID = 9000


def half_up(part: int, whole: int) -> float:
    """``part / whole`` as a percentage with one decimal, 四舍五入, in integers only."""
    return (part * 2000 + whole) // (2 * whole) / 10


def pct(part: int, whole: int) -> str:
    return f"{half_up(part, whole):.1f}%" if whole else "—"


def lecture_start(history: Expected) -> Callable[[int], tuple[datetime, int]]:
    return lambda lecture_id: (history.lectures[lecture_id][2], lecture_id)


def expected_row(history: Expected, school: str) -> tuple[int, int, int, str, int]:
    unit = history.schools[school]
    quiz = history.quiz(school)
    enrolled = unit.students_enrolled + unit.teachers_enrolled
    staff = len(quiz["took_part_student"]) + len(quiz["took_part_teacher"])
    return enrolled, len(quiz["took_part"]), staff, pct(staff, enrolled), len(quiz["passed"])


@pytest.fixture
async def history(session_factory: async_sessionmaker[AsyncSession]) -> Expected:
    return await build_history(session_factory)


def run_report(database_url: str, out: Path, *extra: str) -> None:
    from bot.cli import main

    result = CliRunner().invoke(
        main,
        ["report", "--from", "2022-01-01", "--to", "2022-12-31", "--out", str(out), *extra],
        env={"PUFA_DATABASE_URL": database_url},
    )
    assert result.exit_code == 0, result.output


def docx_text(path: Path) -> str:
    document = docx.Document(str(path))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        parts.extend(cell.text for row in table.rows for cell in row.cells)
    return "\n".join(parts)


def test_every_figure_in_every_file(database_url: str, history: Expected, tmp_path: Path) -> None:
    tmp_path = tmp_path / "out"
    run_report(database_url, tmp_path, "--unit", "ROOT")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "participation-by-day.png",
        "participation.csv",
        "participation.png",
        "participation.xlsx",
        "report.docx",
        "report.md",
    ]
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    quiz = history.quiz(ALL)
    enrolled = sum(u.students_enrolled + u.teachers_enrolled for u in history.schools.values())
    staff = len(quiz["took_part_student"]) + len(quiz["took_part_teacher"])
    covered = sum(1 for name in history.schools if history.quiz(name)["took_part"])
    took = len(quiz["took_part"])
    # The headline sentence, in the bureau's own words: people take part in a quiz (not
    # "开展…答题N人"), and 覆盖 is kept for whom the articles reached.
    who = "师生和家长" if quiz["took_part_parent"] else "师生"
    assert (
        f"组织{who}{took}人参加“宪法卫士”网络答题，涉及{covered}所学校，"
        f"参与率{pct(staff, enrolled)}"
    ) in md
    assert "组织开展" not in md and md.count("覆盖") == md.count("覆盖人数") + 1
    # A division's title; the date of the figures in a footnote at the end, not the body.
    assert md.startswith("# 第七师中小学法治宣传教育工作情况\n")
    assert "本节数据由" not in md and "生成（" not in md
    assert md.rstrip().endswith("（数据来源：“普法助手”系统统计，截至2022年12月31日。）")
    assert "“宪法卫士2022春”、“宪法卫士2022秋”" in md
    completed, passed_ = len(quiz["completed"]), len(quiz["passed"])
    assert completed != took  # so that the rate below tells the two denominators apart
    assert f"完成答题{completed}人，成绩合格{passed_}人，合格率{pct(passed_, completed)}。" in md
    registered = [history.registered(ALL, role) for role in ("student", "teacher", "parent")]
    assert registered[2] > 0
    assert "注册的学生{}人、教职工{}人、家长{}人".format(*registered) in md
    students = sum(u.students_enrolled for u in history.schools.values())
    assert f"在册学生{students}人" in md
    assert (
        f"推送法治宣传文章{history.published(ALL)}篇，送达{history.delivered(ALL)}人次，"
        f"覆盖{history.reached(ALL)}人；阅读{history.count(history.reads, ALL)}人次，"
        f"点击原文链接{history.count(history.clicks, ALL)}人次"
    ) in md
    held = history.lectures_for(ALL)
    checkins = len(history.lecture_checkins(ALL))
    assert (
        f"举办网络公开课{len(held)}场（"
        + "、".join(
            f"“{history.lectures[lid][0]}”" for lid in sorted(held, key=lecture_start(history))
        )
        + f"），累计签到{checkins}人次（{history.attendees(ALL)}人），"
        f"其中学生{history.attendees(ALL, 'student')}人、"
        f"教职工{history.attendees(ALL, 'teacher')}人"
    ) in md
    for lecture_id, count in held.items():
        assert f"| {history.lectures[lecture_id][0]} | 法治副校长 |" in md
        assert md.count(f"| {history.lectures[lecture_id][0]} |") == 1
        row = next(
            line
            for line in md.splitlines()
            if history.lectures[lecture_id][0] in line and line.startswith("|")
        )
        assert row.endswith(f"| {count} |")
    assert "取消的公开课" not in md and "去年的公开课" not in md
    assert f"遴选优秀学生{history.shortlist(ALL)}名" in md
    # Teachers are on the lists confirmed in the period but not counted, and a student
    # on a list only looked at is not counted either.
    confirmed = {pid for pid, at in history.shortlisted if history.inside(at)}
    assert any(history.role_of(pid) != "student" for pid in confirmed)
    viewed = {pid for pid, at in history.shortlisted if at is None}
    assert any(history.role_of(pid) == "student" for pid in viewed - confirmed)
    for name in history.schools:
        enrolled_, took_, _staff, rate, passed = expected_row(history, name)
        assert f"| {name} | {enrolled_} | {took_} | {rate} | {passed} |" in md
        assert (
            f"| {name} | {history.delivered(name)} | {history.reached(name)} | "
            f"{history.count(history.reads, name)} | {len(history.lecture_checkins(name))} | "
            f"{history.attendees(name)} |"
        ) in md
    for campaign_id, name in history.campaigns.items():
        c = history.quiz(ALL, campaign_id)
        row = f"| {name} | {len(c['took_part'])} | {len(c['completed'])} | {len(c['passed'])} |"
        assert row in md

    # DOCX: opens, holds the per-school table and the chart.
    document = docx.Document(str(tmp_path / "report.docx"))
    table = document.tables[0]
    assert [c.text for c in table.rows[0].cells] == [
        "学校",
        "在册人数",
        "参与人数",
        "参与率",
        "合格人数",
    ]
    body = {row.cells[0].text: [c.text for c in row.cells[1:]] for row in table.rows[1:]}
    for name in history.schools:
        enrolled_, took_, _staff, rate, passed = expected_row(history, name)
        assert body[name] == [str(enrolled_), str(took_), rate, str(passed)]
    assert body["合计"][1] == str(took)
    assert len(document.inline_shapes) == 2  # participation by school, and by day
    assert "参与率" in docx_text(tmp_path / "report.docx")

    # XLSX: one sheet per breakdown, frozen header, widths set, numbers as numbers.
    book = load_workbook(tmp_path / "participation.xlsx")
    assert book.sheetnames == ["概要", "按学校", "按身份", "按答题活动", "网络公开课", "统计口径"]
    sheet = book["按学校"]
    assert sheet.freeze_panes == "A2"
    header = [cell.value for cell in sheet[1]]
    rows = {r[0]: dict(zip(header, r, strict=True)) for r in sheet.iter_rows(2, values_only=True)}
    for name, unit in history.schools.items():
        row = rows[name]
        enrolled_, took_, staff_, _rate, passed = expected_row(history, name)
        assert row["在册学生"] == unit.students_enrolled and isinstance(row["在册学生"], int)
        assert row["参与人数"] == took_ and row["合格人数"] == passed
        assert row["参与率"] == half_up(staff_, enrolled_) / 100
        assert row["送达（人次）"] == history.delivered(name)
        assert row["阅读（人次）"] == history.count(history.reads, name)
        assert row["点击链接（人次）"] == history.count(history.clicks, name)
        assert row["注册学生"] == history.registered(name, "student")
        assert row["入选学生"] == history.shortlist(name)
        assert row["覆盖人数"] == history.reached(name)
        assert row["公开课签到（人次）"] == len(history.lecture_checkins(name))
        assert row["公开课参加人数"] == history.attendees(name)
    assert rows["合计"]["参与人数"] == took
    assert rows["合计"]["推送文章（篇）"] == history.published(ALL)
    assert rows["合计"]["覆盖人数"] == history.reached(ALL)
    assert rows["合计"]["公开课签到（人次）"] == checkins
    lectures_sheet = list(book["网络公开课"].iter_rows(min_row=2, values_only=True))
    assert {(r[0], r[3]) for r in lectures_sheet} == {
        (history.lectures[lid][0], count) for lid, count in held.items()
    }
    summary = {r[0]: r[1] for r in book["概要"].iter_rows(min_row=2, values_only=True)}
    assert summary["网络公开课（场）"] == len(held)
    role_rows = list(book["按身份"].iter_rows(min_row=2, values_only=True))
    for name in history.schools:
        for role, label in (("student", "学生"), ("teacher", "教职工"), ("parent", "家长")):
            (found,) = [r for r in role_rows if r[0] == name and r[1] == label]
            assert found[4] == history.attendees(name, role)
    rate_cell = sheet.cell(2, header.index("参与率") + 1)
    assert rate_cell.number_format == "0.0%"
    assert all(sheet.column_dimensions[c].width > 8 for c in "ABC")

    # CSV: UTF-8 with a BOM, the same figures.
    raw = (tmp_path / "participation.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    table_rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    by_name = {r["学校"]: r for r in table_rows}
    for name in history.schools:
        enrolled_, took_, staff_, _rate, passed = expected_row(history, name)
        assert int(by_name[name]["参与人数"]) == took_
        assert float(by_name[name]["参与率 (%)"]) == half_up(staff_, enrolled_)
        assert int(by_name[name]["送达（人次）"]) == history.delivered(name)
        assert int(by_name[name]["覆盖人数"]) == history.reached(name)
        assert int(by_name[name]["公开课签到（人次）"]) == len(history.lecture_checkins(name))
        assert int(by_name[name]["公开课参加人数"]) == history.attendees(name)
    assert int(by_name["合计"]["参与人数"]) == took
    assert int(by_name["合计"]["公开课签到（人次）"]) == checkins

    with Image.open(tmp_path / "participation.png") as image:
        assert image.format == "PNG" and image.width > 600

    # Aggregates only: no participant's name anywhere.
    everything = md + docx_text(tmp_path / "report.docx") + raw.decode("utf-8-sig")
    for ws in book.worksheets:
        everything += " ".join(str(c) for row in ws.iter_rows(values_only=True) for c in row)
    assert NAME_PREFIX not in everything


def test_english_report(database_url: str, history: Expected, tmp_path: Path) -> None:
    tmp_path = tmp_path / "out"
    run_report(database_url, tmp_path, "--locale", "en")
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    took = len(history.quiz(ALL)["took_part"])
    covered = sum(1 for name in history.schools if history.quiz(name)["took_part"])
    assert (
        f'{took} people from {covered} schools took part in the "Constitution Guardian" online'
        in md
    )
    # One noun agrees with its number; the title and the date as in the Chinese report.
    assert md.startswith("# Legal education in the schools of 第七师\n")
    assert "articles: " in md and "Period: 1 January 2022 to 31 December 2022.\n" in md
    assert md.rstrip().endswith("(Source: Pufa Bot's records, as of 31 December 2022.)")
    assert "In no school" not in md and "No school assigned" in md
    assert "Table 1." in md and "## Appendix: what is counted" in md
    assert "## 2. Problems" in md and "## 3. Next steps" in md
    held = history.lectures_for(ALL)
    assert (
        f"{len(held)} online lectures were held" in md
        and f"with {len(history.lecture_checkins(ALL))} check-ins by "
        f"{history.attendees(ALL)} people"
        in md
    )
    assert f"{history.delivered(ALL)} deliveries reaching {history.reached(ALL)} people" in md
    assert load_workbook(tmp_path / "participation.xlsx").sheetnames[0] == "Summary"


def test_unknown_unit_is_a_clear_error(database_url: str, history: Expected) -> None:
    from bot.cli import main

    args = ["--from", "2022-01-01", "--to", "2022-12-31", "--unit", "没有这个学校", "--out", "x"]
    result = CliRunner().invoke(
        main,
        ["report", *args],
        env={"PUFA_DATABASE_URL": database_url},
    )
    assert result.exit_code != 0 and "没有这个学校" in result.output


@pytest.mark.parametrize(
    ("start", "end", "said"),
    [
        ("2022-13-01", "2022-12-31", "“2022-13-01”不是有效的日期"),
        ("2022-02-01", "2022-01-01", "结束日期（2022年1月1日）早于开始日期（2022年2月1日）"),
    ],
)
def test_the_report_command_line_explains_bad_dates_from_the_catalog(
    database_url: str, start: str, end: str, said: str
) -> None:
    from bot.cli import main

    result = CliRunner().invoke(
        main,
        ["report", "--from", start, "--to", end, "--out", "x"],
        env={"PUFA_DATABASE_URL": database_url},
    )
    assert result.exit_code != 0 and said in result.output
    assert "month" not in result.output and "before it starts" not in result.output


def _statistics(names: list[str]) -> Statistics:
    schools = tuple(
        UnitFigures(n, name, students_enrolled=100, took_part=RoleCounts(student=n * 10))
        for n, name in enumerate(names, start=1)
    )
    period = Period(date(2022, 1, 1), date(2022, 12, 31))
    return Statistics(period, 1, "第七师", schools, None, UnitFigures(None, "合计"))


def test_the_chart_draws_chinese_not_boxes() -> None:
    from matplotlib.figure import Figure

    names = ["胡杨河市第一中学", "一三一团中学", "一三七团第一小学"]
    _ = Translator.load().bind("zh-CN").plain
    path, family = chart_font()
    # The font has every character the chart writes...
    text = "".join([*names, _("report.chart.title"), _("report.chart.axis")])
    assert missing_glyphs(path, text) == []
    # ...matplotlib finds no glyph missing while drawing the chart...
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        png = participation_chart(_statistics(names), _)
    assert png.startswith(b"\x89PNG")

    # ...and different characters come out as different shapes (boxes would all match).
    def draw(text: str) -> bytes:
        figure = Figure(figsize=(1, 1), dpi=50)
        figure.text(0.1, 0.3, text, family=family, fontsize=30)
        out = io.BytesIO()
        figure.savefig(out, format="raw")
        return out.getvalue()

    shapes = {draw(char) for char in "胡杨河团学"}
    assert len(shapes) == 5
    # A character the font lacks is reported, so the silence above means something.
    with pytest.warns(UserWarning, match="missing from font"):
        box = draw("\U0010fffd")
    assert draw("胡") != box


# -- in chat --------------------------------------------------------------------------


@pytest.fixture
def dp(session_factory: async_sessionmaker[AsyncSession]) -> Dispatcher:
    settings = Settings(bot_token="42:TEST-token", admin_ids=frozenset({ADMIN_ID}))
    return create_dispatcher(
        settings, session_factory, storage=MemoryStorage(), events_isolation=SimpleEventIsolation()
    )


def documents(bot: MockedBot, chat_id: int) -> list[SendDocument]:
    return [
        m for m in bot.recorder.requests if isinstance(m, SendDocument) and m.chat_id == chat_id
    ]


def filenames(sent: list[SendDocument]) -> list[str]:
    return [getattr(m.document, "filename", "") or "" for m in sent]


async def test_report_and_reports_in_chat(
    dp: Dispatcher,
    session_factory: async_sessionmaker[AsyncSession],
    history: Expected,
) -> None:
    bot = MockedBot()
    admin = user(ADMIN_ID, first_name="局里")
    await dp.feed_update(bot, text_update(admin, "/report 2022-01-01 2022-12-31"))
    sent = documents(bot, ADMIN_ID)
    assert filenames(sent) == [
        "report-20220101-20221231.docx",
        "participation-20220101-20221231.xlsx",
    ]
    took = len(history.quiz(ALL)["took_part"])
    assert sent[0].caption is not None and f"答题参与{took}人" in sent[0].caption
    assert (
        f"送达{history.delivered(ALL)}人次、覆盖{history.reached(ALL)}人；"
        f"举办网络公开课{len(history.lectures_for(ALL))}场，"
        f"累计签到{len(history.lecture_checkins(ALL))}人次。"
    ) in sent[0].caption
    # The DOCX sent is a real document with the school table.
    content = sent[0].document.data  # type: ignore[union-attr]
    assert docx.Document(io.BytesIO(content)).tables[0].rows[0].cells[0].text == "学校"

    async with session_factory() as session:
        versions = list(await session.scalars(select(ReportVersionRow)))
    assert [(v.trigger, v.compiled_by, v.period_start) for v in versions] == [
        ("chat", ADMIN_ID, date(2022, 1, 1))
    ]

    bot.clear()
    await dp.feed_update(bot, text_update(admin, "/reports"))
    assert bot.last_markup_data() == [ReportCb(id=versions[0].id).pack()]
    await dp.feed_update(bot, callback_update(admin, ReportCb(id=versions[0].id).pack()))
    assert filenames(documents(bot, ADMIN_ID)) == [
        "report-20220101-20221231.docx",
        "participation-20220101-20221231.xlsx",
    ]

    bot.clear()
    await dp.feed_update(bot, text_update(admin, "/export 2022"))
    (csv_sent,) = documents(bot, ADMIN_ID)
    assert filenames([csv_sent]) == ["participation-20220101-20221231.csv"]
    data = csv_sent.document.data  # type: ignore[union-attr]
    rows = {r["学校"]: r for r in csv.DictReader(io.StringIO(data.decode("utf-8-sig")))}
    assert int(rows["合计"]["参与人数"]) == took


async def test_a_coordinator_reports_on_their_own_school_only(
    dp: Dispatcher,
    session_factory: async_sessionmaker[AsyncSession],
    history: Expected,
) -> None:
    school = history.schools["一三一团中学"]
    async with session_factory() as session:
        repo = Repositories.over(session)
        coordinator = await repo.participants.get_or_create(7001, "zh-CN")
        await repo.grants.grant(coordinator.id, GrantKind.COORDINATOR, school.id, granted_by=1)
        await session.commit()
    bot = MockedBot()
    await dp.feed_update(bot, text_update(user(7001), "/report 2022"))
    sent = documents(bot, 7001)
    assert len(sent) == 2
    book = load_workbook(io.BytesIO(sent[1].document.data))  # type: ignore[union-attr]
    names = [row[0] for row in book["按学校"].iter_rows(min_row=2, values_only=True)]
    assert names == ["一三一团中学", "合计"]
    assert book["按学校"].cell(2, 7).value == len(history.quiz("一三一团中学")["took_part"])

    # The admin's version is not theirs to fetch.
    await dp.feed_update(bot, text_update(user(ADMIN_ID), "/report 2022"))
    async with session_factory() as session:
        admin_version = await session.scalar(
            select(ReportVersionRow.id).where(ReportVersionRow.compiled_by == ADMIN_ID)
        )
    assert admin_version is not None
    bot.clear()
    await dp.feed_update(bot, callback_update(user(7001), ReportCb(id=admin_version).pack()))
    assert documents(bot, 7001) == []
    alerts = [m for m in bot.recorder.requests if isinstance(m, AnswerCallbackQuery)]
    assert alerts and alerts[-1].show_alert


async def test_students_may_not_compile_reports(dp: Dispatcher, history: Expected) -> None:
    bot = MockedBot()
    await dp.feed_update(bot, text_update(user(7002), "/report"))
    assert "只有教育局管理员和学校联络员" in bot.sent_texts(7002)[-1]
    assert documents(bot, 7002) == []


def test_periods_from_chat() -> None:
    today = date(2026, 3, 5)
    assert parse_period(None, today) == Period(date(2026, 1, 1), today)
    assert parse_period("2022", today) == Period(date(2022, 1, 1), date(2022, 12, 31))
    assert parse_period("2022-03-01 2022-03-31", today).days == 31
    for bad in ("2022-13-01 2022-12-31", "yesterday", "2022-02-01 2022-01-01"):
        with pytest.raises(ValueError):
            parse_period(bad, today)


def test_a_report_on_this_year_ends_today_not_on_31_december() -> None:
    december_7 = date(2026, 12, 7)
    assert parse_period("2026", december_7) == Period(date(2026, 1, 1), december_7)
    assert parse_period("2026-11-01 2027-01-31", december_7).end == december_7
    with pytest.raises(ValueError):
        parse_period("2027", december_7)  # nothing to count yet
    # Even a period given by the command line says "截至" the day it was compiled.
    stats = _school_statistics([(16, 13)], period=Period(date(2026, 1, 1), date(2026, 12, 31)))
    md = render(stats, compiled_at=datetime(2026, 12, 7, 10, 0, tzinfo=SHANGHAI))
    assert "截至2026年12月7日，" in md and "截至2026年12月31日" not in md


@pytest.mark.parametrize(
    "args",
    [
        "2022-13-01 2022-12-31",  # "month must be in 1..12"
        "2022-02-30 2022-03-01",  # "day is out of range for month"
        "2022-02-01 2022-01-01",  # "the period ends … before it starts"
        "2022-1-1 2022-12-31",
        "2022 2023 2024",
        "2099",
    ],
)
async def test_bad_dates_are_explained_in_chinese_without_english(
    dp: Dispatcher, history: Expected, args: str
) -> None:
    bot = MockedBot()
    for command in ("/report", "/export"):
        bot.clear()
        await dp.feed_update(bot, text_update(user(ADMIN_ID), f"{command} {args}"))
        (reply,) = bot.sent_texts(ADMIN_ID)
        assert documents(bot, ADMIN_ID) == []
        words = reply.replace(command, "")
        assert re.search(r"[A-Za-z]", words) is None, reply
        assert re.search(r"[\u4e00-\u9fff]", words), reply


def _school_statistics(rows: list[tuple[int, int]], *, period: Period | None = None) -> Statistics:
    """Schools 甲校, 乙校... with (enrolled students, students who took part) each; all
    who took part completed, and all but one passed."""
    schools = tuple(
        UnitFigures(
            n,
            f"{'甲乙丙丁戊己'[n - 1]}校",
            students_enrolled=enrolled,
            took_part=RoleCounts(student=took),
            completed=took,
            passed=max(took - 1, 0),
        )
        for n, (enrolled, took) in enumerate(rows, start=1)
    )
    period = period or Period(date(2022, 1, 1), date(2022, 12, 31))
    total = total_of("合计", schools)
    return Statistics(period, 1, "第七师", schools, None, total, sections=SECTIONS)


def render(
    stats: Statistics,
    *,
    compiled_at: datetime | None = None,
    locale: str = "zh-CN",
    scope_kind: str = "division",
) -> str:
    files = render_files_of(stats, compiled_at=compiled_at, locale=locale, scope_kind=scope_kind)
    return files[REPORT_MD].decode("utf-8")


def render_files_of(
    stats: Statistics,
    *,
    compiled_at: datetime | None = None,
    locale: str = "zh-CN",
    scope_kind: str = "division",
) -> dict[str, bytes]:
    _ = Translator.load().bind(locale).plain
    moment = compiled_at or datetime(2023, 1, 5, 9, 0, tzinfo=SHANGHAI)
    return render_files(stats, locale, _, SHANGHAI, moment, scope_kind, None, lambda _k: None)


def test_every_output_rounds_half_up_the_same_way() -> None:
    # 13 of 16 is 81.25%: rounded half to even that is 81.2, half up (四舍五入) 81.3.
    assert fmt.percent(0.8125) == "81.3%" and fmt.percent(0.8125, 0) == "81%"
    assert fmt.percent(0.625, 0) == "63%" and fmt.percent(None) == "—"
    stats = _school_statistics([(16, 13), (16, 3)])
    files = render_files_of(stats)
    md = files[REPORT_MD].decode("utf-8")
    assert "| 甲校 | 16 | 13 | 81.3% | 12 |" in md and "81.2%" not in md
    assert "| 乙校 | 16 | 3 | 18.8% | 2 |" in md
    table = list(csv.DictReader(io.StringIO(files[CSV].decode("utf-8-sig"))))
    assert [row["参与率 (%)"] for row in table] == ["81.3", "18.8", "50.0"]
    book = load_workbook(io.BytesIO(files[XLSX]))
    sheet = book["按学校"]
    header = [cell.value for cell in sheet[1]]
    column = header.index("参与率") + 1
    cells = [sheet.cell(row, column) for row in (2, 3, 4)]
    # Stored rounded, so that Excel's "0.0%" shows 81.3% as the text does.
    assert [cell.value for cell in cells] == [0.813, 0.188, 0.5]
    assert all(cell.number_format == "0.0%" for cell in cells)
    summary = {r[0]: r[1] for r in book["概要"].iter_rows(min_row=2, values_only=True)}
    assert summary["参与率"] == 0.5
    text = docx_text_of(files["report.docx"])
    assert "81.3%" in text and "81.2%" not in text


def docx_text_of(content: bytes) -> str:
    document = docx.Document(io.BytesIO(content))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        parts.extend(cell.text for row in table.rows for cell in row.cells)
    return "\n".join(parts)


def test_pass_rate_is_passed_over_completed_and_is_defined() -> None:
    figures = UnitFigures(1, "甲校", took_part=RoleCounts(student=80), completed=73, passed=62)
    assert figures.pass_rate == pytest.approx(62 / 73)
    school = UnitFigures(
        1,
        "甲校",
        students_enrolled=100,
        took_part=RoleCounts(student=80),
        completed=73,
        passed=62,
    )
    stats = Statistics(
        Period(date(2022, 1, 1), date(2022, 12, 31)),
        1,
        "第七师",
        (school,),
        None,
        total_of("合计", [school]),
        sections=SECTIONS,
    )
    md = render(stats)
    assert "完成答题73人，成绩合格62人，合格率84.9%。" in md
    definitions = md.split("## 附：统计口径")[1]
    assert "- 合格率：合格人数 ÷ 完成人数" in definitions


def test_a_school_with_no_one_taking_part_is_not_among_the_higher() -> None:
    # One school took part, three did not: only the one is "higher".
    md = render(_school_statistics([(10, 5), (10, 0), (10, 0), (10, 0)]))
    (sentence,) = [line for line in md.splitlines() if line.startswith("从各学校情况看")]
    assert sentence == (
        "从各学校情况看，参与率较高的是甲校（50.0%）；3所学校尚未参与（乙校、丙校、丁校）。"
    )
    # What to do about it is drafted in section 三, with the problem in section 二.
    problems, plans = md.split("## 二、存在的问题")[1].split("## 三、下一步工作打算")
    assert "学校之间参与不够均衡。3所学校尚未参与网络答题。" in problems
    assert "对尚未参与的学校加强督促指导" in plans
    # Nobody anywhere: no school is named as higher or lower, and all as not yet taking part.
    md = render(_school_statistics([(10, 0), (10, 0)]))
    assert "参与率较高" not in md and "参与率较低" not in md
    assert "2所学校尚未参与（甲校、乙校）" in md
    # All the same: nobody stands out either way.
    md = render(_school_statistics([(10, 5), (10, 5), (10, 5), (10, 5)]))
    assert "参与率较高" not in md and "参与率较低" not in md
    # Every school took part, none at zero: the sentence reads as before.
    md = render(_school_statistics([(10, 9), (10, 5)]))
    assert "参与率较高的是甲校（90.0%）；参与率较低的是乙校（50.0%）。\n" in md
    assert "对参与率较低的学校加强督促指导" in md.split("## 三、下一步工作打算")[1]


def _many_schools(rates: list[tuple[int, int]]) -> Statistics:
    """Schools 学校01, 学校02... with (enrolled students, students who took part) each."""
    schools = tuple(
        UnitFigures(n, f"学校{n:02}", students_enrolled=enrolled, took_part=RoleCounts(took))
        for n, (enrolled, took) in enumerate(rates, start=1)
    )
    period = Period(date(2022, 1, 1), date(2022, 12, 31))
    return Statistics(period, 1, "第七师", schools, None, total_of("合计", schools))


def test_nine_schools_tied_at_zero_are_all_named_as_not_yet_taking_part() -> None:
    """Regression: nine schools at 0.0% and "参与率较低的是" named three of them, picked by
    name from the tie."""
    stats = _many_schools([(100, 30), (100, 20), (100, 15), (100, 10), (100, 5), *[(100, 0)] * 9])
    md = render(stats)
    (sentence,) = [line for line in md.splitlines() if line.startswith("从各学校情况看")]
    zero = "、".join(f"学校{n:02}" for n in range(6, 15))
    assert f"9所学校尚未参与（{zero}）" in sentence
    assert "（0.0%）" not in sentence
    assert "参与率较高的是学校01（30.0%）" in sentence
    assert "参与率较低的是学校05（5.0%）、学校04（10.0%）；" in sentence
    assert sentence.endswith(
        "参与率较低的是学校05（5.0%）、学校04（10.0%）；" + f"9所学校尚未参与（{zero}）。"
    )
    assert "对参与率较低和尚未参与的学校加强督促指导" in md.split("## 三、下一步工作打算")[1]
    english = render(stats, locale="en")
    assert f"9 schools have not taken part yet: {zero.replace('、', ', ')}." in english


def test_a_tie_at_the_cut_is_named_whole_or_not_at_all() -> None:
    # Four schools tie at 10%: "the lowest three" would be three of the four at random.
    stats = _many_schools([(100, 50), (100, 40), (100, 30), *[(100, 10)] * 4])
    assert [s.name for s in stats.lowest(3)] == ["学校04", "学校05", "学校06", "学校07"]
    assert [s.name for s in stats.highest(3)] == ["学校01", "学校02", "学校03"]
    # A tie across the cut behind a lower school is left out, not cut in two.
    stats = _many_schools([(100, 90), (100, 80), (100, 70), (100, 60), (100, 5), *[(100, 8)] * 3])
    assert [s.name for s in stats.lowest(3)] == ["学校05"]


def test_the_rate_axis_ends_near_the_highest_rate() -> None:
    """Regression: the axis ran to 100% whatever the rates, so 2% and 7% were slivers."""
    from bot.reports.chart import rate_ceiling

    assert rate_ceiling([7.3, 2.0, 0.4]) == 10.0
    assert rate_ceiling([1.2]) == 5.0 and rate_ceiling([]) == 5.0
    assert rate_ceiling([45.0, 3.0]) == 60.0
    assert rate_ceiling([81.3]) == 100.0 and rate_ceiling([100.0]) > 100.0


def test_the_second_chart_shows_each_day_of_a_campaign_of_several_days() -> None:
    two_days = ((date(2022, 5, 4), 3), (date(2022, 5, 5), 0))
    files = render_files_of(replace(_school_statistics([(10, 3), (10, 1)]), daily=two_days))
    assert files["participation-by-day.png"].startswith(b"\x89PNG")
    md = files[REPORT_MD].decode("utf-8")
    assert "![图2　“宪法卫士”网络答题每日参与人数](participation-by-day.png)" in md
    assert len(docx.Document(io.BytesIO(files["report.docx"])).inline_shapes) == 2
    # One day is the headline figure again: no chart of it.
    one_day = replace(_school_statistics([(10, 3), (10, 1)]), daily=two_days[:1])
    files = render_files_of(one_day)
    assert "participation-by-day.png" not in files
    assert "图2" not in files[REPORT_MD].decode("utf-8")


def test_the_report_reads_as_a_bureau_writes_it() -> None:
    school = UnitFigures(
        1,
        "胡杨河市第一中学",
        students_enrolled=100,
        teachers_enrolled=10,
        registered=RoleCounts(student=60, teacher=8),
        took_part=RoleCounts(student=40, teacher=5),
        completed=45,
        passed=40,
        lecture_checkins=12,
        lecture_attendees=RoleCounts(student=10, teacher=2),
    )
    campaign = CampaignFigures(
        7,
        "2026年“宪法卫士”网络答题",
        datetime(2026, 12, 1, tzinfo=SHANGHAI),
        datetime(2026, 12, 20, tzinfo=SHANGHAI),
        RoleCounts(student=40, teacher=5),
        45,
        40,
        110,
    )
    lecture = LectureFigures(
        3, "宪法与未成年人保护", "法治副校长", datetime(2026, 12, 4, 15, 0), 12
    )
    stats = Statistics(
        Period(date(2026, 1, 1), date(2026, 12, 31)),
        1,
        "胡杨河市第一中学",
        (school,),
        None,
        total_of("合计", [school]),
        campaigns=(campaign,),
        sections=SECTIONS,
        lectures=(lecture,),
    )
    md = render(
        stats, compiled_at=datetime(2026, 12, 7, 8, 55, tzinfo=SHANGHAI), scope_kind="school"
    )
    # A school's title says 学校 once; a division's says 中小学.
    assert md.startswith("# 胡杨河市第一中学法治宣传教育工作情况\n")
    # People take part in a quiz; a name with its own quotation marks gets no more.
    assert "活动1场（2026年“宪法卫士”网络答题），组织师生45人参加“宪法卫士”网络答题" in md
    assert "“2026年“" not in md
    # No category at zero; check-ins as a bureau counts them.
    assert "家长" not in md.split("## 二")[0]
    assert "，共12人签到参加，其中学生10人、教职工2人。" in md and "人次参加" not in md
    # The date of the figures in a footnote, not the minute in the body.
    assert "08:55" not in md and "本节数据由" not in md
    assert md.rstrip().endswith("（数据来源：“普法助手”系统统计，截至2026年12月7日。）")
    # 覆盖 is what the articles reached, never the quiz's schools.
    assert "覆盖1所学校" not in md and "涉及1所学校" in md


def test_the_english_report_agrees_in_number() -> None:
    """Regression: "The school enrol …" and "published 1 legal-education articles"."""
    school = UnitFigures(
        1,
        "School One",
        students_enrolled=1,
        teachers_enrolled=1,
        registered=RoleCounts(student=1, teacher=1),
        took_part=RoleCounts(student=1),
        completed=1,
        passed=1,
        articles_published=1,
        deliveries=1,
        people_reached=1,
        reads=1,
        clicks=1,
    )
    lecture = LectureFigures(3, "The Constitution", "A judge", datetime(2022, 5, 4, 15, 0), 1)
    stats = Statistics(
        Period(date(2022, 1, 1), date(2022, 12, 31)),
        1,
        "School One",
        (school,),
        None,
        replace(total_of("Total", [school]), lecture_checkins=1, lecture_attendees=RoleCounts(1)),
        sections=SECTIONS,
        lectures=(lecture,),
    )
    md = render(stats, locale="en", scope_kind="school")
    assert md.startswith("# Legal education at School One\n")
    assert "The school enrols 1 student and 1 teacher." in md
    assert "1 student and 1 teacher had registered" in md
    assert "1 person from 1 school took part" in md
    assert "1 student and 0 teachers." in md
    assert "published 1 legal-education article: 1 delivery reaching 1 person, 1 read and" in md
    assert "1 read and 1 link click." in md
    assert '1 online lecture was held ("The Constitution"), with 1 check-in by 1 person' in md
    assert " 1 students" not in md and " 1 articles" not in md and " 1 people" not in md


# -- on a schedule ----------------------------------------------------------------------


async def test_scheduled_report_goes_to_admins_and_is_kept(
    database_url: str,
    session_factory: async_sessionmaker[AsyncSession],
    history: Expected,
) -> None:
    async with session_factory() as session:
        repo = Repositories.over(session)
        granted = await repo.participants.get_or_create(8001, "en")
        await repo.grants.grant(granted.id, GrantKind.ADMIN, None, granted_by=ADMIN_ID)
        gone = await repo.participants.get_or_create(8002, "zh-CN")
        await repo.grants.grant(gone.id, GrantKind.ADMIN, None, granted_by=ADMIN_ID)
        await repo.participants.set_blocked(8002, datetime.now(UTC))
        await session.commit()
    settings = Settings(
        bot_token="42:TEST-token", database_url=database_url, admin_ids=frozenset({ADMIN_ID})
    )
    bot = MockedBot()
    context = ServiceContext(settings, session_factory, bot, Translator.load())
    await compile_scheduled_report(context, period="month")
    assert len(documents(bot, ADMIN_ID)) == 2 and len(documents(bot, 8001)) == 2
    assert documents(bot, 8002) == []
    assert "Scheduled report" in (documents(bot, 8001)[0].caption or "")
    async with session_factory() as session:
        kept = list(
            await session.scalars(select(ReportVersionRow).order_by(ReportVersionRow.locale))
        )
        count = await session.scalar(select(func.count()).select_from(ReportVersionRow))
    assert count == 2 and [v.locale for v in kept] == ["en", "zh-CN"]
    assert all(v.trigger == "scheduled" and v.compiled_by is None for v in kept)
    assert kept[0].period_start.day == 1  # the previous calendar month


async def test_report_jobs_follow_the_setting(
    database_url: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    settings = Settings(bot_token="42:TEST-token", report_cron="0 8 * * 1; 0 8 1 * *")
    monday = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)
    context = ServiceContext(settings, session_factory, MockedBot(), Translator.load())
    scheduler = Scheduler(context, clock=lambda: monday)
    scheduler.add_planner(plan_reports)
    await scheduler.plan()
    assert scheduler.upcoming() == [
        ("report-1-week", datetime(2026, 3, 9, 8, 0, tzinfo=SHANGHAI)),
        ("report-2-month", datetime(2026, 4, 1, 8, 0, tzinfo=SHANGHAI)),
    ]


async def test_the_demo_check_agrees_with_the_report(
    session_factory: async_sessionmaker[AsyncSession], history: Expected
) -> None:
    from bot.demo_report import check_report
    from storage.statistics import StatisticsRepository

    said: list[str] = []
    async with session_factory() as session:
        repo = StatisticsRepository(session)
        root = await repo.root()
        assert root is not None
        stats = await repo.compile(root, Period(date(2022, 1, 1), date(2022, 12, 31)), SHANGHAI)
        assert await check_report(session, stats, SHANGHAI, said.append)
    assert said[0].startswith(f"  {len(history.lectures_for(ALL))} lecture(s) held")


def test_the_chart_names_a_day_as_each_language_writes_it() -> None:
    from bot.reports.format import month_abbr

    day = date(2026, 12, 4)
    translator = Translator.load()
    params = {"month": day.month, "day": day.day, "month_name": month_abbr(day)}
    assert translator.get("zh-CN", "report.timeline.day", **params) == "12月4日"
    assert translator.get("en", "report.timeline.day", **params) == "4 Dec"
