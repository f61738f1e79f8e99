"""One term per concept: the zh-CN catalogs use only the glossary's term where the glossary
names a variant to avoid (docs/GLOSSARY.md, "not" column)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.i18n import load_catalog

ROOT = Path(__file__).resolve().parents[1]
GLOSSARY = ROOT / "docs" / "GLOSSARY.md"

# A file format, not wording: the roster template's column names.
FILE_FORMAT_KEYS = {"roster.problem.no_header"}


def forbidden_variants() -> dict[str, str]:
    """Variant -> the glossary's term, from the table's "not" column."""
    variants: dict[str, str] = {}
    for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[0] in ("zh", "---"):
            continue
        for variant in filter(None, (v.strip() for v in cells[3].split(","))):
            variants[variant] = cells[0]
    return variants


def test_the_glossary_lists_the_terms_the_review_found_mixed() -> None:
    variants = forbidden_variants()
    assert variants["登记"] == "注册" and variants["教师"] == "教职工"


@pytest.mark.parametrize("variant", sorted(forbidden_variants()))
def test_the_chinese_catalogs_use_the_glossary_term(variant: str) -> None:
    catalog = load_catalog("zh-CN")
    found = sorted(
        key for key, text in catalog.items() if variant in text and key not in FILE_FORMAT_KEYS
    )
    term = forbidden_variants()[variant]
    assert found == [], f"use {term!r}, not {variant!r}, in: {found}"
