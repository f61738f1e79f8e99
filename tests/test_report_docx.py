"""The report's DOCX in the layout a bureau files (GB/T 9704 as it applies to a section of
a report), rendered by LibreOffice as Word would print it: fonts named, margins, the
three sections, and no school's name broken or table running off the page."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from docx import Document
from docx.shared import Mm

from bot.i18n import Translator
from bot.reports.compile import REPORT_DOCX, render_files
from bot.reports.document import TEXT_WIDTH_MM
from quizzes.activities import ActivityFigures, ActivityTally, Headcount
from quizzes.statistics import (
    CampaignFigures,
    Period,
    RoleCounts,
    Statistics,
    UnitFigures,
    total_of,
)
from quizzes.themes import Theme
from storage.statistics import SECTIONS

SHANGHAI = ZoneInfo("Asia/Shanghai")
SCHOOLS = (
    "胡杨河市第一中学",
    "一二九团中学",
    "一二九团第一小学",
    "一三一团中学",
    "一三一团中心小学",
    "一三七团九年一贯制学校",
    "一三七团双语学校",
    "一三七团第二小学",
)


def statistics() -> Statistics:
    schools = tuple(
        UnitFigures(
            n,
            name,
            students_enrolled=600 + 37 * n,
            teachers_enrolled=50 + n,
            registered=RoleCounts(student=300 + 11 * n, teacher=40),
            took_part=RoleCounts(student=100 * (n % 4), teacher=10),
            completed=90 * (n % 4),
            passed=80 * (n % 4),
            deliveries=340,
            people_reached=340,
            reads=120,
        )
        for n, name in enumerate(SCHOOLS, start=1)
    )
    total = total_of("合计", schools)
    campaign = CampaignFigures(
        1,
        "2026年“宪法卫士”网络答题",
        datetime(2026, 12, 1, 8, tzinfo=SHANGHAI),
        datetime(2026, 12, 10, 22, tzinfo=SHANGHAI),
        total.took_part,
        total.completed,
        total.passed,
        total.enrolled,
    )
    activities = ActivityFigures(
        (
            ActivityTally(1, "vice_principal_lecture", Theme.MINORS, 1, Headcount(420, 30)),
            ActivityTally(6, "morning_reading", Theme.CONSTITUTION, 3, Headcount(500, 20)),
        ),
        pending=1,
        with_vice_principal=frozenset({1, 6}),
    )
    return Statistics(
        Period(date(2026, 1, 1), date(2026, 12, 31)),
        100,
        "第七师",
        schools,
        None,
        total,
        campaigns=(campaign,),
        sections=SECTIONS,
        activities=activities,
    )


def docx_bytes() -> bytes:
    _ = Translator.load().bind("zh-CN").plain
    files = render_files(
        statistics(),
        "zh-CN",
        _,
        SHANGHAI,
        datetime(2027, 1, 5, 9, tzinfo=SHANGHAI),
        "division",
        None,
        lambda _step: None,
    )
    return files[REPORT_DOCX]


def test_the_docx_names_the_bureau_fonts_and_keeps_tables_within_the_page() -> None:
    document = Document(io.BytesIO(docx_bytes()))
    section = document.sections[0]
    margins = (
        section.top_margin,
        section.bottom_margin,
        section.left_margin,
        section.right_margin,
    )
    assert [round(margin.mm) for margin in margins if margin is not None] == [37, 35, 28, 26]
    xml = document.element.xml
    for font in ("方正小标宋简体", "黑体", "楷体_GB2312", "仿宋_GB2312"):
        assert f'w:eastAsia="{font}"' in xml, font
    # Title, then the three parts a bureau's report has, then the definitions.
    headings = [p.text for p in document.paragraphs if p.text.startswith(("一、", "二、", "三、"))]
    assert headings == ["一、主要做法和成效", "二、存在的问题", "三、下一步工作打算"]
    assert document.paragraphs[0].text == "第七师中小学法治宣传教育工作情况"
    for table in document.tables:
        width = sum(column.width for column in table.columns)
        assert width <= Mm(TEXT_WIDTH_MM) + Mm(0.5)


def soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:  # `make test` installs it; a bare pytest run without it says so
        pytest.fail(
            "LibreOffice is needed to render the report: apt-get install libreoffice-writer-nogui"
        )
    return found


def test_libreoffice_prints_it_without_breaking_a_name_or_a_table(tmp_path: Path) -> None:
    source = tmp_path / "report.docx"
    source.write_bytes(docx_bytes())
    profile = (tmp_path / "profile").as_uri()
    subprocess.run(
        [
            soffice(),
            f"-env:UserInstallation={profile}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    pdf = tmp_path / "report.pdf"
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True)
    pages = int(re.search(r"Pages:\s+(\d+)", info.stdout).group(1))  # type: ignore[union-attr]
    assert 3 <= pages <= 12
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    lines = text.splitlines()
    # Each school's row of the first table: its name unbroken, and the row's last figure
    # (合格人数) on the same line, so the table did not run off the page.
    for n, name in enumerate(SCHOOLS, start=1):
        row = next((line for line in lines if line.strip().startswith(name + " ")), None)
        assert row is not None, name
        assert row.rstrip().endswith(str(80 * (n % 4))), row
    assert "二、存在的问题" in text and "三、下一步工作打算" in text
    assert re.search(r"—\s*1\s*—", text)  # the page number at the foot
