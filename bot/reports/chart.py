"""``participation.png`` (participation rate by school) and ``participation-by-day.png``
(people who took part each day of the campaigns), with Chinese labels that render.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no global figure state,
safe in a worker thread) in the CJK font :mod:`bot.fonts` finds; without one it stops
with :class:`bot.fonts.FontMissingError` rather than draw empty boxes.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from bot.fonts import missing_glyphs, require_cjk_font
from bot.reports.format import month_abbr
from quizzes.statistics import Statistics, percent_text

log = logging.getLogger(__name__)

Text = Callable[..., str]

# Where the rate axis may end (percent): the first that leaves room for the bar labels.
_CEILINGS = (5.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 80.0, 100.0)


def rate_ceiling(rates: Sequence[float]) -> float:
    """The end of the rate axis (percent) for these rates: close enough above the highest
    that a rate of a few percent is seen, never below 5% nor, unless needed, above 100%."""
    wanted = max(rates, default=0.0) * 1.15
    return next((ceiling for ceiling in _CEILINGS if ceiling >= wanted), wanted)


def chart_font(font_path: Path | None = None) -> tuple[Path, str]:
    """The CJK font file, registered with matplotlib, and its family name."""
    from matplotlib import font_manager

    path = require_cjk_font(font_path)
    font_manager.fontManager.addfont(str(path))
    return path, font_manager.FontProperties(fname=str(path)).get_name()


def participation_chart(stats: Statistics, _: Text, *, font_path: Path | None = None) -> bytes:
    from matplotlib import rc_context
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator, PercentFormatter

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
            axes.set_xlim(0, rate_ceiling(rates))
            # Whole-percent ticks at round steps: never "2%" printed at 2.5%.
            axes.xaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 5, 10], integer=True))
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


def timeline_chart(stats: Statistics, _: Text, *, font_path: Path | None = None) -> bytes | None:
    """People who took part each day of the campaigns' window; ``None`` without one, or
    when it is a single day (the headline figure already says it)."""
    if len(stats.daily) < 2:
        return None
    from matplotlib import rc_context
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    _path, family = chart_font(font_path)
    days = [day for day, _count in stats.daily]
    counts = [count for _day, count in stats.daily]
    with rc_context({"font.family": [family], "axes.unicode_minus": False}):
        figure = Figure(figsize=(8.0, 3.6), dpi=150)
        axes = figure.add_subplot()
        axes.bar(range(len(days)), counts, width=0.9, color="#c0392b")
        # A window of a few days keeps bars of a day's width, centred, not a wall of red.
        margin = max(0.0, (7 - len(days)) / 2)
        axes.set_xlim(-0.5 - margin, len(days) - 0.5 + margin)
        axes.set_ylim(0, max(max(counts) * 1.15, 1))
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        ticks = _date_ticks(days)
        axes.set_xticks([index for index, _day in ticks])
        axes.set_xticklabels(
            [
                _("report.timeline.day", month=day.month, day=day.day, month_name=month_abbr(day))
                for _i, day in ticks
            ],
            fontsize=8,
        )
        axes.set_title(_("report.timeline.title"), fontsize=12)
        axes.set_ylabel(_("report.timeline.axis"))
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
        figure.tight_layout()
        out = io.BytesIO()
        figure.savefig(out, format="png")
    return out.getvalue()


def _date_ticks(days: list[date], most: int = 12) -> list[tuple[int, date]]:
    """At most ``most`` evenly spaced labelled days, the first and the last among them
    (the last in place of the one before it when the two would crowd each other)."""
    step = max(1, -(-(len(days) - 1) // (most - 1))) if len(days) > 1 else 1
    ticks = [(index, days[index]) for index in range(0, len(days), step)]
    last = len(days) - 1
    if ticks[-1][0] != last:
        if last - ticks[-1][0] < step * 0.8 and len(ticks) > 1:
            ticks.pop()
        ticks.append((last, days[last]))
    return ticks
