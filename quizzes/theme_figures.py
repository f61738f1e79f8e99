"""Articles and quiz campaigns per theme: the report's figures of what each theme reached.

Pure data; counted in SQL by :mod:`storage.theme_figures`, one definition per figure.
The report puts them beside the confirmed offline activities of each theme.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from quizzes.activities import ActivityFigures, Headcount
from quizzes.themes import Theme

__all__ = ["FIGURES", "ThemeBreakdown", "ThemeReach", "ThemeRow", "theme_rows"]

# The figures counted per theme, as :func:`storage.theme_figures.theme_figures` names them.
FIGURES = ("articles", "reads", "reached", "campaigns", "took_part")


@dataclass(frozen=True, slots=True)
class ThemeReach:
    """One theme's articles and campaigns in a report's scope and period."""

    theme: Theme
    articles: int = 0  # publicity articles published (篇)
    reads: int = 0  # their reads (人次)
    reached: int = 0  # people who got at least one of them (人)
    campaigns: int = 0  # campaigns someone of the scope took part in (场)
    took_part: int = 0  # people who took part in at least one of them (人)

    @property
    def any(self) -> bool:
        return bool(self.articles or self.reads or self.reached or self.campaigns)


@dataclass(frozen=True, slots=True)
class ThemeBreakdown:
    """Every theme's :class:`ThemeReach` (themes with nothing left out), in the order of
    :class:`~quizzes.themes.Theme`."""

    themes: tuple[ThemeReach, ...] = ()

    @classmethod
    def of_rows(cls, rows: Iterable[tuple[str, str, int]]) -> ThemeBreakdown:
        """From ``(figure, theme value, count)`` rows; a theme no longer known counts as
        其他."""
        counts: dict[Theme, dict[str, int]] = {}
        for figure, value, count in rows:
            if figure not in FIGURES:
                raise ValueError(f"unknown theme figure {figure!r}")
            theme = Theme(value) if value in Theme._value2member_map_ else Theme.OTHER
            mine = counts.setdefault(theme, {})
            mine[figure] = mine.get(figure, 0) + int(count or 0)
        found = (ThemeReach(theme, **counts[theme]) for theme in Theme if theme in counts)
        return cls(tuple(reach for reach in found if reach.any))

    def of(self, theme: Theme) -> ThemeReach:
        return next((t for t in self.themes if t.theme is theme), ThemeReach(theme))


@dataclass(frozen=True, slots=True)
class ThemeRow:
    """A line of the report's table of themes: articles, campaigns and confirmed offline
    activities (events, 人次) of one theme."""

    reach: ThemeReach
    events: int
    headcount: Headcount

    @property
    def theme(self) -> Theme:
        return self.reach.theme


def theme_rows(figures: ThemeBreakdown, activities: ActivityFigures) -> tuple[ThemeRow, ...]:
    """The themes with an article, a campaign or an activity, in the themes' order."""
    events = {t.theme: t for t in activities.by_theme()}
    rows = []
    for theme in Theme:
        reach = figures.of(theme)
        activity = events.get(theme)
        if reach.any or activity is not None:
            rows.append(
                ThemeRow(
                    reach,
                    activity.events if activity else 0,
                    activity.headcount if activity else Headcount(),
                )
            )
    return tuple(rows)
