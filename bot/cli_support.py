"""What every ``pufa`` command needs: settings (or one clear line), and terminal wording."""

from __future__ import annotations

from collections.abc import Callable

import click

from bot.config import Settings, SettingsError, load_settings
from bot.i18n import Translator


def settings_or_exit() -> Settings:
    """The settings; a missing or malformed one ends the command with one line naming it."""
    try:
        return load_settings()
    except SettingsError as error:
        raise click.ClickException(str(error)) from None


def terminal_gettext(settings: Settings) -> Callable[..., str]:
    """Catalog wording for a terminal (no HTML escaping), in the default locale."""
    return Translator.load(settings.default_locale).bind(settings.default_locale).plain
