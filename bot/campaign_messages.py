"""Campaign spec problems rendered through the catalog (``campaign.problem.*``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from quizzes.campaigns import SpecProblem


def describe_spec_problems(problems: Sequence[SpecProblem], _: Callable[..., str]) -> str:
    lines = [_("campaign.problem.header", count=len(problems))]
    for problem in problems:
        message = _(f"campaign.problem.{problem.code}", **problem.params)
        lines.append(_("campaign.problem.line", key=problem.key, message=message))
    return "\n".join(lines)
