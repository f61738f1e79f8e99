"""Locate a font that can draw Chinese text (invite cards, certificates, charts).

Lookup order: the ``PUFA_CJK_FONT`` environment variable, the usual places Debian's CJK font
packages install to, then fontconfig's ``fc-match``. Nothing is downloaded at run time: on a
server without a CJK font, install the Debian package ``fonts-wqy-microhei``.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import unicodedata
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

__all__ = [
    "DEBIAN_FONT_PACKAGE",
    "FONT_ENV_VAR",
    "FontMissingError",
    "find_cjk_font",
    "load_font",
    "missing_glyphs",
    "require_cjk_font",
]

logger = logging.getLogger(__name__)

FONT_ENV_VAR = "PUFA_CJK_FONT"
DEBIAN_FONT_PACKAGE = "fonts-wqy-microhei"

DEBIAN_FONT_CANDIDATES: tuple[Path, ...] = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/arphic/uming.ttc"),
    Path("/usr/share/fonts/truetype/arphic/ukai.ttc"),
)

# A code point no font maps: rendering it shows the font's "missing glyph" shape.
_UNMAPPED = "\U0010fffd"
_PROBE_SIZE = 32
# Spaces, controls and format characters draw nothing in any font.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})


class FontMissingError(RuntimeError):
    """No usable CJK font: Chinese text would come out as empty boxes."""

    def __init__(self, detail: str | None = None) -> None:
        message = (
            "No font that can draw Chinese text was found. Install the Debian package "
            f"{DEBIAN_FONT_PACKAGE} (apt-get install {DEBIAN_FONT_PACKAGE}) or point the "
            f"{FONT_ENV_VAR} environment variable at a .ttf/.ttc/.otf CJK font file."
        )
        if detail:
            message = f"{detail} {message}"
        super().__init__(message)


def _from_env() -> Path | None:
    value = os.environ.get(FONT_ENV_VAR, "").strip()
    if not value:
        return None
    path = Path(value).expanduser()
    if path.is_file():
        return path
    logger.warning(
        "%s=%s is not a font file; looking for a CJK font elsewhere", FONT_ENV_VAR, value
    )
    return None


def _from_fc_match() -> Path | None:
    executable = shutil.which("fc-match")
    if executable is None:
        return None
    try:
        result = subprocess.run(
            [executable, "-f", "%{file}\n%{lang}", ":lang=zh"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        return None
    file_line, _, langs = result.stdout.partition("\n")
    # fc-match always answers with its best font, even one without Chinese: check its languages.
    if not any(lang.startswith("zh") for lang in langs.split("|")):
        return None
    path = Path(file_line.strip())
    return path if file_line.strip() and path.is_file() else None


def find_cjk_font() -> Path | None:
    """The first CJK font found, or ``None``."""
    from_env = _from_env()
    if from_env is not None:
        return from_env
    for candidate in DEBIAN_FONT_CANDIDATES:
        if candidate.is_file():
            return candidate
    return _from_fc_match()


def require_cjk_font(font_path: Path | None = None) -> Path:
    """``font_path`` if given, else :func:`find_cjk_font`; raise :class:`FontMissingError`."""
    if font_path is not None:
        if not Path(font_path).is_file():
            raise FontMissingError(f"Font file {font_path} does not exist.")
        return Path(font_path)
    found = find_cjk_font()
    if found is None:
        raise FontMissingError()
    return found


@lru_cache(maxsize=32)
def load_font(font_path: Path, size: int) -> ImageFont.FreeTypeFont:
    """Load (and cache) a font at a pixel size; raise :class:`FontMissingError` if unreadable."""
    try:
        return ImageFont.truetype(str(font_path), size)
    except OSError as exc:
        raise FontMissingError(f"Font file {font_path} cannot be loaded ({exc}).") from exc


@lru_cache(maxsize=4096)
def _glyph_bitmap(font_path: Path, char: str) -> tuple[tuple[int, int], bytes]:
    mask = load_font(font_path, _PROBE_SIZE).getmask(char)
    return mask.size, bytes(mask)


def missing_glyphs(font_path: Path, text: str) -> list[str]:
    """Characters of ``text`` the font would draw as its missing-glyph shape, in text order."""
    notdef = _glyph_bitmap(font_path, _UNMAPPED)
    missing: list[str] = []
    for char in dict.fromkeys(text):
        if unicodedata.category(char) in _INVISIBLE_CATEGORIES:
            continue
        if _glyph_bitmap(font_path, char) == notdef:
            missing.append(char)
    return missing
