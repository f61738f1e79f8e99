"""Render roster import problems through the translation catalog (``roster.*`` keys)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from quizzes.units import UnitKind
from storage.roster_import import RosterImport

__all__ = ["describe_import", "describe_problem", "describe_problems"]


class Problem(Protocol):
    """A problem found in a teacher's spreadsheet (roster, activities): where and why."""

    @property
    def code(self) -> str: ...
    @property
    def row(self) -> int | None: ...
    @property
    def column(self) -> str | None: ...
    @property
    def params(self) -> Mapping[str, str | int]: ...


def describe_problem(
    problem: Problem, gettext: Callable[..., str], *, catalog: str = "roster.problem"
) -> str:
    """One problem as a sentence with its location, e.g. "第 3 行，“学生人数”列：……".

    ``gettext`` is called as ``gettext(key, **params)``, like :class:`bot.i18n.Gettext`;
    ``catalog`` is where the problems' messages are (``<catalog>.<code>``).
    """
    try:
        message = gettext(f"{catalog}.{problem.code}", **problem.params)
    except KeyError:
        # A code without a catalog entry (or a message whose placeholders do not match).
        message = gettext(f"{catalog}.unknown", code=problem.code)
    if problem.row is not None and problem.column:
        return gettext(
            "roster.problem_at", row=problem.row, column=problem.column, message=message
        )
    if problem.row is not None:
        return gettext("roster.problem_at_row", row=problem.row, message=message)
    if problem.column:
        return gettext("roster.problem_at_column", column=problem.column, message=message)
    return gettext("roster.problem_file", message=message)


def describe_problems(
    problems: Sequence[Problem],
    gettext: Callable[..., str],
    *,
    limit: int = 20,
    catalog: str = "roster.problem",
) -> str:
    """Up to ``limit`` problems, one per line, then a note saying how many were left out."""
    shown = [
        describe_problem(problem, gettext, catalog=catalog)
        for problem in problems[: max(limit, 0)]
    ]
    hidden = len(problems) - len(shown)
    if hidden > 0:
        shown.append(gettext("roster.more_problems", count=hidden))
    return "\n".join(shown)


def describe_import(result: RosterImport, rows: int, gettext: Callable[..., str]) -> str:
    """What an import did, then every unit the file left out and what became of it."""
    lines = [
        gettext(
            "units.import.done",
            rows=rows,
            created=sum(result.created.values()),
            updated=sum(result.updated.values()),
        )
    ]
    if result.missing:
        key = "units.import.missing_retired" if result.retired else "units.import.missing_kept"
        lines.append(gettext(key, count=len(result.missing)))
        for missing in result.missing:
            kind = gettext(f"units.kind.{missing.unit.kind.value}")
            if missing.unit.kind is UnitKind.CLASS:
                lines.append(
                    gettext(
                        "units.import.missing_class",
                        kind=kind,
                        unit=missing.label,
                        participants=missing.participants,
                    )
                )
            else:
                lines.append(
                    gettext(
                        "units.import.missing_unit",
                        kind=kind,
                        unit=missing.label,
                        classes=missing.classes,
                        participants=missing.participants,
                    )
                )
        if not result.retired:
            lines.append(gettext("units.import.how_to_retire"))
    return "\n".join(lines)
