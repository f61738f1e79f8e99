"""Standard 5-field crontab expressions, read the way ``crontab(5)`` reads them.

APScheduler 3's ``CronTrigger.from_crontab`` numbers weekdays from Monday = 0, so the
ordinary ``0 8 * * 1`` ("Mondays at 08:00") would fire on Tuesdays. Here the weekday
field keeps its crontab meaning (0 or 7 = Sunday, 1 = Monday ... 6 = Saturday, or
``mon``..``sun``) and is handed to APScheduler as weekday names.

Crontab fires when *either* restricted day field matches, APScheduler only when both
do; an expression that restricts both day of month and day of week is rejected instead
of being read differently from what its author meant.
"""

from __future__ import annotations

import re
from datetime import tzinfo

from apscheduler.triggers.cron import CronTrigger

__all__ = ["CrontabError", "crontab_trigger"]

_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_ITEM = re.compile(r"^(?P<base>\*|[0-7a-z]+(?:-[0-7a-z]+)?)(?:/(?P<step>\d+))?$")


class CrontabError(ValueError):
    """A crontab expression this scheduler cannot read, with the reason."""


def _day_number(token: str) -> int:
    if token.isdigit():
        number = int(token)
        if number > 7:
            raise CrontabError(f"day of week {token} is out of range (0-7)")
        return number % 7
    try:
        return _NAMES.index(token[:3])
    except ValueError:
        raise CrontabError(f"unknown day of week {token!r}") from None


def _weekdays(field: str) -> str:
    """The crontab weekday field as APScheduler weekday names."""
    if field == "*":
        return "*"
    days: set[int] = set()
    for item in field.lower().split(","):
        match = _ITEM.match(item)
        if match is None:
            raise CrontabError(f"cannot read day of week {item!r}")
        base, step = match["base"], int(match["step"] or 1)
        if step < 1:
            raise CrontabError("a step must be at least 1")
        if base == "*":
            first, last = 0, 6
        elif "-" in base:
            low, high = base.split("-")
            first, last = _day_number(low), _day_number(high)
            if last == 0 and first > 0:  # "5-7", "fri-sun": Sunday ends the range
                last = 7
            if last < first:
                raise CrontabError(f"day of week range {base!r} runs backwards")
        else:
            first = last = _day_number(base)
        days.update(day % 7 for day in range(first, last + 1, step))
    # APScheduler's own order starts on Monday; any order is accepted in a list.
    return ",".join(_NAMES[day] for day in sorted(days))


def crontab_trigger(expression: str, zone: tzinfo) -> CronTrigger:
    """A trigger for ``minute hour day-of-month month day-of-week`` in ``zone``."""
    fields = expression.split()
    if len(fields) != 5:
        raise CrontabError(f"{expression!r} needs 5 fields, not {len(fields)}")
    minute, hour, day, month, weekday = fields
    if day != "*" and weekday != "*":
        raise CrontabError(
            f"{expression!r} restricts both day of month and day of week; use one of them"
        )
    try:
        return CronTrigger(
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=_weekdays(weekday),
            timezone=zone,
        )
    except CrontabError:
        raise
    except ValueError as error:
        raise CrontabError(f"{expression!r}: {error}") from None
