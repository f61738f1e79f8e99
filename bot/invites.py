"""Printable invite cards: a QR code of the bot's start link with the unit's name under it.

:func:`write_invite_pack` writes one PNG per card in ``<regiment>/<school>/`` folders, a CSV
list (UTF-8 with BOM so Excel opens it correctly) and an ``index.html`` page laid out for A4
printing, one school per page.
"""

from __future__ import annotations

import html
import io
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import qrcode
from PIL import Image, ImageDraw, ImageFont

from bot.fonts import FontMissingError, load_font, missing_glyphs, require_cjk_font
from quizzes.spreadsheet_safety import SafeCsvWriter

__all__ = [
    "ROLE_LABELS",
    "FontMissingError",
    "InviteCard",
    "InvitePack",
    "render_invite_png",
    "role_label",
    "safe_path_piece",
    "write_invite_pack",
]

ROLE_LABELS: dict[str, str] = {
    "student": "学生",
    "teacher": "教职工",
    "parent": "家长",
    "admin": "管理员",
}

CSV_COLUMNS = ("团场", "学校", "班级", "角色", "邀请码", "链接", "二维码文件")
SCHOOL_FILE_STEM = "_school"

_CARD_WIDTH = 720
_QR_SIZE = 600
_MARGIN = 36
_LABEL_SIZE = 34
_LABEL_MIN_SIZE = 22
_LABEL_MAX_LINES = 3
_ROLE_SIZE = 44
_LINE_GAP = 10
_PIECE_MAX_CHARS = 60
_SEPARATOR = re.compile(r"\s*·\s*")
_JOINER = " · "


@dataclass(frozen=True)
class InviteCard:
    """One invite: ``link`` opens the bot with ``code``; ``label`` is printed under the QR."""

    code: str
    link: str
    regiment: str
    school: str
    class_name: str | None
    role: str
    label: str


@dataclass(frozen=True)
class InvitePack:
    """What :func:`write_invite_pack` wrote; PNG paths are in card order."""

    out_dir: Path
    csv_path: Path
    html_path: Path
    png_paths: tuple[Path, ...]
    cards: int
    schools: int
    regiments: int


def role_label(role: str) -> str:
    """Chinese name of a role ("student" → 学生); unknown roles are shown as given."""
    return ROLE_LABELS.get(role, role)


# --------------------------------------------------------------------------- PNG


def _qr_image(link: str) -> Image.Image:
    qr: Any = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=4
    )
    qr.add_data(link)
    qr.make(fit=True)
    modules = int(qr.modules_count) + 2 * 4
    qr.box_size = max(1, _QR_SIZE // modules)
    wrapper: Any = qr.make_image(fill_color="black", back_color="white")
    image: Image.Image = wrapper.get_image().convert("L")
    if image.width != _QR_SIZE:
        image = image.resize((_QR_SIZE, _QR_SIZE), Image.Resampling.NEAREST)
    return image


def _wrap_chars(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for char in text:
        if current and font.getlength(current + char) > width:
            lines.append(current.rstrip())
            current = char.lstrip()
        else:
            current += char
    lines.append(current.strip())
    return lines


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Wrap at the " · " separators of a label, and inside a part only when it is too long."""
    lines: list[str] = []
    current = ""
    for segment in (part for part in _SEPARATOR.split(text) if part):
        candidate = f"{current}{_JOINER}{segment}" if current else segment
        if font.getlength(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        pieces = _wrap_chars(segment, font, width)
        lines.extend(pieces[:-1])
        current = pieces[-1]
    if current:
        lines.append(current)
    return lines or [""]


def _fit_label(text: str, font_path: Path, width: int) -> tuple[ImageFont.FreeTypeFont, list[str]]:
    size = _LABEL_SIZE
    while True:
        font = load_font(font_path, size)
        lines = _wrap(text, font, width)
        if len(lines) <= _LABEL_MAX_LINES or size <= _LABEL_MIN_SIZE:
            return font, lines
        size -= 2


def _line_height(font: ImageFont.FreeTypeFont) -> int:
    ascent, descent = font.getmetrics()
    return int(ascent + descent)


def render_invite_png(card: InviteCard, font_path: Path | None = None) -> bytes:
    """The card as PNG bytes: QR code, the label and the role in Chinese under it.

    Raises :class:`FontMissingError` when no CJK font is available or the font lacks a glyph
    of the text, instead of printing empty boxes.
    """
    font_file = require_cjk_font(font_path)
    role_text = role_label(card.role)
    label_text = " ".join(card.label.split())
    lacking = missing_glyphs(font_file, label_text + role_text)
    if lacking:
        shown = "".join(lacking[:10])
        raise FontMissingError(f"Font {font_file.name} cannot draw these characters: {shown}.")

    text_width = _CARD_WIDTH - 2 * _MARGIN
    label_font, label_lines = _fit_label(label_text, font_file, text_width)
    role_font = load_font(font_file, _ROLE_SIZE)
    label_height = _line_height(label_font)
    role_height = _line_height(role_font)
    qr = _qr_image(card.link)

    top = (_CARD_WIDTH - _QR_SIZE) // 2
    height = (
        top
        + _QR_SIZE
        + _LINE_GAP
        + len(label_lines) * (label_height + _LINE_GAP)
        + _LINE_GAP
        + role_height
        + _MARGIN
    )
    canvas = Image.new("L", (_CARD_WIDTH, height), 255)
    canvas.paste(qr, (top, top))
    draw = ImageDraw.Draw(canvas)
    y = top + _QR_SIZE + _LINE_GAP
    for line in label_lines:
        draw.text((_CARD_WIDTH / 2, y), line, font=label_font, fill=0, anchor="ma")
        y += label_height + _LINE_GAP
    y += _LINE_GAP
    draw.text((_CARD_WIDTH / 2, y), role_text, font=role_font, fill=0, anchor="ma")

    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG", dpi=(300, 300))
    return buffer.getvalue()


# --------------------------------------------------------------------------- pack

_UNSAFE_CHARS = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')
_WINDOWS_RESERVED = re.compile(r"(con|prn|aux|nul|com\d|lpt\d)(\..*)?", re.IGNORECASE)


def safe_path_piece(text: str, *, max_chars: int = _PIECE_MAX_CHARS) -> str:
    """One file or folder name that is safe on Linux, macOS and Windows."""
    piece = unicodedata.normalize("NFC", text)
    piece = _UNSAFE_CHARS.sub("_", piece)
    piece = " ".join(piece.split())
    piece = piece.strip(" .")
    if not piece:
        return "_"
    if _WINDOWS_RESERVED.fullmatch(piece):
        piece = f"_{piece}"
    return piece[:max_chars].rstrip(" .") or "_"


def _png_relative_path(card: InviteCard, used: set[str]) -> str:
    stem = safe_path_piece(card.class_name) if card.class_name else SCHOOL_FILE_STEM
    role = safe_path_piece(card.role, max_chars=20)
    folder = f"{safe_path_piece(card.regiment)}/{safe_path_piece(card.school)}"
    candidate = f"{folder}/{stem}-{role}.png"
    number = 2
    while candidate.casefold() in used:
        candidate = f"{folder}/{stem}-{role}-{number}.png"
        number += 1
    used.add(candidate.casefold())
    return candidate


_PAGE_CSS = """
@page { size: A4; margin: 12mm; }
* { box-sizing: border-box; }
body { font-family: "Noto Sans CJK SC", "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC",
       sans-serif; margin: 0; color: #000; }
header.intro { padding: 8mm 0; }
header.intro h1 { font-size: 18pt; margin: 0 0 2mm; }
header.intro p { margin: 0; font-size: 10pt; color: #444; }
section.school { break-after: page; page-break-after: always; }
section.school:last-of-type { break-after: auto; page-break-after: auto; }
section.school h2 { font-size: 14pt; margin: 0 0 4mm; }
.grid { display: grid; grid-template-columns: repeat(3, 1fr); gap: 4mm; }
.card { border: 0.3mm dashed #888; padding: 3mm; text-align: center; margin: 0;
        break-inside: avoid; page-break-inside: avoid; }
.card img { width: 45mm; height: auto; display: block; margin: 0 auto 2mm; }
.card .label { font-size: 10pt; font-weight: bold; }
.card .role { font-size: 11pt; margin-top: 1mm; }
.card .link { font-size: 6.5pt; color: #333; word-break: break-all; margin-top: 1mm; }
.card .code { font-size: 8pt; margin-top: 1mm; }
@media print { .no-print { display: none; } }
"""


def _school_sections(
    cards: Sequence[InviteCard], png_paths: Sequence[str]
) -> list[tuple[str, str, list[tuple[InviteCard, str]]]]:
    groups: dict[tuple[str, str], list[tuple[InviteCard, str]]] = {}
    for card, png in zip(cards, png_paths, strict=True):
        groups.setdefault((card.regiment, card.school), []).append((card, png))
    return [(regiment, school, items) for (regiment, school), items in groups.items()]


def _render_html(cards: Sequence[InviteCard], png_paths: Sequence[str]) -> str:
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>普法活动邀请码</title>",
        f"<style>{_PAGE_CSS}</style>",
        "</head>",
        "<body>",
        '<header class="intro no-print">',
        "<h1>普法活动邀请码</h1>",
        f"<p>共 {len(cards)} 张邀请卡。打印时请选择 A4 纸、缩放 100%，每所学校单独一页；"
        "沿虚线裁开后分发。扫描二维码或打开链接即可加入。</p>",
        "</header>",
    ]
    if not cards:
        parts.append("<p>没有需要打印的邀请码。</p>")
    for regiment, school, items in _school_sections(cards, png_paths):
        parts.append('<section class="school">')
        parts.append(f"<h2>{esc(regiment)} · {esc(school)}</h2>")
        parts.append('<div class="grid">')
        for card, png in items:
            src = "/".join(quote(piece) for piece in png.split("/"))
            role = role_label(card.role)
            parts.append(
                '<figure class="card">'
                f'<img src="{esc(src)}" alt="{esc(card.label)} {esc(role)}二维码">'
                "<figcaption>"
                f'<div class="label">{esc(card.label)}</div>'
                f'<div class="role">{esc(role)}</div>'
                f'<div class="code">邀请码：{esc(card.code)}</div>'
                f'<div class="link">{esc(card.link)}</div>'
                "</figcaption>"
                "</figure>"
            )
        parts.append("</div>")
        parts.append("</section>")
    parts.extend(["</body>", "</html>", ""])
    return "\n".join(parts)


def write_invite_pack(
    cards: Sequence[InviteCard],
    out_dir: Path,
    *,
    on_progress: Callable[[int, int], None] | None = None,
    font_path: Path | None = None,
) -> InvitePack:
    """Write every card's PNG, ``invites.csv`` and ``index.html`` under ``out_dir``.

    ``on_progress(done, total)`` is called after each PNG. The font is checked before anything
    is written, so a missing CJK font fails fast with :class:`FontMissingError`.
    """
    font_file = require_cjk_font(font_path)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    total = len(cards)
    used: set[str] = set()
    relative_paths: list[str] = []
    png_paths: list[Path] = []
    for done, card in enumerate(cards, start=1):
        relative = _png_relative_path(card, used)
        target = out_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(render_invite_png(card, font_file))
        relative_paths.append(relative)
        png_paths.append(target)
        if on_progress is not None:
            on_progress(done, total)

    csv_path = out_dir / "invites.csv"
    with csv_path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = SafeCsvWriter(handle)
        writer.writerow(CSV_COLUMNS)
        for card, relative in zip(cards, relative_paths, strict=True):
            writer.writerow(
                [
                    card.regiment,
                    card.school,
                    card.class_name or "",
                    role_label(card.role),
                    card.code,
                    card.link,
                    relative,
                ]
            )

    html_path = out_dir / "index.html"
    html_path.write_text(_render_html(cards, relative_paths), encoding="utf-8")

    return InvitePack(
        out_dir=out_dir,
        csv_path=csv_path,
        html_path=html_path,
        png_paths=tuple(png_paths),
        cards=total,
        schools=len({(card.regiment, card.school) for card in cards}),
        regiments=len({card.regiment for card in cards}),
    )
