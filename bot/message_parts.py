"""Long chat replies split into messages Telegram accepts.

Telegram takes at most 4,096 characters of text after parsing the HTML (tags removed,
entities such as ``&lt;`` counted as one character, in UTF-16 code units). A reply built
from many lines or paragraphs is cut only between them, so no tag or entity is broken.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from bot.sandbox.textparse import parse_html, utf16_len
from quizzes.publicity import MAX_TEXT


def visible_length(text: str) -> int:
    """What Telegram counts against its limit: the text after HTML parsing, in UTF-16."""
    return utf16_len(parse_html(text).text)


def split_message(parts: Sequence[str], separator: str = "\n", limit: int = MAX_TEXT) -> list[str]:
    """``parts`` joined by ``separator`` into as few messages as ``limit`` allows.

    Each part is whole HTML on its own (its tags closed). A part longer than a message
    by itself goes out as plain text in pieces, so it never breaks a tag or an entity.
    """
    messages: list[str] = []
    current: list[str] = []
    length = 0
    gap = visible_length(separator)
    for part in parts:
        size = visible_length(part)
        if size > limit:
            if current:
                messages.append(separator.join(current))
                current, length = [], 0
            messages += _pieces(parse_html(part).text, limit)
            continue
        if current and length + gap + size > limit:
            messages.append(separator.join(current))
            current, length = [], 0
        length += (gap if current else 0) + size
        current.append(part)
    if current:
        messages.append(separator.join(current))
    return messages


def _pieces(plain: str, limit: int) -> list[str]:
    """Plain text cut into escaped pieces of at most ``limit`` UTF-16 units each."""
    pieces: list[str] = []
    piece: list[str] = []
    length = 0
    for character in plain:
        size = utf16_len(character)
        if length + size > limit:
            pieces.append(html.escape("".join(piece), quote=False))
            piece, length = [], 0
        piece.append(character)
        length += size
    if piece:
        pieces.append(html.escape("".join(piece), quote=False))
    return pieces
