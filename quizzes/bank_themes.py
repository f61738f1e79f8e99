"""The theme a quiz campaign takes from its question banks when staff do not give one.

Each bundled bank is about one law, so its theme is known; a bank the bureau imported
itself is about the one theme its name names (宪法, 民法典…), if it names exactly one.
A campaign takes its banks' theme when they all have the same one, else 其他.

The bundled 防欺凌防诈骗知识 bank covers two themes; it counts as 防诈骗, the theme of
30 of its 39 questions (the anti-fraud law), and staff choose 防欺凌 where a campaign
is about bullying. Migration 0031 gave existing campaigns their theme by these rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePath

from quizzes.themes import Theme

__all__ = ["BUNDLED_BANK_THEMES", "bank_theme", "campaign_theme"]

# The banks shipped in quizzes/banks/, by file name.
BUNDLED_BANK_THEMES: dict[str, Theme] = {
    "constitution.zh.yaml": Theme.CONSTITUTION,
    "civil_code.zh.yaml": Theme.CIVIL_CODE,
    "national_security.zh.yaml": Theme.NATIONAL_SECURITY,
    "anti_drug.zh.yaml": Theme.ANTI_DRUG,
    "minors_protection.zh.yaml": Theme.MINORS,
    "delinquency_prevention.zh.yaml": Theme.MINORS,
    "bullying_fraud.zh.yaml": Theme.ANTI_FRAUD,
}

# Words in a bank's name that say its theme.
_NAME_WORDS: dict[Theme, tuple[str, ...]] = {
    Theme.CONSTITUTION: ("宪法",),
    Theme.CIVIL_CODE: ("民法典",),
    Theme.NATIONAL_SECURITY: ("国家安全",),
    Theme.ANTI_DRUG: ("禁毒", "毒品"),
    Theme.ANTI_BULLYING: ("欺凌",),
    Theme.ANTI_FRAUD: ("诈骗", "反诈"),
    Theme.MINORS: ("未成年人",),
}


def bank_theme(name: str, source_filename: str = "") -> Theme | None:
    """A bank's theme: a bundled bank's by its file name, another's by the one theme its
    name names; ``None`` when it names none or several."""
    bundled = BUNDLED_BANK_THEMES.get(PurePath(source_filename).name)
    if bundled is not None:
        return bundled
    named = {theme for theme, words in _NAME_WORDS.items() if any(w in name for w in words)}
    return named.pop() if len(named) == 1 else None


def campaign_theme(bank_themes: Iterable[Theme | None]) -> Theme:
    """The theme its banks agree on (each bank's :func:`bank_theme`), else 其他."""
    found = set(bank_themes)
    if len(found) == 1:
        (only,) = found
        if only is not None:
            return only
    return Theme.OTHER
