"""``/stats <figure> <id>`` is read one way for every figure."""

from __future__ import annotations

import pytest

from handlers.stats_command import stats_request


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/stats article 12", ("article", 12)),
        ("/stats@pufa_bot lecture 3", ("lecture", 3)),
        ("/stats   article   7  ", ("article", 7)),
        ("/stats", (None, None)),
        ("/stats@pufa_bot", (None, None)),
        ("/stats article", ("article", None)),
        ("/stats article x12", ("article", None)),
        ("/stats article -1", ("article", None)),
        ("/stats article 12 13", ("article", None)),
        ("/stats foo", ("foo", None)),
        ("/stats article ²", ("article", None)),
        ("/stats article ١٢", ("article", None)),
        ("/stats article 99999999999999999999", ("article", None)),
        ("hello", (None, None)),
        (None, (None, None)),
    ],
)
def test_the_figure_and_its_id(text: str | None, expected: tuple[str | None, int | None]) -> None:
    assert stats_request(text) == expected
