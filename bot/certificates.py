"""Certificates: a PNG with the participant's name, the campaign, the score and the date."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from bot.fonts import load_font, require_cjk_font

WIDTH, HEIGHT = 1600, 1130
RED = (170, 20, 30)
GOLD = (196, 154, 60)
INK = (40, 30, 30)
NO_LINE_START = frozenset("，。、；：！？）》”’,.;:!?)")


@dataclass(frozen=True, slots=True)
class CertificateText:
    """Everything printed, already in the participant's language."""

    title: str
    name_line: str
    body: str
    issuer: str
    date_line: str


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
    name_font = load_font(font_file, 64)
    body_font = load_font(font_file, 46)
    small_font = load_font(font_file, 40)
    draw.text((WIDTH / 2, 210), text.title, font=title_font, fill=RED, anchor="mm")
    draw.text((170, 400), text.name_line, font=name_font, fill=INK, anchor="lm")
    y = 510
    for line in _wrap(text.body, body_font, WIDTH - 340):
        draw.text((230, y), line, font=body_font, fill=INK, anchor="lm")
        y += 78
    draw.text((WIDTH - 170, HEIGHT - 250), text.issuer, font=small_font, fill=INK, anchor="rm")
    draw.text((WIDTH - 170, HEIGHT - 180), text.date_line, font=small_font, fill=INK, anchor="rm")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Break Chinese (no spaces) or English text into lines that fit ``width`` pixels."""
    measure = font.getlength
    lines: list[str] = []
    for paragraph in text.split("\n"):
        current = ""
        for token in _tokens(paragraph):
            # Chinese typesetting never starts a line with closing punctuation.
            if current and measure(current + token) > width and token not in NO_LINE_START:
                lines.append(current.rstrip())
                current = token.lstrip()
            else:
                current += token
        lines.append(current)
    return lines


def _tokens(text: str) -> list[str]:
    """Words for Latin text, single characters for CJK."""
    tokens: list[str] = []
    word = ""
    for char in text:
        if char.isascii() and not char.isspace():
            word += char
            continue
        if word:
            tokens.append(word)
            word = ""
        tokens.append(char)
    if word:
        tokens.append(word)
    return tokens
