"""At most one log line per failure class per minute, with a count of those left out.

An outage (the database, Redis, Telegram) fails every request the same way; a line with a
traceback for each of them buries the one line that says what happened. Two ways to use it:

- In code that knows its failure classes::

      _limit = LogLimit()
      ...
      except RedisError as error:
          if (left_out := _limit.allow("redis-reserve")) is not None:
              log.warning("Redis unreachable (%s)%s", error, left_out_note(left_out))

- For every record that carries a traceback, whoever logs it: :class:`OncePerMinute`, a
  :class:`logging.Filter` that ``pufa`` puts on its log handlers (:func:`limit_tracebacks`)
  and the bot on aiogram's logger of failed updates (:func:`limit_logger`). Records are grouped by
  logger, message template and exception type; the first of a group in a minute passes,
  the rest are counted and the next one that passes says how many were left out.

The clock is a parameter, so tests can use virtual time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable

PERIOD_S = 60.0


def left_out_note(count: int) -> str:
    """`` (N similar left out)`` to append to a message, or nothing when none were."""
    return f" ({count} similar left out in the last minute)" if count else ""


class LogLimit:
    """Lets one event per key through every ``period_s`` seconds and counts the others."""

    def __init__(
        self,
        period_s: float = PERIOD_S,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 1000,
    ) -> None:
        self.period_s = period_s
        self.clock = clock
        self.max_keys = max_keys
        self._last: dict[Hashable, float] = {}
        self._left_out: dict[Hashable, int] = {}

    def allow(self, key: Hashable) -> int | None:
        """``None``: leave this one out. Otherwise log it, mentioning the returned number
        of events of the same key left out since the last one that was let through."""
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.period_s:
            self._left_out[key] = self._left_out.get(key, 0) + 1
            return None
        if last is None and len(self._last) >= self.max_keys:
            self._forget(now)
        self._last[key] = now
        return self._left_out.pop(key, 0)

    def _forget(self, now: float) -> None:
        for key in [k for k, at in self._last.items() if now - at >= self.period_s]:
            del self._last[key]
            self._left_out.pop(key, None)
        while len(self._last) >= self.max_keys:  # all recent: drop the oldest
            del self._last[next(iter(self._last))]


class OncePerMinute(logging.Filter):
    """A handler filter: a record with a traceback passes once a minute per logger,
    message and exception type; the others are counted and mentioned in the next one.
    Records without a traceback always pass."""

    def __init__(self, limit: LogLimit | None = None) -> None:
        super().__init__()
        self.limit = limit or LogLimit()

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.exc_info or record.exc_info[0] is None:
            return True
        decided: bool | None = getattr(record, "pufa_once", None)
        if decided is not None:  # another handler with this filter saw it first
            return decided
        left_out = self.limit.allow((record.name, str(record.msg), record.exc_info[0]))
        if left_out:
            record.msg = f"{record.msg}{left_out_note(left_out)}"
        setattr(record, "pufa_once", left_out is not None)  # noqa: B010
        return left_out is not None


def limit_logger(name: str) -> None:
    """Put a :class:`OncePerMinute` on the logger ``name`` itself (once), so that its
    records are limited before any handler sees them, whoever configured logging."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, OncePerMinute) for f in logger.filters):
        logger.addFilter(OncePerMinute())


def limit_tracebacks(logger: logging.Logger | None = None) -> OncePerMinute:
    """Put one :class:`OncePerMinute` on every handler of ``logger`` (the root logger)."""
    target = logger or logging.getLogger()
    limiter = OncePerMinute()
    for handler in target.handlers:
        handler.addFilter(limiter)
    return limiter
