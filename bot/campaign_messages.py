"""Campaign wording through the catalog: spec problems (``campaign.problem.*``) and
the options of a question as a participant saw them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from quizzes.attempts import AttemptQuestion
from quizzes.bank import QuestionType, StoredQuestion
from quizzes.campaigns import SpecProblem
from quizzes.engine import LETTERS


def describe_spec_problems(problems: Sequence[SpecProblem], _: Callable[..., str]) -> str:
    lines = [_("campaign.problem.header", count=len(problems))]
    for problem in problems:
        message = _(f"campaign.problem.{problem.code}", **problem.params)
        lines.append(_("campaign.problem.line", key=problem.key, message=message))
    return "\n".join(lines)


def option_text(question: StoredQuestion, original: int, _: Callable[..., str]) -> str:
    """An option as a person reads it: true/false in the reader's language (the bank
    always stores 正确 then 错误), any other option as the bank wrote it. Plain text."""
    if question.type is QuestionType.TRUE_FALSE:
        return _("quiz.true_false.right" if original == 0 else "quiz.true_false.wrong")
    return question.options[original]


def options_shown(
    question: StoredQuestion,
    order: Sequence[int],
    originals: Iterable[int],
    _: Callable[..., str],
) -> str:
    """Options (bank indices) in the order the participant saw them (``order``: display
    position -> bank index), each with its letter and text: "A. 国旗；C. 国徽". Plain text."""
    positions = sorted(order.index(original) for original in originals)
    if question.type is QuestionType.TRUE_FALSE:
        return _("quiz.answer_separator").join(
            option_text(question, order[p], _) for p in positions
        )
    return _("quiz.answer_separator").join(
        f"{LETTERS[p]}. {option_text(question, order[p], _)}" for p in positions
    )


def answer_given(question: AttemptQuestion, _: Callable[..., str]) -> str:
    """What the participant answered to a question of their result: the options they
    chose, or why there are none (time ran out, or the window closed on it). Plain text."""
    if question.timed_out:
        return _("quiz.result.yours_timed_out")
    if question.chosen:
        return options_shown(question.question, question.order, question.chosen, _)
    return _("quiz.result.yours_unanswered")  # the window closed on it
