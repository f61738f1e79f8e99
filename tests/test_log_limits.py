"""One log line per failure class per minute, with a count of those left out."""

from __future__ import annotations

import io
import logging

from bot.log_limits import LogLimit, OncePerMinute


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_one_event_per_key_per_minute_and_the_count_of_the_rest() -> None:
    clock = Clock()
    limit = LogLimit(clock=clock)
    assert limit.allow("redis") == 0
    assert [limit.allow("redis") for _ in range(5)] == [None] * 5
    assert limit.allow("database") == 0  # another class is not held back
    clock.now += 59.9
    assert limit.allow("redis") is None
    clock.now += 0.2
    assert limit.allow("redis") == 6
    assert limit.allow("redis") is None


def test_keys_are_bounded() -> None:
    clock = Clock()
    limit = LogLimit(clock=clock, max_keys=10)
    for n in range(100):
        assert limit.allow(n) == 0
    assert len(limit._last) <= 10


def test_a_traceback_per_request_becomes_one_line_a_minute() -> None:
    """Every request failing the same way (an outage) logs its traceback once a minute,
    on every handler, and the next one says how many were left out."""
    clock = Clock()
    once = OncePerMinute(LogLimit(clock=clock))
    logger = logging.getLogger("pufa-test.outage")
    logger.propagate = False
    streams = [io.StringIO(), io.StringIO()]
    for stream in streams:
        handler = logging.StreamHandler(stream)
        handler.addFilter(once)
        logger.addHandler(handler)
    try:
        for update_id in range(500):
            try:
                raise ConnectionRefusedError(111, "Connect call failed")
            except OSError:
                logger.exception("update %s failed", update_id)
        logger.warning("no traceback: always passes")
        logger.warning("no traceback: always passes")
        clock.now += 61
        try:
            raise ConnectionRefusedError(111, "Connect call failed")
        except OSError:
            logger.exception("update %s failed", 500)
    finally:
        logger.handlers.clear()
    for stream in streams:
        text = stream.getvalue()
        assert text.count("Traceback") == 2
        assert "update 0 failed\n" in text
        assert "update 500 failed (499 similar left out in the last minute)" in text
        assert text.count("no traceback") == 2
