"""The demo's last chapter: the report section, compiled from everything that happened."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bot.app import BotApp
from bot.reports.compile import REPORT_MD, compile_report, resolve_scope
from quizzes.statistics import Period


async def run_report_chapter(app: BotApp, out_dir: Path, say: Callable[[str], None]) -> str:
    """Write the report files for this year into ``out_dir``; return its first paragraph."""
    today = datetime.now(UTC).astimezone(app.settings.zone).date()
    async with app.session_factory() as session:
        root = await resolve_scope(session, "ROOT")

    def progress(label: str, done: int, total: int) -> None:
        say(f"  {label} ({done}/{total})")

    files = await compile_report(
        app.session_factory,
        root,
        Period(today.replace(month=1, day=1), today),
        zone=app.settings.zone,
        locale="zh-CN",
        translator=app.translator,
        progress=progress,
    )
    for path in files.write(out_dir):
        say(f"  wrote {path}")
    return first_paragraph(files.files[REPORT_MD].decode("utf-8"))


def first_paragraph(markdown: str) -> str:
    """The section's first paragraph: the first prose after its first heading below the
    title (the period note above it is not the section's text)."""
    seen_heading = False
    for block in markdown.split("\n\n"):
        text = block.strip()
        if text.startswith("## "):
            seen_heading = True
        elif seen_heading and text and not text.startswith(("#", "|", "!", "<!--", "-")):
            return text
    return ""
