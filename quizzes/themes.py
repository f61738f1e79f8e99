"""Themes: what an activity, article or campaign is about.

The bureau's report groups the year's work by them (宪法, 民法典, 国家安全…), and the
calendar's key dates each come with one.
"""

from __future__ import annotations

from enum import StrEnum


class Theme(StrEnum):
    """What an activity, article or campaign is about: the bureau's themes of the year."""

    CONSTITUTION = "constitution"
    CIVIL_CODE = "civil_code"
    NATIONAL_SECURITY = "national_security"
    ANTI_DRUG = "anti_drug"
    ANTI_BULLYING = "anti_bullying"
    ANTI_FRAUD = "anti_fraud"
    MINORS = "minors"
    OTHER = "other"


# The names teachers type in a spreadsheet, each a theme's own (zh first, then en).
THEME_NAMES: dict[Theme, tuple[str, ...]] = {
    Theme.CONSTITUTION: ("宪法", "宪法宣传", "constitution"),
    Theme.CIVIL_CODE: ("民法典", "civil code"),
    Theme.NATIONAL_SECURITY: ("国家安全", "国家安全教育", "national security"),
    Theme.ANTI_DRUG: ("禁毒", "禁毒教育", "anti-drug", "drugs"),
    Theme.ANTI_BULLYING: ("防欺凌", "防校园欺凌", "反欺凌", "anti-bullying", "bullying"),
    Theme.ANTI_FRAUD: ("防诈骗", "反诈", "防电信诈骗", "anti-fraud", "fraud"),
    Theme.MINORS: ("未成年人保护", "未成年人保护法", "minors", "minor protection"),
    Theme.OTHER: ("其他", "other"),
}


def theme_named(text: str) -> Theme | None:
    """The theme a spreadsheet cell names (any of its names, case and width aside)."""
    import unicodedata

    folded = unicodedata.normalize("NFKC", text).strip().casefold()
    for theme, names in THEME_NAMES.items():
        if folded == theme.value or folded in (name.casefold() for name in names):
            return theme
    return None
