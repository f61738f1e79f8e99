"""Numbers, rates and dates as the report writes them, per locale."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from quizzes.statistics import PeriodError, percent_text

_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def number(value: int, locale: str) -> str:
    return f"{value:,}" if locale == "en" else str(value)


def percent(value: float | None, digits: int = 1) -> str:
    """A fraction as a percentage, rounded half up (the one rounding of every output)."""
    return percent_text(value, digits)


def month_abbr(value: date) -> str:
    """ "Dec": the month as English charts label a day ("4 Dec")."""
    return _MONTHS[value.month - 1][:3]


def day(value: date, locale: str) -> str:
    if locale == "en":
        return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"
    return f"{value.year}年{value.month}月{value.day}日"


def moment(value: datetime, locale: str) -> str:
    if locale == "en":
        return f"{day(value.date(), locale)} {value:%H:%M}"
    return f"{day(value.date(), locale)} {value:%H:%M}"


def display_width(text: str) -> int:
    """Columns a text takes in a spreadsheet: CJK characters are two wide."""
    return sum(2 if ord(char) > 0x2E80 else 1 for char in text)


def period_problem(
    error: PeriodError, _: Callable[..., str], locale: str, *, command: str = ""
) -> str:
    """What was wrong with the dates typed, from the catalog (never Python's words)."""
    return _(
        f"report.period.{error.problem.value}",
        text=error.text,
        start=day(error.start, locale) if error.start else "",
        end=day(error.end, locale) if error.end else "",
        command=command,
    )


_QUOTES = '“”"‘’「」『』'


def quoted(name: str, locale: str) -> str:
    """A campaign or lecture name in quotation marks, unless it already has some: the
    report never nests “…“…”…”."""
    if any(mark in name for mark in _QUOTES):
        return name
    return f'"{name}"' if locale == "en" else f"“{name}”"


def count(value: int, one: str, many: str, locale: str) -> str:
    """``1 article`` or ``3 articles``: the number with the noun that agrees with it."""
    return f"{number(value, locale)} {one if value == 1 else many}"
