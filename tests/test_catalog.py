"""The translation catalog: complete in both languages, and every key the code uses exists."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from bot.i18n import SUPPORTED_LOCALES, CatalogError, Translator, load_catalog, normalize_locale

ROOT = Path(__file__).resolve().parents[1]
CATALOGS = {locale: load_catalog(locale) for locale in SUPPORTED_LOCALES}


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_key_exists_in_every_language() -> None:
    zh, en = set(CATALOGS["zh-CN"]), set(CATALOGS["en"])
    assert zh - en == set(), f"missing in English: {sorted(zh - en)}"
    assert en - zh == set(), f"missing in Chinese: {sorted(en - zh)}"


# Where one language names something the other need not: English adds the English header.
EXTRA_PLACEHOLDERS = {
    "roster.problem.missing_column": {"column_en"},
    # Dates: zh writes the month as a number, en by name (the whole datetime formatted).
    "common.when": {"when.month", "when"},
    "common.span": {"start.year", "start.month", "start"},
    "quiz.question.deadline_on": {"when.month", "when"},
    # A chart's day: zh 12月4日 by number, en "4 Dec" by the month's name.
    "report.timeline.day": {"month", "month_name"},
}


@pytest.mark.parametrize("key", sorted(CATALOGS["zh-CN"]))
def test_placeholders_agree_between_languages(key: str) -> None:
    extra = EXTRA_PLACEHOLDERS.get(key, set())
    assert (
        placeholders(CATALOGS["zh-CN"][key]) - extra == placeholders(CATALOGS["en"][key]) - extra
    )


def test_keys_used_in_code_exist() -> None:
    pattern = re.compile(r"""_(?:\.plain)?\(\s*["']([a-z_.]+)["']""")
    used: set[str] = set()
    for folder in ("bot", "handlers"):
        for path in (ROOT / folder).rglob("*.py"):
            used |= set(pattern.findall(path.read_text(encoding="utf-8")))
    assert used, "the scan found no keys at all"
    missing = sorted(key for key in used if key not in CATALOGS["zh-CN"])
    assert missing == []


def test_duplicate_key_across_files_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "zh-CN").mkdir()
    (tmp_path / "zh-CN" / "a.toml").write_text('[x]\ny = "1"\n', encoding="utf-8")
    (tmp_path / "zh-CN" / "b.toml").write_text('[x]\ny = "2"\n', encoding="utf-8")
    with pytest.raises(CatalogError, match=r"x\.y"):
        load_catalog("zh-CN", tmp_path)


def test_missing_key_is_an_error_not_a_blank_message() -> None:
    with pytest.raises(KeyError):
        Translator.load().get("en", "no.such.key")


@pytest.mark.parametrize(
    ("code", "locale"),
    [("zh-hans", "zh-CN"), ("zh", "zh-CN"), ("en-US", "en"), ("ru", "zh-CN"), (None, "zh-CN")],
)
def test_telegram_language_codes_map_to_our_locales(code: str | None, locale: str) -> None:
    assert normalize_locale(code) == locale


def test_lists_are_written_as_each_language_writes_them() -> None:
    translator = Translator.load()
    assert translator.bind("zh-CN").join(["教师", "家长"]) == "教师、家长"
    assert translator.bind("en").join(["teacher", "parent"]) == "teacher, parent"
