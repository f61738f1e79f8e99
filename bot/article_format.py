"""Checking an article the way Telegram will, before anything is sent.

The HTML is parsed by the same parser the sandbox uses to emulate Telegram
(:mod:`bot.sandbox.textparse`), so an unbalanced tag, an unsupported tag or a text over
Telegram's limit is caught at preview time with the reason, not as a 400 per recipient.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime

from aiogram.enums import MessageEntityType
from aiogram.types import MessageEntity
from aiogram.utils.text_decorations import HtmlDecoration

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


class _PageDecoration(HtmlDecoration):
    """Telegram's entities as a web page's tags: text escaped, links only to http(s)
    (their address escaped too), Telegram's own tags as plain text or a span."""

    def link(self, value: str, link: str) -> str:
        if not link.lower().startswith(("https://", "http://")):
            return value
        href = html.escape(link, quote=True)
        return f'<a href="{href}" rel="noopener noreferrer nofollow">{value}</a>'

    def pre_language(self, value: str, language: str) -> str:
        return self.pre(value)

    def spoiler(self, value: str) -> str:
        return f'<span class="spoiler">{value}</span>'

    def custom_emoji(self, value: str, custom_emoji_id: str) -> str:
        return value

    def expandable_blockquote(self, value: str) -> str:
        return self.blockquote(value)

    def date_time(
        self, value: str, unix_time: int | datetime, date_time_format: str | None = None
    ) -> str:
        return value

    def apply_entity(self, entity: MessageEntity, text: str) -> str:
        if entity.type == MessageEntityType.TEXT_MENTION:
            return text  # a Telegram account's page means nothing in a browser
        return super().apply_entity(entity, text)


_PAGE = _PageDecoration()


def article_html(body: str) -> str:
    """An article's body (Telegram HTML) as a web page's HTML: the same parser as the
    check above, then only the tags a page may carry, every text escaped. A body that
    does not parse is shown as its text, escaped."""
    try:
        parsed = parse_html(body.strip())
    except EntityParseError:
        return html.escape(body.strip(), quote=False)
    entities = [MessageEntity.model_validate(entity) for entity in parsed.entities]
    return _PAGE.unparse(parsed.text, entities)
