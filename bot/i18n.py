"""Translation catalog: every user-facing string, zh-CN first, English complete.

Catalog files live in ``bot/locales/<locale>/*.toml``. Nested tables flatten into dotted
keys (``[start] welcome = "..."`` is ``start.welcome``); placeholders use ``str.format``
syntax. Every file of one locale is merged into one catalog; a key defined twice is an
error, so two features cannot silently overwrite each other's wording.
"""

from __future__ import annotations

import html
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

LOCALES_DIR = Path(__file__).parent / "locales"
DEFAULT_LOCALE = "zh-CN"
SUPPORTED_LOCALES = ("zh-CN", "en")


class CatalogError(Exception):
    """A catalog file is malformed or defines a key twice."""


def _flatten(prefix: str, table: Mapping[str, Any], out: dict[str, str], source: Path) -> None:
    for name, value in table.items():
        key = f"{prefix}.{name}" if prefix else name
        if isinstance(value, Mapping):
            _flatten(key, value, out, source)
        elif isinstance(value, str):
            if key in out:
                raise CatalogError(f"{source.name}: key {key!r} is defined twice")
            out[key] = value
        else:
            raise CatalogError(f"{source.name}: key {key!r} must be a string")


def load_catalog(locale: str, directory: Path = LOCALES_DIR) -> dict[str, str]:
    folder = directory / locale
    if not folder.is_dir():
        raise CatalogError(f"no catalog for locale {locale!r}")
    messages: dict[str, str] = {}
    for path in sorted(folder.glob("*.toml")):
        with path.open("rb") as handle:
            _flatten("", tomllib.load(handle), messages, path)
    return messages


def normalize_locale(code: str | None, default: str = DEFAULT_LOCALE) -> str:
    """Map a Telegram ``language_code`` (``zh-hans``, ``en-US``...) to a supported locale."""
    if not code:
        return default
    lowered = code.lower()
    if lowered.startswith("zh"):
        return "zh-CN"
    if lowered.startswith("en"):
        return "en"
    return default


@dataclass
class Translator:
    """Looks up and formats catalog messages; falls back to the default locale."""

    catalogs: dict[str, dict[str, str]] = field(default_factory=dict)
    default_locale: str = DEFAULT_LOCALE

    @classmethod
    def load(cls, default_locale: str = DEFAULT_LOCALE) -> Translator:
        return cls({code: load_catalog(code) for code in SUPPORTED_LOCALES}, default_locale)

    def get(self, locale: str | None, key: str, /, **params: object) -> str:
        catalog = self.catalogs.get(locale or self.default_locale) or {}
        template = catalog.get(key)
        if template is None:
            template = self.catalogs[self.default_locale].get(key)
        if template is None:
            raise KeyError(f"message {key!r} is missing from the catalog")
        return template.format(**params) if params else template

    def bind(self, locale: str | None) -> Gettext:
        return Gettext(self, locale or self.default_locale)

    def bind_for(self, telegram_language: str | None, chosen: str | None = None) -> Gettext:
        """The language a user is answered in: the one they chose, else their Telegram
        app's (``language_code``), else the default."""
        return self.bind(chosen or normalize_locale(telegram_language, self.default_locale))


@dataclass(frozen=True)
class Gettext:
    """A translator bound to one user's locale: ``_("start.welcome", name=...)``.

    Messages go out with HTML parse mode, so string parameters (names typed by users,
    unit names from a roster) are escaped; :meth:`plain` is for toasts and files.
    """

    translator: Translator
    locale: str

    def __call__(self, key: str, /, **params: object) -> str:
        escaped = {
            k: html.escape(v, quote=False) if isinstance(v, str) else v for k, v in params.items()
        }
        return self.translator.get(self.locale, key, **escaped)

    def plain(self, key: str, /, **params: object) -> str:
        return self.translator.get(self.locale, key, **params)

    def join(self, items: Iterable[str]) -> str:
        """A list as the language writes one: "甲、乙" or "A, B"."""
        return self.plain("list.separator").join(items)


@lru_cache(maxsize=1)
def default_translator() -> Translator:
    return Translator.load()
