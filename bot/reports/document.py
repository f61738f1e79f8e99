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
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

from bot.reports import format as fmt
from quizzes.findings import findings_of
from quizzes.statistics import Statistics
from quizzes.theme_figures import theme_rows

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
        "themes": theme_rows(stats.themes, stats.activities),
        "findings": findings_of(stats),
        "photos": photos,
        "t": _,
    }
    return template.render(context)


# -- Markdown to DOCX ---------------------------------------------------------------------
#
# The layout of a bureau's documents (GB/T 9704-2012, as far as it applies to a section
# of a report): A4 with margins of 37/35/28/26 mm, a title in 方正小标宋 二号, headings
# in 黑体 (一、) and 楷体 (（一）) 三号, the body in 仿宋_GB2312 三号 at a fixed 29 pt
# line pitch (22 lines of 28 characters a page), paragraphs indented by two characters,
# page numbers "— 1 —" at the foot. The fonts are named as the bureau's PCs have them;
# a machine without them shows its own fallback (see ``FALLBACKS``), the document keeps
# the names.


@dataclass(frozen=True, slots=True)
class Face:
    east_asian: str  # the Chinese font the document names
    size_pt: float
    bold: bool = False


TITLE = Face("方正小标宋简体", 22)
HEADING_1 = Face("黑体", 16)
HEADING_2 = Face("楷体_GB2312", 16)
HEADING_3 = Face("仿宋_GB2312", 16, bold=True)
BODY = Face("仿宋_GB2312", 16)
TABLE = Face("仿宋_GB2312", 10.5)  # 五号: a table of schools fits the page's width
CAPTION = Face("黑体", 12)
LATIN = "Times New Roman"
LINE_PITCH_PT = 29
TEXT_WIDTH_MM = 156  # 210 mm less the 28 and 26 mm margins
# Where Word lacks a font it substitutes these (named for the record in docs/).
FALLBACKS = {"方正小标宋简体": "宋体", "仿宋_GB2312": "仿宋", "楷体_GB2312": "楷体"}


def _face(run: Any, face: Face) -> None:
    from docx.oxml.ns import qn
    from docx.shared import Pt

    run.font.size = Pt(face.size_pt)
    run.font.bold = face.bold
    run.font.name = LATIN
    fonts = run._element.get_or_add_rPr().get_or_add_rFonts()
    fonts.set(qn("w:eastAsia"), face.east_asian)
    fonts.set(qn("w:ascii"), LATIN)
    fonts.set(qn("w:hAnsi"), LATIN)


def _pitch(paragraph: Any, *, indent: bool = False, after_pt: float = 0) -> None:
    from docx.enum.text import WD_LINE_SPACING
    from docx.shared import Pt

    layout = paragraph.paragraph_format
    layout.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    layout.line_spacing = Pt(LINE_PITCH_PT)
    layout.space_before = Pt(0)
    layout.space_after = Pt(after_pt)
    if indent:
        layout.first_line_indent = Pt(BODY.size_pt * 2)


def _page(document: Any) -> None:
    """A4 and the margins of 公文; the page number at the foot as "— 1 —"."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Mm

    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    footer = section.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _face(footer.add_run("— "), Face("宋体", 14))
    number = footer.add_run()
    _face(number, Face("宋体", 14))
    for kind, text in (("begin", None), (None, "PAGE"), ("end", None)):
        if kind:
            element = OxmlElement("w:fldChar")
            element.set(qn("w:fldCharType"), kind)
        else:
            element = OxmlElement("w:instrText")
            element.set(qn("xml:space"), "preserve")
            element.text = text
        number._element.append(element)
    _face(footer.add_run(" —"), Face("宋体", 14))


def markdown_to_docx(markdown: str, images: Mapping[str, bytes], *, east_asian_font: str) -> bytes:
    """The report's Markdown as a DOCX in the bureau's layout. ``east_asian_font``: the
    font of the document's default style, for text this writer does not set itself."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt

    document = Document()
    _page(document)
    normal = document.styles["Normal"]
    normal.font.size = Pt(BODY.size_pt)
    normal.font.name = LATIN
    fonts = normal.element.get_or_add_rPr().get_or_add_rFonts()
    fonts.set(qn("w:eastAsia"), east_asian_font)

    def add_text(paragraph: Any, text: str, face: Face = BODY) -> None:
        for index, piece in enumerate(_BOLD.split(text)):
            if piece:
                run = paragraph.add_run(piece)
                _face(run, face)
                run.bold = face.bold or index % 2 == 1

    def heading(text: str, level: int) -> None:
        face = {1: TITLE, 2: HEADING_1, 3: HEADING_2}.get(level, HEADING_3)
        paragraph = document.add_paragraph()
        if level == 1:
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
            paragraph.paragraph_format.space_after = Pt(LINE_PITCH_PT)
            add_text(paragraph, text, face)
            paragraph.paragraph_format.line_spacing = Pt(36)
            return
        _pitch(paragraph, indent=True)
        paragraph.paragraph_format.keep_with_next = True
        add_text(paragraph, text, face)

    lines = markdown.splitlines()
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            body = document.add_paragraph()
            body.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
            _pitch(body, indent=True)
            add_text(body, "".join(paragraph))
            paragraph.clear()

    def caption(text: str) -> None:
        line = document.add_paragraph()
        line.alignment = WD_ALIGN_PARAGRAPH.CENTER
        _pitch(line)
        add_text(line, text, CAPTION)

    index = 0
    while index < len(lines):
        line = lines[index].rstrip()
        stripped = line.strip()
        if not stripped:
            flush()
        elif stripped.startswith("#"):
            flush()
            level = len(stripped) - len(stripped.lstrip("#"))
            heading(stripped[level:].strip(), level)
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
                document.add_picture(io.BytesIO(content), width=Mm(150))
                document.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
                document.paragraphs[-1].paragraph_format.keep_with_next = True
            caption(match["caption"])
        elif _TABLE_CAPTION.match(stripped):
            flush()
            caption(stripped)
            document.paragraphs[-1].paragraph_format.keep_with_next = True
        elif stripped.startswith("- "):
            flush()
            item = document.add_paragraph()
            item.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
            _pitch(item, indent=True)
            add_text(item, stripped[2:])
        else:
            paragraph.append(stripped)
        index += 1
    flush()
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


# "表1　…" / "Table 1. …": a table's caption, centred above it.
_TABLE_CAPTION = re.compile(r"^(表\d+　|Table \d+\. )")


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _text_width(text: str) -> float:
    """Width in ems: a Chinese character is one, a digit or Latin letter about 0.6."""
    return sum(1.0 if ord(char) > 0x2E80 else 0.6 for char in text)


CELL_PADDING_MM = 4.5  # Word's cell margins (1.9 mm a side) and a little air


def column_widths(rows: list[list[str]], em_mm: float) -> list[float]:
    """Millimetres per column: each at least its longest body cell on one line (a
    school's name unbroken) and its heading on two; the table then fills the text width.
    When even that does not fit, the columns shrink in proportion."""
    width = max(len(row) for row in rows)
    wanted = []
    for c in range(width):
        body = [_text_width(row[c].replace("**", "")) for row in rows[1:] if c < len(row)]
        head = math.ceil(_text_width(rows[0][c]) / 2) if c < len(rows[0]) else 0
        wanted.append(max([*body, head, 2.0]) * em_mm + CELL_PADDING_MM)
    return [w * TEXT_WIDTH_MM / sum(wanted) for w in wanted]


def _table(document: Any, block: list[str]) -> None:
    """A pipe table at 五号 across the text width (see :func:`column_widths`)."""
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Mm, Pt

    rows = [_cells(line) for line in block]
    alignments: list[str] = []
    if len(rows) > 1 and all(set(cell) <= set(":- ") for cell in rows[1]):
        alignments = [
            "center"
            if cell.startswith(":") and cell.endswith(":")
            else "right"
            if cell.endswith(":")
            else "left"
            for cell in rows[1]
        ]
        del rows[1]
    width = max(len(row) for row in rows)
    widths = [Mm(w) for w in column_widths(rows, TABLE.size_pt * 25.4 / 72)]
    table = document.add_table(rows=len(rows), cols=width)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    for r, row in enumerate(rows):
        for c in range(width):
            text = row[c] if c < len(row) else ""
            cell = table.cell(r, c)
            cell.width = widths[c]
            cell.text = ""
            paragraph = cell.paragraphs[0]
            paragraph.paragraph_format.space_after = Pt(0)
            run = paragraph.add_run(text.replace("**", ""))
            _face(run, TABLE)
            run.bold = r == 0 or text.startswith("**")
            align = alignments[c] if c < len(alignments) else "left"
            if r == 0 or align == "center":
                paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
            elif align == "right":
                paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    for c, column in enumerate(table.columns):
        column.width = widths[c]
