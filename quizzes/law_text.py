"""The texts of the laws the bundled banks cite, shipped as data, and the check of what an
explanation cites.

An explanation that cites a shipped law (``《宪法》第三十三条第二款``, ``宪法序言``,
``《未成年人保护法》第三十九条``, or any article after the law's full name) must cite an
article that exists, and every passage it marks as a quotation (in ``「」`` or ``“”``) must
stand word for word in one of the articles it cites (``……`` may leave words out). An
article of a law that is not shipped is not checked, and the check says so. Pure Python:
the texts are ``quizzes/banks/<law>.text.yaml``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

__all__ = [
    "PREAMBLE",
    "SHIPPED_LAWS",
    "Citation",
    "CitationFinding",
    "LawText",
    "check_citations",
    "chinese_numeral",
    "citations",
    "cited_articles",
    "constitution",
    "law_text",
    "quotations",
]

PREAMBLE = 0  # the preamble, cited as 序言, stands where an article number would
CONSTITUTION = "宪法"

# The shipped laws by the short name a citation uses (the full name is "中华人民共和国" and
# it), and the file each text is in.
SHIPPED_LAWS: dict[str, str] = {
    CONSTITUTION: "constitution",
    "未成年人保护法": "minors_protection_law",
    "预防未成年人犯罪法": "juvenile_delinquency_prevention_law",
    "国家安全法": "national_security_law",
    "民法典": "civil_code",
    "禁毒法": "anti_drug_law",
    "反电信网络诈骗法": "anti_telecom_fraud_law",
}

_NUMERAL = "零〇一二三四五六七八九十百千"
_ARTICLE = re.compile(rf"第([{_NUMERAL}]+|\d+)条(?:(至|到|—|-|～|~)第([{_NUMERAL}]+|\d+)条)?")
_LAW_NAME = re.compile(r"《([^《》]{1,60})》")
# A name in 《》 that is a law or a legal document, not a song or a book.
_LAW_LIKE = re.compile(r"(法|法典|条例|规定|办法|决定|解释|规则|细则|公约|宪法修正案)$")
_BARE_LAW = re.compile(
    r"(?:中华人民共和国)?("
    + "|".join(sorted(map(re.escape, SHIPPED_LAWS), key=len, reverse=True))
    + r")(?=第|序言)"
)
_PREAMBLE = re.compile(r"序言")
_FULL_NAME_PREFIX = "中华人民共和国"
_QUOTE = re.compile(r"「([^「」]+)」|“([^“”]+)”")
_ELLIPSIS = re.compile(r"…+|\.{3,}")
_EDGE_PUNCTUATION = "。，、；：,;:"
_DIGITS = {ch: value for value, ch in enumerate("零一二三四五六七八九")} | {"〇": 0}
_UNITS = {"十": 10, "百": 100, "千": 1000}


@dataclass(frozen=True, slots=True)
class LawText:
    """A law as published: the preamble's paragraphs (if it has one) and each article's
    paragraphs."""

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
class Citation:
    """An article a text cites: the law's short name (``宪法``, ``民法典``; a law that is not
    shipped keeps the name as written), the article as written, and its number (``None``
    when it cannot be read)."""

    law: str
    written: str
    number: int | None


@dataclass(frozen=True, slots=True)
class CitationFinding:
    """Something wrong with what an explanation cites: ``code`` and its message ``params``.
    ``law_not_checked`` is a note: the law is not shipped, so nothing of it was checked."""

    code: str
    params: dict[str, str | int]


def _yaml_loader() -> type[yaml.SafeLoader]:
    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def law_text(short_name: str) -> LawText | None:
    """The shipped text of the law called ``short_name`` (``民法典``), ``None`` if none."""
    stem = SHIPPED_LAWS.get(short_name)
    if stem is None:
        return None
    raw = resources.files("quizzes").joinpath("banks", f"{stem}.text.yaml").read_text("utf-8")
    data = yaml.load(raw, Loader=_yaml_loader())  # a safe loader: libyaml's when built
    articles = {int(number): tuple(paragraphs) for number, paragraphs in data["articles"].items()}
    return LawText(
        name=str(data["name"]),
        version=str(data["version"]),
        preamble=tuple(data.get("preamble") or ()),
        articles=articles,
    )


def constitution() -> LawText:
    """The Constitution as amended on 11 March 2018 (``quizzes/banks/constitution.text.yaml``)."""
    text = law_text(CONSTITUTION)
    assert text is not None
    return text


def chinese_numeral(text: str) -> int | None:
    """``一百四十三`` → 143, ``一百零一`` → 101, ``十`` → 10, ``一千二百六十`` → 1260,
    ``45`` → 45; ``None`` if not one."""
    if text.isdigit():
        return int(text)
    total = 0
    digit: int | None = None
    for ch in text:
        if ch in _DIGITS:
            digit = _DIGITS[ch]
        elif ch in _UNITS:
            if digit is None and ch != "十":
                return None
            total += (1 if digit is None else digit) * _UNITS[ch]
            digit = None
        else:
            return None
    return total + (digit or 0) or None


def _short_name(name: str) -> str:
    name = name.strip()
    return name.removeprefix(_FULL_NAME_PREFIX) or name


def _law_spans(text: str, default: str | None) -> list[tuple[int, int, str]]:
    """The stretches of ``text`` that speak of one law each: from a mention of it up to the
    next law named. ``default`` is the law the text starts speaking of, if any."""
    marks: list[tuple[int, str | None]] = [(0, default)]
    named: list[tuple[int, int]] = []
    for match in _LAW_NAME.finditer(text):
        name = _short_name(match.group(1))
        if _LAW_LIKE.search(name):
            marks.append((match.start(), name))
        named.append(match.span())
    for match in _BARE_LAW.finditer(text):
        if not any(start <= match.start() < end for start, end in named):
            marks.append((match.start(), match.group(1)))
    marks.sort(key=lambda mark: mark[0])
    spans: list[tuple[int, int, str]] = []
    for index, (start, law) in enumerate(marks):
        end = marks[index + 1][0] if index + 1 < len(marks) else len(text)
        if law is not None and end > start:
            spans.append((start, end, law))
    return spans


def citations(text: str, *, default: str | None = None) -> list[Citation]:
    """Every article ``text`` cites, of any law; ``序言`` as ``PREAMBLE``. A range
    (``第一百四十一条至第一百四十三条``) cites every article in it. ``default`` is the law
    the text starts speaking of (the one its question's source names)."""
    found: list[Citation] = []
    for start, end, law in _law_spans(text, default):
        part = text[start:end]
        for match in _ARTICLE.finditer(part):
            first = chinese_numeral(match.group(1))
            last = chinese_numeral(match.group(3)) if match.group(3) else first
            if first is None or last is None or last < first or last - first > 200:
                found.append(Citation(law, match.group(0), None))
                continue
            written = match.group(0) if match.group(3) else f"第{match.group(1)}条"
            found.extend(Citation(law, written, number) for number in range(first, last + 1))
        if _PREAMBLE.search(part):
            found.append(Citation(law, "序言", PREAMBLE))
    return found


def cited_articles(text: str, *, default: bool = False) -> list[tuple[str, int | None]]:
    """The Constitution's articles ``text`` cites, as written and as numbers (``default``:
    the text starts speaking of the Constitution)."""
    return [
        (cited.written, cited.number)
        for cited in citations(text, default=CONSTITUTION if default else None)
        if cited.law == CONSTITUTION
    ]


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


def _source_law(source: str) -> str | None:
    """The law a question's source starts with (``宪法第五条`` → ``宪法``), if it names one."""
    match = re.match(
        r"\s*《?((?:中华人民共和国)?[^《》第\s]*?(?:宪法|法典|法))》?(?=第|序言|$)", source
    )
    if match is None:
        return None
    name = _short_name(match.group(1))
    return name if name in SHIPPED_LAWS or _LAW_LIKE.search(name) else None


def check_citations(explanation: str, source: str = "") -> list[CitationFinding]:
    """What is wrong with the articles an explanation and its source cite, and with the
    passages the explanation quotes from them; and a note for each law cited that is not
    shipped (its articles and quotations are not checked)."""
    findings: list[CitationFinding] = []
    default = _source_law(source)
    cited = citations(explanation, default=default)
    from_source = citations(source, default=default)
    unchecked: list[str] = []
    for citation in [*cited, *from_source]:
        text = law_text(citation.law)
        if text is None:
            if citation.law not in unchecked:
                unchecked.append(citation.law)
            continue
        if citation.number is None or text.passage(citation.number) is None:
            findings.append(
                CitationFinding(
                    "cites_missing_article",
                    {"article": citation.written, "law": text.name, "version": text.version},
                )
            )
    findings.extend(CitationFinding("law_not_checked", {"law": law}) for law in unchecked)
    if default is None and not cited:
        return findings
    passages: list[tuple[LawText, tuple[str, ...]]] = []
    for citation in cited or from_source:
        text = law_text(citation.law)
        if text is not None and citation.number is not None:
            passage = text.passage(citation.number)
            if passage is not None:
                passages.append((text, passage))
    if not passages:
        return findings
    for quote in quotations(explanation):
        pieces = _pieces(quote)
        if not pieces or any(_stands_in(pieces, passage) for _, passage in passages):
            continue
        if unchecked:
            continue  # it may quote the law that is not shipped
        shown = quote if len(quote) <= 30 else quote[:29] + "…"
        findings.append(
            CitationFinding("quote_not_in_article", {"quote": shown, "law": passages[0][0].name})
        )
    return findings
