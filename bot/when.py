"""Dates as each language writes them in a message: 12月4日 22:00, 4 December 22:00."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo


def minutes(span: timedelta) -> int:
    """Whole minutes, as a message states a window (签到时间为开讲前 10 分钟……)."""
    return int(span.total_seconds() // 60)


def short_when(moment: datetime, zone: tzinfo, _: Callable[..., str]) -> str:
    """A day and time this year or next, in the reader's language and the bureau's zone."""
    return _("common.when", when=moment.astimezone(zone))


def span_when(start: datetime, end: datetime, zone: tzinfo, _: Callable[..., str]) -> str:
    """A dated span within one day (a lecture): 2026年12月4日 20:00–21:00."""
    return _("common.span", start=start.astimezone(zone), end=end.astimezone(zone))
