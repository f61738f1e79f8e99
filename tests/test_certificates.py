"""Certificates: what is printed stays inside the frame, whatever name the bot accepted."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageChops

from bot.certificates import HEIGHT, WIDTH, CertificateText, render_certificate
from bot.i18n import Translator
from quizzes.participants import DISPLAY_NAME_MAX, clean_display_name

# Names of this length are common in the division: 阿卜杜热合曼·…·伊力哈木.
UYGHUR_NAME = "阿卜杜热合曼·买买提明·艾合买提江·阿卜杜克热木·伊力哈木·艾力"
LATIN_NAME = "Abdurehman Memet Ilham Abdukerim"
NO_SPACES = "W" * DISPLAY_NAME_MAX  # the widest letter, and nowhere to break a line
# The inner (red) frame is drawn 60 px in from each edge; ink must stay clear of it.
INSIDE = (80, 80, WIDTH - 80, HEIGHT - 80)


def certificate(locale: str, name: str) -> Image.Image:
    _ = Translator.load().bind(locale)
    text = CertificateText(
        title=_.plain("certificate.title"),
        name_line=_.plain("certificate.name_line", name=name) if name else "",
        body=_.plain("certificate.body", campaign="2026年“宪法卫士”网络答题", percent="95"),
        issuer=_.plain("certificate.issuer"),
        date_line=_.plain("certificate.date", year=2026, month=12, day=7),
    )
    return Image.open(io.BytesIO(render_certificate(text))).convert("RGB")


@pytest.mark.parametrize(
    ("locale", "name"),
    [("zh-CN", UYGHUR_NAME), ("en", UYGHUR_NAME), ("en", LATIN_NAME), ("en", NO_SPACES)],
)
def test_the_longest_accepted_name_stays_inside_the_certificate_frame(
    locale: str, name: str
) -> None:
    assert len(name) == DISPLAY_NAME_MAX and clean_display_name(name) == name
    with_name, without = certificate(locale, name), certificate(locale, "")

    # Everything the name changes (its own ink, and the text below if it moved down).
    box = ImageChops.difference(with_name, without).getbbox()
    assert box is not None, "the name was not drawn"
    left, top, right, bottom = box
    assert left >= INSIDE[0] and top >= INSIDE[1], box
    assert right <= INSIDE[2] and bottom <= INSIDE[3], box
    # And the issuer and the date, bottom right, are not overwritten.
    assert bottom < HEIGHT - 280, box


def test_a_short_name_is_printed_as_large_as_before() -> None:
    with_name, without = certificate("zh-CN", "李华"), certificate("zh-CN", "")
    box = ImageChops.difference(with_name, without).getbbox()
    assert box is not None
    # One line at the full size: about 64 px of ink around y = 400.
    assert 340 < box[1] < 400 < box[3] < 460 and box[3] - box[1] > 50, box
