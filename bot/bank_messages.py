"""Render question-bank problems and summaries through the catalog (``bank.*`` keys)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Literal

from quizzes.bank import (
    LIST_SEPARATOR,
    BankProblem,
    Difficulty,
    Level,
    Question,
    QuestionType,
    poll_compatible,
)

__all__ = ["bank_summary", "describe_problem", "describe_problems"]

Numbering = Literal["row", "question"]
_MAX_TAGS_SHOWN = 15


def describe_problem(
    problem: BankProblem, gettext: Callable[..., str], *, numbering: Numbering = "row"
) -> str:
    """One problem as a sentence with its place, e.g. "第 3 行，“答案”列：……".

    ``gettext`` is called as ``gettext(key, **params)``, like :class:`bot.i18n.Gettext`;
    ``numbering`` says whether ``row`` counts spreadsheet rows or YAML questions.
    """
    place = "question" if numbering == "question" else "row"
    params: dict[str, object] = dict(problem.params)
    params.setdefault("unit", gettext(f"bank.unit.{place}"))  # 第 3 行 / 第 3 题
    if isinstance(params.get("expected"), str):
        params["expected"] = gettext(f"bank.expected.{params['expected']}")
    if isinstance(sheets := params.get("sheets"), str):  # a list: joined the language's way
        params["sheets"] = gettext("bank.summary.separator").join(sheets.split(LIST_SEPARATOR))
    try:
        message = gettext(f"bank.problem.{problem.code}", **params)
    except (KeyError, IndexError):
        # A code without a catalog entry (or a message whose placeholders do not match).
        message = gettext("bank.problem.unknown", code=problem.code)
    # The place is a prefix, not a template around the message: with HTML escaping, passing
    # the message through a second template would escape it twice.
    if problem.row is not None and problem.column:
        prefix = gettext(f"bank.at.{place}_column", row=problem.row, column=problem.column)
    elif problem.row is not None:
        prefix = gettext(f"bank.at.{place}", row=problem.row)
    elif problem.column:
        key = "bank.at.field" if numbering == "question" else "bank.at.column"
        prefix = gettext(key, column=problem.column)
    else:
        prefix = gettext("bank.at.file")
    return prefix + message


def describe_problems(
    problems: Sequence[BankProblem],
    gettext: Callable[..., str],
    *,
    numbering: Numbering = "row",
    limit: int = 20,
) -> str:
    """Up to ``limit`` problems, one per line, then a note saying how many were left out."""
    shown = [
        describe_problem(problem, gettext, numbering=numbering)
        for problem in problems[: max(limit, 0)]
    ]
    hidden = len(problems) - len(shown)
    if hidden > 0:
        shown.append(gettext("bank.more_problems", count=hidden))
    return "\n".join(shown)


def bank_summary(questions: Sequence[Question], gettext: Callable[..., str]) -> str:
    """Counts by type, by level and difficulty, the tags with their counts, and how many
    fit a Telegram quiz poll."""
    types = Counter(question.type for question in questions)
    tags = Counter(tag for question in questions for tag in question.tags)
    lines = [
        gettext(
            "bank.summary.types",
            single=types[QuestionType.SINGLE],
            multiple=types[QuestionType.MULTIPLE],
            true_false=types[QuestionType.TRUE_FALSE],
        )
    ]
    levels = Counter(question.level for question in questions)
    difficulties = Counter(question.difficulty for question in questions)
    lines.append(
        gettext(
            "bank.summary.levels",
            primary=levels[Level.PRIMARY],
            junior=levels[Level.JUNIOR],
            senior=levels[Level.SENIOR],
            easy=difficulties[Difficulty.EASY],
            medium=difficulties[Difficulty.MEDIUM],
            hard=difficulties[Difficulty.HARD],
        )
    )
    if tags:
        listed = [
            gettext("bank.summary.tag", tag=tag, count=count)
            for tag, count in tags.most_common(_MAX_TAGS_SHOWN)
        ]
        if len(tags) > _MAX_TAGS_SHOWN:
            listed.append(gettext("bank.summary.more_tags", count=len(tags) - _MAX_TAGS_SHOWN))
        # Each tag is already rendered (and escaped): join them, do not pass them through again.
        separator = gettext("bank.summary.separator")
        lines.append(gettext("bank.summary.tags_label") + separator.join(listed))
    else:
        lines.append(gettext("bank.summary.no_tags"))
    pictures = sum(question.picture is not None for question in questions)
    if pictures:
        lines.append(gettext("bank.summary.pictures", count=pictures))
    polls = sum(poll_compatible(question) for question in questions)
    lines.append(gettext("bank.summary.poll", count=polls, total=len(questions)))
    return "\n".join(lines)
