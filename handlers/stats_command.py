"""``/stats <figure> <id>``: one way to read which figure is asked for, and of what."""

from __future__ import annotations

import re
from typing import Any

from aiogram.filters import Filter
from aiogram.types import Message

_LARGEST_ID = 2**63 - 1  # ids are BIGINT
_STATS = re.compile(r"^/stats(?:@\w+)?(?:\s+(\S+)(?:\s+(\S+))?)?\s*(.*)$", re.DOTALL)


def stats_request(text: str | None) -> tuple[str | None, int | None]:
    """The figure named after ``/stats`` and its id: ``(figure, id)``, either None when
    missing; the id is None too when it is not a number or anything follows it."""
    found = _STATS.match(text or "")
    if found is None:
        return None, None
    figure, number, rest = found.groups()
    if number is None or rest or not (number.isascii() and number.isdigit()):
        return figure, None
    value = int(number)
    return figure, value if value <= _LARGEST_ID else None


class StatsOf(Filter):
    """Matches ``/stats <figure> ...`` and hands the handler ``target_id`` (None when the
    id is missing or malformed, so the handler can answer with the usage)."""

    def __init__(self, figure: str) -> None:
        self.figure = figure

    async def __call__(self, message: Message) -> bool | dict[str, Any]:
        figure, target_id = stats_request(message.text)
        if figure != self.figure:
            return False
        return {"target_id": target_id}
