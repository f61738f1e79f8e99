"""Certificates: a PNG with the name, the campaign, the score, the issuer, the date, the serial
number and how to verify it."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from bot.fonts import load_font, require_cjk_font

WIDTH, HEIGHT = 1600, 1130
RED = (170, 20, 30)
GOLD = (196, 154, 60)
INK = (40, 30, 30)
NO_LINE_START = frozenset("，。、；：！？）》”’,.;:!?)·")
TEXT_LEFT = 170
TEXT_WIDTH = WIDTH - 2 * TEXT_LEFT
# The name line shrinks from the first size to the last before it wraps: long Uyghur names
# (阿卜杜热合曼·…·伊力哈木) and long Latin ones must stay inside the frame.
NAME_SIZES = (64, 58, 52, 48)
NAME_LINE_GAP = 66
# The verification line (a web address may be long) shrinks, then wraps onto two lines.
VERIFY_SIZES = (26, 24, 22)


@dataclass(frozen=True, slots=True)
class CertificateText:
    """Everything printed, already in the participant's language."""

    title: str
    name_line: str
    body: str
    issuer: str
    date_line: str
    serial_line: str = ""
    verify_line: str = ""


@dataclass(frozen=True, slots=True)
class Certificate:
    real_name: str
    campaign: str
    percent: float
    issued_on: date


def render_certificate(text: CertificateText, font_path: Path | None = None) -> bytes:
    """Draw the certificate; refuses (FontMissingError) rather than print empty boxes."""
    font_file = require_cjk_font(font_path)
    image = Image.new("RGB", (WIDTH, HEIGHT), (255, 252, 244))
    draw = ImageDraw.Draw(image)
    draw.rectangle((30, 30, WIDTH - 30, HEIGHT - 30), outline=GOLD, width=12)
    draw.rectangle((60, 60, WIDTH - 60, HEIGHT - 60), outline=RED, width=3)
    title_font = load_font(font_file, 110)
    body_font = load_font(font_file, 46)
    small_font = load_font(font_file, 40)
    draw.text((WIDTH / 2, 210), text.title, font=title_font, fill=RED, anchor="mm")
    name_font, name_lines = _fit_name(text.name_line, font_file)
    y = 400 - (len(name_lines) - 1) * NAME_LINE_GAP // 2
    for line in name_lines:
        draw.text((TEXT_LEFT, y), line, font=name_font, fill=INK, anchor="lm")
        y += NAME_LINE_GAP
    y = max(510, y + 30)
    for line in _wrap(text.body, body_font, WIDTH - 340):
        draw.text((230, y), line, font=body_font, fill=INK, anchor="lm")
        y += 78
    draw.text((WIDTH - 170, HEIGHT - 250), text.issuer, font=small_font, fill=INK, anchor="rm")
    draw.text((WIDTH - 170, HEIGHT - 180), text.date_line, font=small_font, fill=INK, anchor="rm")
    note_font = load_font(font_file, 30)
    draw.text((TEXT_LEFT, HEIGHT - 180), text.serial_line, font=note_font, fill=INK, anchor="lm")
    verify_font, verify_lines = _fit(text.verify_line, font_file, VERIFY_SIZES, WIDTH - 200)
    y = HEIGHT - 105 - (len(verify_lines) - 1) * 28
    for line in verify_lines:
        draw.text((WIDTH / 2, y), line, font=verify_font, fill=INK, anchor="mm")
        y += 28
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _fit_name(name_line: str, font_file: Path) -> tuple[ImageFont.FreeTypeFont, list[str]]:
    return _fit(name_line, font_file, NAME_SIZES, TEXT_WIDTH)


def _fit(
    line: str, font_file: Path, sizes: tuple[int, ...], width: int
) -> tuple[ImageFont.FreeTypeFont, list[str]]:
    """The largest size at which the line fits on one line; else the smallest, wrapped."""
    for size in sizes:
        font = load_font(font_file, size)
        if font.getlength(line) <= width:
            return font, [line]
    return font, _wrap(line, font, width)


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Break Chinese (no spaces) or English text into lines that fit ``width`` pixels."""
    measure = font.getlength
    lines: list[str] = []
    for paragraph in text.split("\n"):
        current = ""
        for token in _tokens(paragraph, lambda word: measure(word) > width):
            # Chinese typesetting never starts a line with closing punctuation.
            if current and measure(current + token) > width and token not in NO_LINE_START:
                lines.append(current.rstrip())
                current = token.lstrip()
            else:
                current += token
        lines.append(current)
    return lines


def _tokens(text: str, too_wide: Callable[[str], bool]) -> list[str]:
    """Words for Latin text, single characters for CJK and for a word too wide for a line."""
    tokens: list[str] = []
    word = ""

    def end_word() -> None:
        tokens.extend(list(word) if too_wide(word) else [word])

    for char in text:
        if char.isascii() and not char.isspace():
            word += char
            continue
        if word:
            end_word()
            word = ""
        tokens.append(char)
    if word:
        end_word()
    return tokens
