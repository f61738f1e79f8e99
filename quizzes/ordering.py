"""Natural order of unit names as people read them: 129团 before 131团, 七年级2班 before
七年级10班, 第二中学 before 第三中学, 一二九团 before 一三一团.

Code-point order gets these wrong (三 U+4E09 sorts before 二 U+4E8C); the key here
reads every run of digits and every run of Chinese numerals as the number it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from quizzes.units import Unit

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5}
_DIGITS.update({"六": 6, "七": 7, "八": 8, "九": 9})
_UNITS = {"十": 10, "百": 100, "千": 1000}
_NUMERALS = "".join(_DIGITS) + "".join(_UNITS)
_RUNS = re.compile(rf"(\d+|[{_NUMERALS}]+)")

# A part of a key: numbers (0, value, "") sort before text (1, 0, text).
Part = tuple[int, int, str]


def chinese_number(text: str) -> int:
    """The value of a run of Chinese numerals: positional when it has 十/百/千
    (十二 = 12, 二十 = 20, 一百零五 = 105), else read digit by digit as regiment
    numbers are written (一三一 = 131, 二 = 2)."""
    if not any(char in _UNITS for char in text):
        value = 0
        for char in text:
            value = value * 10 + _DIGITS[char]
        return value
    total, digit = 0, 0
    for char in text:
        if char in _DIGITS:
            digit = _DIGITS[char]
        else:
            total += (digit or 1) * _UNITS[char]  # 十二: the 1 of ten is left out
            digit = 0
    return total + digit


def natural_key(name: str) -> tuple[tuple[Part, ...], str]:
    """Sort key for a name in natural order; ties (九 and 9) fall back to the name."""
    parts: list[Part] = []
    for index, run in enumerate(_RUNS.split(name)):
        if not run:
            continue
        if index % 2 == 0:
            parts.append((1, 0, run))
        elif run.isdigit():
            parts.append((0, int(run), ""))
        else:
            parts.append((0, chinese_number(run), ""))
    return tuple(parts), name


def by_name(units: Iterable[Unit]) -> list[Unit]:
    """Units in the natural order of their names (then of their ids), as pickers show them."""
    return sorted(units, key=lambda unit: (natural_key(unit.name), unit.id))
