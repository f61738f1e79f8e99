"""``report.md`` from a Jinja2 template, and ``report.docx`` from that Markdown.

The wording lives in ``bot/templates/report.<locale>.md.j2`` (or a folder of the
bureau's own, ``PUFA_REPORT_TEMPLATES``), so it can be changed without touching code.
The DOCX is built from the rendered Markdown, so both files always say the same thing.
The Markdown understood is the small part a report needs: ``#``/``##``/``###``
headings, paragraphs, ``- `` lists, ``**bold**``, pipe tables, and one image per line
as ``![caption](file.png)``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

from bot.reports import format as fmt
from quizzes.statistics import Statistics

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
_IMAGE = re.compile(r"^!\[(?P<caption>[^\]]*)\]\((?P<name>[^)]+)\)$")
_BOLD = re.compile(r"\*\*(.+?)\*\*")

Text = Callable[[str], str]


def environment(locale: str, extra: Path | None = None) -> Environment:
    loaders = [FileSystemLoader(str(extra))] if extra else []
    env = Environment(
        loader=ChoiceLoader([*loaders, FileSystemLoader(str(TEMPLATES))]),
        undefined=StrictUndefined,
        autoescape=False,  # Markdown, not HTML
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = lambda value: fmt.number(int(value), locale)
    env.filters["pct"] = fmt.percent
    env.filters["day"] = lambda value: fmt.day(value, locale)
    env.filters["moment"] = lambda value: fmt.moment(value, locale)
    env.filters["quoted"] = lambda value: fmt.quoted(str(value), locale)
    env.filters["count"] = lambda value, one, many: fmt.count(int(value), one, many, locale)
    return env


def render_markdown(
    stats: Statistics,
    *,
    locale: str,
    _: Text,
    compiled_at: datetime,
    scope_kind: str,
    chart: str,
    timeline: str | None = None,
    templates: Path | None = None,
    photos: Sequence[tuple[str, str]] = (),
) -> str:
    """``photos``: the appendix's pictures, each a file name and its caption."""
    template = environment(locale, templates).get_template(f"report.{locale}.md.j2")
    context: dict[str, Any] = {
        "stats": stats,
        "period": stats.period,
        "scope_name": stats.scope_name,
        "scope_kind": scope_kind,
        "total": stats.total,
        "schools": stats.schools,
        "elsewhere": stats.elsewhere,
        "campaigns": stats.campaigns,
        # Lecture times in the bureau's time zone, as ``compiled_at`` is given.
        "lectures": tuple(
            replace(lecture, starts_at=lecture.starts_at.astimezone(compiled_at.tzinfo))
            for lecture in stats.lectures
        ),
        "schools_covered": stats.schools_covered,
        "highest": stats.highest(3),
        "lowest": stats.lowest(3),
        "not_started": stats.not_started(),
        "ranked": stats.ranked(),
        "sections": {section.value for section in stats.sections},
        "compiled_at": compiled_at,
        # "截至…": the period's last day, or the day compiled if that is earlier.
        "as_of": min(stats.period.end, compiled_at.date()),
        "chart": chart,
        "timeline": timeline,
        "activities": stats.activities,
        "photos": photos,
        "t": _,
    }
    return template.render(context)


# -- Markdown to DOCX ---------------------------------------------------------------------


def markdown_to_docx(markdown: str, images: Mapping[str, bytes], *, east_asian_font: str) -> bytes:
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    document = Document()
    normal = document.styles["Normal"]
    normal.font.size = Pt(11)
    fonts = normal.element.get_or_add_rPr().get_or_add_rFonts()
    fonts.set(qn("w:eastAsia"), east_asian_font)

    def add_text(paragraph: Any, text: str) -> None:
        for index, piece in enumerate(_BOLD.split(text)):
            if piece:
                paragraph.add_run(piece).bold = index % 2 == 1

    lines = markdown.splitlines()
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            add_text(document.add_paragraph(), "".join(paragraph))
            paragraph.clear()

    index = 0
    while index < len(lines):
        line = lines[index].rstrip()
        stripped = line.strip()
        if not stripped:
            flush()
        elif stripped.startswith("#"):
            flush()
            level = len(stripped) - len(stripped.lstrip("#"))
            document.add_heading(stripped[level:].strip(), level=min(level - 1, 3))
        elif stripped.startswith("|"):
            flush()
            block = []
            while index < len(lines) and lines[index].strip().startswith("|"):
                block.append(lines[index].strip())
                index += 1
            _table(document, block)
            continue
        elif match := _IMAGE.match(stripped):
            flush()
            content = images.get(match["name"])
            if content is not None:
                document.add_picture(io.BytesIO(content), width=Cm(16))
                document.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
            caption = document.add_paragraph(match["caption"])
            caption.alignment = WD_ALIGN_PARAGRAPH.CENTER
        elif stripped.startswith("- "):
            flush()
            add_text(document.add_paragraph(style="List Bullet"), stripped[2:])
        else:
            paragraph.append(stripped)
        index += 1
    flush()
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _table(document: Any, block: list[str]) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    rows = [_cells(line) for line in block]
    alignments: list[str] = []
    if len(rows) > 1 and all(set(cell) <= set(":- ") for cell in rows[1]):
        alignments = ["right" if cell.endswith(":") else "left" for cell in rows[1]]
        del rows[1]
    width = max(len(row) for row in rows)
    table = document.add_table(rows=len(rows), cols=width)
    table.style = "Table Grid"
    for r, row in enumerate(rows):
        for c in range(width):
            text = row[c] if c < len(row) else ""
            cell = table.cell(r, c)
            cell.text = ""
            run = cell.paragraphs[0].add_run(text.replace("**", ""))
            run.bold = r == 0 or text.startswith("**")
            if c < len(alignments) and alignments[c] == "right" and r > 0:
                cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
