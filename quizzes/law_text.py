"""The Constitution's text, shipped as data, and the check of what an explanation cites.

An explanation that cites the Constitution (``《宪法》第三十三条第二款``, ``宪法序言``, or any
article after ``《中华人民共和国宪法》``) must cite an article that exists, and every passage it
marks as a quotation (in ``「」`` or ``“”``) must stand word for word in one of the articles
it cites (``……`` may leave words out). Citations of other laws are not checked: only the
Constitution is shipped. Pure Python: the text is ``quizzes/banks/constitution.text.yaml``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

__all__ = [
    "CitationFinding",
    "LawText",
    "check_citations",
    "chinese_numeral",
    "cited_articles",
    "constitution",
    "quotations",
]

PREAMBLE = 0  # the preamble, cited as 序言, stands where an article number would

_NUMERAL = "零〇一二三四五六七八九十百"
_ARTICLE = re.compile(rf"第([{_NUMERAL}]+|\d+)条(?:(至|到|—|-|～|~)第([{_NUMERAL}]+|\d+)条)?")
_LAW_NAME = re.compile(r"《([^《》]{1,60})》")
_BARE_CONSTITUTION = re.compile(r"(?<!《)(?:中华人民共和国)?宪法(?=第|序言)")
_PREAMBLE = re.compile(r"序言")
_CONSTITUTION_NAMES = frozenset({"宪法", "中华人民共和国宪法"})
_QUOTE = re.compile(r"「([^「」]+)」|“([^“”]+)”")
_ELLIPSIS = re.compile(r"…+|\.{3,}")
_EDGE_PUNCTUATION = "。，、；：,;:"
_DIGITS = {ch: value for value, ch in enumerate("零一二三四五六七八九")} | {"〇": 0}


@dataclass(frozen=True, slots=True)
class LawText:
    """A law as published: the preamble's paragraphs and each article's paragraphs."""

    name: str
    version: str
    preamble: tuple[str, ...]
    articles: dict[int, tuple[str, ...]]

    def passage(self, number: int) -> tuple[str, ...] | None:
        """The paragraphs of an article (``PREAMBLE`` for the preamble), ``None`` if none."""
        if number == PREAMBLE:
            return self.preamble or None
        return self.articles.get(number)


@dataclass(frozen=True, slots=True)
class CitationFinding:
    """Something wrong with what an explanation cites: ``code`` and its message ``params``."""

    code: str
    params: dict[str, str | int]


@cache
def constitution() -> LawText:
    """The Constitution as amended on 11 March 2018 (``quizzes/banks/constitution.text.yaml``)."""
    raw = resources.files("quizzes").joinpath("banks", "constitution.text.yaml").read_text("utf-8")
    data = yaml.safe_load(raw)
    articles = {int(number): tuple(paragraphs) for number, paragraphs in data["articles"].items()}
    return LawText(
        name=str(data["name"]),
        version=str(data["version"]),
        preamble=tuple(data["preamble"]),
        articles=articles,
    )


def chinese_numeral(text: str) -> int | None:
    """``一百四十三`` → 143, ``一百零一`` → 101, ``十`` → 10, ``45`` → 45; ``None`` if not one."""
    if text.isdigit():
        return int(text)
    total = 0
    digit: int | None = None
    for ch in text:
        if ch in _DIGITS:
            digit = _DIGITS[ch]
        elif ch == "十":
            total += (1 if digit is None else digit) * 10
            digit = None
        elif ch == "百":
            if digit is None:
                return None
            total += digit * 100
            digit = None
        else:
            return None
    return total + (digit or 0) or None


def _spans_of_constitution(text: str, default: bool) -> list[tuple[int, int]]:
    """The stretches of ``text`` that speak of the Constitution: from a mention of it up to
    the next law named in 《》. ``default`` says whether the text starts speaking of it."""
    marks: list[tuple[int, bool]] = [(0, default)]
    for match in _LAW_NAME.finditer(text):
        marks.append((match.start(), match.group(1).strip() in _CONSTITUTION_NAMES))
    for match in _BARE_CONSTITUTION.finditer(text):
        marks.append((match.start(), True))
    marks.sort()
    spans: list[tuple[int, int]] = []
    for index, (start, is_constitution) in enumerate(marks):
        end = marks[index + 1][0] if index + 1 < len(marks) else len(text)
        if is_constitution and end > start:
            spans.append((start, end))
    return spans


def cited_articles(text: str, *, default: bool = False) -> list[tuple[str, int | None]]:
    """The Constitution's articles ``text`` cites, as written and as numbers (``None`` when
    the number cannot be read); ``("序言", PREAMBLE)`` for the preamble. A range
    (``第一百四十一条至第一百四十三条``) cites every article in it."""
    found: list[tuple[str, int | None]] = []
    for start, end in _spans_of_constitution(text, default):
        part = text[start:end]
        for match in _ARTICLE.finditer(part):
            first = chinese_numeral(match.group(1))
            last = chinese_numeral(match.group(3)) if match.group(3) else first
            if first is None or last is None or last < first or last - first > 200:
                found.append((match.group(0), None))
                continue
            written = match.group(0) if match.group(3) else f"第{match.group(1)}条"
            found.extend((written, number) for number in range(first, last + 1))
        if _PREAMBLE.search(part):
            found.append(("序言", PREAMBLE))
    return found


def quotations(text: str) -> list[str]:
    """The passages ``text`` marks as quoted, in 「」 or “”."""
    return [first or second for first, second in _QUOTE.findall(text)]


def _fold(text: str) -> str:
    """Compare as published: width and spacing aside, 〇 and ○ the same."""
    folded = unicodedata.normalize("NFKC", text.replace("○", "〇"))
    return "".join(folded.split())


def _pieces(quote: str) -> list[str]:
    pieces = (_fold(piece).strip(_EDGE_PUNCTUATION) for piece in _ELLIPSIS.split(quote))
    return [piece for piece in pieces if piece]


def _stands_in(pieces: list[str], paragraphs: tuple[str, ...]) -> bool:
    """Whether the pieces appear in order in the article (across its paragraphs)."""
    whole = _fold("".join(paragraphs))
    at = 0
    for piece in pieces:
        found = whole.find(_fold(piece), at)
        if found < 0:
            return False
        at = found + len(_fold(piece))
    return True


def _source_speaks_of_constitution(source: str) -> bool:
    return bool(re.match(r"\s*(《?(中华人民共和国)?宪法》?)", source))


def check_citations(
    explanation: str, source: str = "", law: LawText | None = None
) -> list[CitationFinding]:
    """What is wrong with the Constitution articles an explanation and its source cite, and
    with the passages the explanation quotes from them."""
    text = law or constitution()
    findings: list[CitationFinding] = []
    default = _source_speaks_of_constitution(source)
    cited = cited_articles(explanation, default=default)
    for written, number in [*cited, *cited_articles(source, default=default)]:
        if number is None or text.passage(number) is None:
            findings.append(
                CitationFinding("cites_missing_article", {"article": written, "law": text.name})
            )
    if not default and not cited:
        return findings
    numbers = [number for _, number in cited or cited_articles(source, default=default)]
    passages = [
        passage
        for number in numbers
        if number is not None and (passage := text.passage(number)) is not None
    ]
    if not passages:
        return findings
    for quote in quotations(explanation):
        pieces = _pieces(quote)
        if pieces and not any(_stands_in(pieces, passage) for passage in passages):
            shown = quote if len(quote) <= 30 else quote[:29] + "…"
            findings.append(
                CitationFinding("quote_not_in_article", {"quote": shown, "law": text.name})
            )
    return findings
