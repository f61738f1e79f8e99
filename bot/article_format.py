"""Checking an article the way Telegram will, before anything is sent.

The HTML is parsed by the same parser the sandbox uses to emulate Telegram
(:mod:`bot.sandbox.textparse`), so an unbalanced tag, an unsupported tag or a text over
Telegram's limit is caught at preview time with the reason, not as a 400 per recipient.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.sandbox.textparse import EntityParseError, parse_html, utf16_len
from quizzes.publicity import MAX_CAPTION, MAX_TEXT, TITLE_MAX, ComposeProblem, article_text


@dataclass(frozen=True, slots=True)
class FormatProblem:
    problem: ComposeProblem | None  # None: Telegram's own parse error, in ``detail``
    detail: str = ""
    length: int = 0
    limit: int = 0


def check_article(title: str, body: str, *, has_photo: bool) -> FormatProblem | None:
    """The first reason Telegram would reject this article, or ``None`` if it would not."""
    if not title.strip():
        return FormatProblem(ComposeProblem.EMPTY)
    if len(title) > TITLE_MAX:
        return FormatProblem(ComposeProblem.TITLE_TOO_LONG, length=len(title), limit=TITLE_MAX)
    try:
        parsed = parse_html(article_text(title, body))
    except EntityParseError as error:
        return FormatProblem(None, detail=str(error))
    # Telegram counts UTF-16 code units; for Chinese text that is one per character.
    length = utf16_len(parsed.text)
    if has_photo and length > MAX_CAPTION:
        return FormatProblem(ComposeProblem.CAPTION_TOO_LONG, length=length, limit=MAX_CAPTION)
    if length > MAX_TEXT:
        return FormatProblem(ComposeProblem.TEXT_TOO_LONG, length=length, limit=MAX_TEXT)
    return None
