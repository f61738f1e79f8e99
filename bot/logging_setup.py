"""How ``pufa`` logs: text lines by default, JSON lines with ``PUFA_LOG_FORMAT=json``.

A JSON line is one object: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``,
the fields a call passed in ``extra=``, and ``exception`` (the traceback) when there is
one. Log collectors (journald, Loki, Elasticsearch) read it without a parsing rule.

What is logged is the same either way: the project's log messages name updates, rows
and jobs by id, not people by name or what they wrote. Tracebacks stay bounded during an
outage by :mod:`bot.log_limits`, whichever format is chosen.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["text", "json"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "pufa_once",  # bot.log_limits' own mark
}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in line:
                line[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def formatter(log_format: LogFormat) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure_logging(level: int, log_format: LogFormat = "text") -> bool:
    """Log to stderr in ``log_format`` at ``level``, unless whoever runs us (a test)
    configured logging already; ``True`` when this call did it."""
    root = logging.getLogger()
    if root.handlers:
        return False
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(log_format))
    root.addHandler(handler)
    root.setLevel(level)
    return True
