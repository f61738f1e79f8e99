"""Telegram-style parsing of formatted text (HTML mode) into plain text and entities."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "code": "code",
    "pre": "pre",
    "tg-spoiler": "spoiler",
    "blockquote": "blockquote",
}
SUPPORTED_TAGS = frozenset({*_SIMPLE_TAGS, "a", "span", "tg-emoji"})
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(?:(lt|gt|amp|quot)|#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6}));")
_SPACES = " \t\r\n"
_COMMAND_RE = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")


class EntityParseError(ValueError):
    """Malformed markup; ``str(error)`` is the part after ``can't parse entities: ``."""


@dataclass
class ParsedText:
    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram entity offsets."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8"))


@dataclass
class _Open:
    tag: str
    start: int
    entity: dict[str, Any] | None


def _parse_attributes(source: str, i: int, tag: str, begin: int) -> tuple[dict[str, str], int]:
    """Parse ``name="value"`` pairs up to ``>``; return them and the index after ``>``."""
    attrs: dict[str, str] = {}
    n = len(source)
    while True:
        while i < n and source[i] in _SPACES:
            i += 1
        if i >= n:
            raise EntityParseError(
                f"Unclosed start tag at byte offset {_byte_offset(source, begin)}"
            )
        if source[i] == ">":
            return attrs, i + 1
        name_start = i
        while i < n and source[i] not in _SPACES and source[i] not in "=>":
            i += 1
        name = source[name_start:i].lower()
        if not name:
            raise EntityParseError(
                f'Empty attribute name in the tag "{tag}" at byte offset '
                f"{_byte_offset(source, begin)}"
            )
        while i < n and source[i] in _SPACES:
            i += 1
        if i >= n or source[i] != "=":
            if i < n and source[i] == ">" and name in ("expandable",):
                attrs[name] = ""
                continue
            raise EntityParseError(
                f'Expected equal sign in declaration of an attribute of the tag "{tag}" '
                f"at byte offset {_byte_offset(source, begin)}"
            )
        i += 1
        while i < n and source[i] in _SPACES:
            i += 1
        if i >= n:
            raise EntityParseError(
                f"Unclosed start tag at byte offset {_byte_offset(source, begin)}"
            )
        quote = source[i]
        if quote in "\"'":
            end = source.find(quote, i + 1)
            if end < 0:
                raise EntityParseError(
                    f'Unclosed start tag "{tag}" at byte offset {_byte_offset(source, begin)}'
                )
            value = source[i + 1 : end]
            i = end + 1
        else:
            value_start = i
            while i < n and source[i] not in _SPACES and source[i] != ">":
                i += 1
            value = source[value_start:i]
        attrs[name] = unescape(value)


def unescape(text: str) -> str:
    """Decode the HTML entities Telegram understands; leave other ``&`` as they are."""
    if "&" not in text:
        return text

    def repl(match: re.Match[str]) -> str:
        named, dec, hexa = match.groups()
        if named:
            return _NAMED_ENTITIES[named]
        code = int(dec) if dec else int(hexa, 16)
        if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return match.group(0)
        return chr(code)

    return _ENTITY_RE.sub(repl, text)


def _start_entity(tag: str, attrs: dict[str, str], source: str, begin: int) -> dict[str, Any]:
    if tag in _SIMPLE_TAGS:
        kind = _SIMPLE_TAGS[tag]
        if tag == "blockquote" and "expandable" in attrs:
            kind = "expandable_blockquote"
        entity: dict[str, Any] = {"type": kind}
        if tag == "code" and attrs.get("class", "").startswith("language-"):
            entity["language"] = attrs["class"][len("language-") :]
        return entity
    if tag == "a":
        href = attrs.get("href", "")
        if href.startswith("tg://user?id="):
            user_id = href[len("tg://user?id=") :]
            if user_id.isdigit():
                return {"type": "text_mention", "user_id": int(user_id)}
        return {"type": "text_link", "url": href}
    if tag == "span":
        if attrs.get("class") != "tg-spoiler":
            raise EntityParseError('Tag "span" must have class "tg-spoiler"')
        return {"type": "spoiler"}
    # tg-emoji
    emoji_id = attrs.get("emoji-id", "")
    if not emoji_id.isdigit():
        raise EntityParseError(
            f"Custom emoji entity must contain a valid custom emoji identifier at byte offset "
            f"{_byte_offset(source, begin)}"
        )
    return {"type": "custom_emoji", "custom_emoji_id": emoji_id}


def parse_html(source: str) -> ParsedText:
    """Strip the tags Telegram supports, decode entities and build the entity list."""
    if "<" not in source and "&" not in source:
        return ParsedText(source)
    out: list[str] = []
    pos16 = 0
    stack: list[_Open] = []
    entities: list[dict[str, Any]] = []
    n = len(source)
    i = 0
    while i < n:
        lt = source.find("<", i)
        chunk_end = n if lt < 0 else lt
        if chunk_end > i:
            chunk = unescape(source[i:chunk_end])
            out.append(chunk)
            pos16 += utf16_len(chunk)
        if lt < 0:
            break
        begin = lt
        i = lt + 1
        if i < n and source[i] == "/":
            if not stack:
                raise EntityParseError(
                    f"Unexpected end tag at byte offset {_byte_offset(source, begin)}"
                )
            i += 1
            name_start = i
            while i < n and source[i] not in _SPACES and source[i] != ">":
                i += 1
            end_name = source[name_start:i].lower()
            while i < n and source[i] in _SPACES:
                i += 1
            if i >= n or source[i] != ">":
                raise EntityParseError(
                    f"Unclosed end tag at byte offset {_byte_offset(source, begin)}"
                )
            i += 1
            top = stack.pop()
            if end_name and end_name != top.tag:
                raise EntityParseError(
                    f"Unmatched end tag at byte offset {_byte_offset(source, begin)}, "
                    f'expected "</{top.tag}>", found "</{end_name}>"'
                )
            if top.entity is not None and pos16 > top.start:
                top.entity["offset"] = top.start
                top.entity["length"] = pos16 - top.start
                entities.append(top.entity)
            continue
        name_start = i
        while i < n and source[i] not in _SPACES and source[i] != ">":
            i += 1
        if i >= n:
            raise EntityParseError(
                f"Unclosed start tag at byte offset {_byte_offset(source, begin)}"
            )
        tag = source[name_start:i].lower()
        if tag not in SUPPORTED_TAGS:
            raise EntityParseError(
                f'Unsupported start tag "{tag}" at byte offset {_byte_offset(source, begin)}'
            )
        attrs, i = _parse_attributes(source, i, tag, begin)
        entity: dict[str, Any] | None = _start_entity(tag, attrs, source, begin)
        if tag == "code" and stack and stack[-1].tag == "pre" and entity is not None:
            # <pre><code class="language-x"> sets the language of the pre block
            language = entity.get("language")
            pre = stack[-1].entity
            if language and pre is not None:
                pre["language"] = language
            entity = None
        stack.append(_Open(tag, pos16, entity))
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return ParsedText("".join(out), entities)


def _strip_markdown_v2(source: str) -> str:
    out: list[str] = []
    escaped = False
    for ch in source:
        if escaped:
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch not in "*_~|`":
            out.append(ch)
    return "".join(out)


def parse_text(text: str, parse_mode: str | None, entities: Any = None) -> ParsedText:
    """Turn ``text`` as sent by the bot into what the user sees.

    HTML is parsed like Telegram does (errors included); Markdown modes only lose their
    markup characters (no entities, no validation); explicit ``entities`` are kept.
    """
    mode = (parse_mode or "").lower()
    if mode == "html":
        return parse_html(text)
    if mode == "markdownv2":
        return ParsedText(_strip_markdown_v2(text))
    if mode == "markdown":
        return ParsedText(text.replace("*", "").replace("_", "").replace("`", ""))
    if isinstance(entities, list):
        return ParsedText(text, [e for e in entities if isinstance(e, dict)])
    return ParsedText(text)


def command_entities(text: str) -> list[dict[str, Any]]:
    """``bot_command`` entities for every ``/command`` in a user's message."""
    if "/" not in text:
        return []
    result = []
    for match in _COMMAND_RE.finditer(text):
        start, end = match.span()
        result.append(
            {
                "type": "bot_command",
                "offset": utf16_len(text[:start]),
                "length": utf16_len(text[start:end]),
            }
        )
    return result
