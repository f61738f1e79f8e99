"""The clock: what time it is, as an argument rather than a global.

Use cases take a :data:`Clock` so that tests (and the demo's simulated weeks) can say
what "now" is; production passes :func:`system_clock`. Times are aware and in UTC; they
are shown in Asia/Shanghai only when rendered.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def fixed_clock(when: datetime) -> Clock:
    """A clock that always says ``when`` (tests)."""
    if when.tzinfo is None:
        raise ValueError("a clock tells aware times")

    def now() -> datetime:
        return when

    return now
