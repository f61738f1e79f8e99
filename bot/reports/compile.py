"""Compile a report: count in SQL, then render every file in a worker thread."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import Translator
from quizzes.activities import ReportPhoto
from quizzes.statistics import Period, Statistics
from quizzes.units import Unit
from storage.activities import ActivityRepository
from storage.statistics import StatisticsRepository

REPORT_MD = "report.md"
REPORT_DOCX = "report.docx"
XLSX = "participation.xlsx"
CSV = "participation.csv"
PNG = "participation.png"
TIMELINE_PNG = "participation-by-day.png"  # only when a campaign ran in the period
FILE_NAMES = (REPORT_MD, REPORT_DOCX, XLSX, CSV, PNG, TIMELINE_PNG)

# step key (report.progress.<key>), steps done, steps in all
Progress = Callable[[str, int, int], None]
_STEPS = (
    "quiz",
    "quiz_campaigns",
    "daily",
    "reach",
    "publicity",
    "engagement",
    "registration",
    "web",
    "attendance",
    "shortlist",
    "enrolment",
    "campaigns",
    "broadcasts",
    "lectures",
    "activities",
    "activities_pending",
    "vice_principals",
    "theme_articles",
    "theme_campaigns",
    "chart",
    "document",
    "tables",
)
_EAST_ASIAN_FONT = "SimSun"


class ScopeError(LookupError):
    """No unit matches the scope asked for, or more than one does."""


@dataclass(frozen=True)
class ReportFiles:
    statistics: Statistics
    locale: str
    compiled_at: datetime
    files: dict[str, bytes]

    def write(self, folder: Path) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for name, content in self.files.items():
            path = folder / name
            path.write_bytes(content)
            written.append(path)
        return written


async def resolve_scope(session: AsyncSession, unit: str) -> Unit:
    """``ROOT`` (the one root of the tree), a unit id, or a unit name."""
    repo = StatisticsRepository(session)
    if unit.upper() == "ROOT":
        root = await repo.root()
        if root is None:
            raise ScopeError("the unit tree has no single root; give a unit id")
        return root
    matches = await repo.units_matching(unit)
    if len(matches) != 1:
        raise ScopeError(
            f"no unit {unit!r}" if not matches else f"{len(matches)} units match {unit!r}"
        )
    return matches[0]


async def compile_report(
    session_factory: async_sessionmaker[AsyncSession],
    scope: Unit,
    period: Period,
    *,
    zone: ZoneInfo,
    locale: str,
    translator: Translator | None = None,
    templates: Path | None = None,
    progress: Progress | None = None,
    compiled_at: datetime | None = None,
) -> ReportFiles:
    translator = translator or Translator.load()
    _ = translator.bind(locale).plain
    compiled_at = compiled_at or datetime.now(UTC)
    done = 0

    def step(key: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(_(f"report.progress.{key}"), done, len(_STEPS))

    async with session_factory() as session:
        stats = await StatisticsRepository(session).compile(
            scope, period, zone, total_name=_("report.column.total"), progress=step
        )
        photos = await ActivityRepository(session).report_photos(scope, period)
    files = await asyncio.to_thread(
        render_files,
        stats,
        locale,
        _,
        zone,
        compiled_at,
        scope.kind.value,
        templates,
        step,
        photos,
    )
    return ReportFiles(stats, locale, compiled_at, files)


def render_files(
    stats: Statistics,
    locale: str,
    _: Callable[[str], str],
    zone: ZoneInfo,
    compiled_at: datetime,
    scope_kind: str,
    templates: Path | None,
    step: Callable[[str], None],
    photos: Sequence[ReportPhoto] = (),
) -> dict[str, bytes]:
    """Every file of the report, from the statistics and the appendix's photos (no
    database here)."""
    from bot.reports import format as fmt
    from bot.reports.chart import participation_chart, timeline_chart
    from bot.reports.document import markdown_to_docx, render_markdown
    from bot.reports.tables import participation_csv, participation_xlsx

    local = compiled_at.astimezone(zone)
    png = participation_chart(stats, _)
    timeline = timeline_chart(stats, _)
    images = {PNG: png, **({TIMELINE_PNG: timeline} if timeline is not None else {})}
    names = {school.unit_id: school.name for school in stats.schools}
    appendix: list[tuple[str, str]] = []
    for photo in photos:
        picture = fit_photo(photo.content)
        if picture is None:
            continue
        name = f"activity-photo-{len(appendix) + 1:02d}.jpg"
        images[name] = picture
        school = names.get(photo.school_id, "")
        caption = f"{school}　{fmt.day(photo.held_on, locale)}　{photo.title}"
        # A bracket would end the caption of Markdown's ![caption](file).
        appendix.append((name, caption.replace("[", "［").replace("]", "］")))
    step("chart")
    markdown = render_markdown(
        stats,
        locale=locale,
        _=_,
        compiled_at=local,
        scope_kind=scope_kind,
        chart=PNG,
        timeline=TIMELINE_PNG if timeline is not None else None,
        templates=templates,
        photos=appendix,
    )
    docx = markdown_to_docx(markdown, images, east_asian_font=_EAST_ASIAN_FONT)
    step("document")
    period_text = f"{fmt.day(stats.period.start, locale)} – {fmt.day(stats.period.end, locale)}"
    xlsx = participation_xlsx(
        stats, _, zone=zone, compiled_at=compiled_at, period_text=period_text
    )
    csv = participation_csv(stats, _)
    step("tables")
    return {
        REPORT_MD: markdown.encode("utf-8"),
        REPORT_DOCX: docx,
        XLSX: xlsx,
        CSV: csv,
        **images,
    }


def fit_photo(content: bytes, *, longest: int = 1280) -> bytes | None:
    """A phone's photo as the report holds it: at most ``longest`` pixels on its longer
    side, JPEG; ``None`` for a file that is not a picture (it is left out)."""
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(content)) as image:
            picture = image.convert("RGB")
    except (UnidentifiedImageError, OSError):
        return None
    picture.thumbnail((longest, longest))
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=80)
    return out.getvalue()
