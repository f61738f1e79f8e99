"""``--theme`` of ``pufa article create`` and ``pufa campaign create``: any name of a theme
(:func:`quizzes.themes.theme_named`); another is refused with the list of themes."""

from __future__ import annotations

import click

from bot.cli_support import terminal_gettext
from bot.config import Settings
from quizzes.themes import THEME_NAMES, Theme, theme_named

__all__ = ["THEME_HELP", "theme_option"]

THEME_HELP = "What it is about: a theme by any of its names (宪法 or constitution, 其他...)."


def theme_option(text: str | None, settings: Settings) -> Theme | None:
    """The theme ``--theme`` names (``None`` without the option)."""
    if text is None:
        return None
    theme = theme_named(text)
    if theme is None:
        _ = terminal_gettext(settings)
        names = "、".join(_both_names(names) for names in THEME_NAMES.values())
        raise click.BadParameter(
            _("theme.cli.unknown", value=text, names=names), param_hint="'--theme'"
        )
    return theme


def _both_names(names: tuple[str, ...]) -> str:
    """A theme's Chinese name and its first English one: ``宪法 / constitution``."""
    english = next((name for name in names if name.isascii()), None)
    return f"{names[0]} / {english}" if english else names[0]
