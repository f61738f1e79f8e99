"""Bar charts drawn on the server as inline SVG: the page's policy allows no inline style
and no script is needed for them. One drawing for every chart of the dashboard (the
campaign page's score distribution, its participation by day): a label, a bar as long
as its value against the largest, the value after it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["CHART", "Bar", "Geometry", "bars"]


@dataclass(frozen=True, slots=True)
class Geometry:
    """The charts' drawing units (CSS pixels on a desktop; the chart scales down)."""

    width: int = 360
    bar_height: int = 22
    gap: int = 6
    label_width: int = 64
    count_width: int = 44


CHART = Geometry()


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: ``key`` marks its row for the page's readers (and the tests), ``tone`` is
    its CSS class."""

    key: str
    label: str
    value: int
    tone: str
    y: int
    width: int


def bars(items: Sequence[tuple[str, str, int, str]]) -> list[Bar]:
    """``(key, label, value, tone)`` one a row, top to bottom."""
    most = max((value for _key, _label, value, _tone in items), default=0) or 1
    room = CHART.width - CHART.label_width - CHART.count_width
    step = CHART.bar_height + CHART.gap
    return [
        Bar(key, label, value, tone, index * step, round(room * value / most))
        for index, (key, label, value, tone) in enumerate(items)
    ]
