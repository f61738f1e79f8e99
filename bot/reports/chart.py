"""``participation.png``: participation rate by school, with Chinese labels that render.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no global figure state,
safe in a worker thread) in the CJK font :mod:`bot.fonts` finds; without one it stops
with :class:`bot.fonts.FontMissingError` rather than draw empty boxes.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from pathlib import Path

from bot.fonts import missing_glyphs, require_cjk_font
from quizzes.statistics import Statistics, percent_text

log = logging.getLogger(__name__)

Text = Callable[[str], str]


def chart_font(font_path: Path | None = None) -> tuple[Path, str]:
    """The CJK font file, registered with matplotlib, and its family name."""
    from matplotlib import font_manager

    path = require_cjk_font(font_path)
    font_manager.fontManager.addfont(str(path))
    return path, font_manager.FontProperties(fname=str(path)).get_name()


def participation_chart(stats: Statistics, _: Text, *, font_path: Path | None = None) -> bytes:
    from matplotlib import rc_context
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    path, family = chart_font(font_path)
    ranked = list(reversed(stats.ranked()))  # barh draws bottom-up: highest on top
    labels = [school.name for school in ranked]
    title, axis = _("report.chart.title"), _("report.chart.axis")
    missing = missing_glyphs(path, "".join([*labels, title, axis]))
    if missing:
        log.warning("the chart font %s has no glyph for %s", path.name, "".join(missing))

    height = 1.6 + 0.42 * max(len(labels), 1)
    with rc_context({"font.family": [family], "axes.unicode_minus": False}):
        figure = Figure(figsize=(8.0, height), dpi=150)
        axes = figure.add_subplot()
        if ranked:
            rates = [(school.participation_rate or 0.0) * 100 for school in ranked]
            bars = axes.barh(labels, rates, color="#c0392b", height=0.6)
            shown = [percent_text(school.participation_rate) for school in ranked]
            axes.bar_label(bars, labels=shown, padding=3, fontsize=8)
            axes.set_xlim(0, max(100.0, max(rates) * 1.12))
            axes.xaxis.set_major_formatter(PercentFormatter(decimals=0))
        else:
            axes.text(0.5, 0.5, _("report.chart.no_data"), ha="center", va="center")
            axes.set_yticks([])
        axes.set_title(title, fontsize=12)
        axes.set_xlabel(axis)
        axes.tick_params(axis="y", labelsize=9)
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
        figure.tight_layout()
        out = io.BytesIO()
        figure.savefig(out, format="png")
    return out.getvalue()
