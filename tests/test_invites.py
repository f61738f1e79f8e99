from __future__ import annotations

import csv
import html
import io
import math
import re
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest
import qrcode
from PIL import Image, ImageChops, ImageDraw
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import fonts
from bot.fonts import FontMissingError, find_cjk_font, load_font, missing_glyphs
from bot.invite_export import invite_cards
from bot.invites import (
    CSV_COLUMNS,
    InviteCard,
    render_invite_png,
    safe_path_piece,
    write_invite_pack,
)
from quizzes.participants import (
    INVITE_CODE_ALPHABET,
    INVITE_CODE_LENGTH,
    invite_code_candidates,
    new_invite_code,
)
from quizzes.spreadsheet_safety import csv_cell
from storage.repositories import Repositories
from tests.factories import build_world

LINK = "https://t.me/pufa_bot?start=AB12CD34"


def card(
    code: str = "AB12CD34",
    regiment: str = "129团",
    school: str = "胡杨河市第一中学",
    class_name: str | None = "七年级1班",
    role: str = "student",
    label: str | None = None,
) -> InviteCard:
    parts = [regiment, school] + ([class_name] if class_name else [])
    return InviteCard(
        code=code,
        link=f"https://t.me/pufa_bot?start={code}",
        regiment=regiment,
        school=school,
        class_name=class_name,
        role=role,
        label=label if label is not None else " · ".join(parts),
    )


@pytest.fixture(scope="module")
def cjk_font() -> Path:
    found = find_cjk_font()
    if found is None:
        pytest.skip("no CJK font installed (Debian package fonts-wqy-microhei)")
    return found


@pytest.fixture
def no_fonts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(fonts.FONT_ENV_VAR, raising=False)
    monkeypatch.setattr(fonts, "DEBIAN_FONT_CANDIDATES", ())
    monkeypatch.setattr("bot.fonts.shutil.which", lambda name: None)


def open_png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    image.load()
    return image.convert("L")


def dark_pixels(image: Image.Image) -> int:
    return sum(image.convert("L").histogram()[:128])


# Geometry of a rendered card: the QR square sits centred at the top, the text below it.
QR_TOP = 60
QR_SIZE = 600


def text_area(image: Image.Image) -> Image.Image:
    return image.crop((0, QR_TOP + QR_SIZE, image.width, image.height))


# --------------------------------------------------------------------------- fonts


def test_found_font_draws_cjk_glyphs_not_the_missing_glyph_box(cjk_font: Path) -> None:
    font = load_font(cjk_font, 48)

    def bitmap(text: str) -> Image.Image:
        canvas = Image.new("L", (64, 64), 255)
        ImageDraw.Draw(canvas).text((8, 4), text, font=font, fill=0)
        return canvas

    glyph = bitmap("宪")
    assert dark_pixels(glyph) > 50
    for unmapped in ("\uffff", "\U000f0000"):
        box = bitmap(unmapped)
        assert ImageChops.difference(glyph, box).getbbox() is not None
    assert ImageChops.difference(bitmap("\uffff"), bitmap("\U000f0000")).getbbox() is None
    assert missing_glyphs(cjk_font, "宪法 129团 · 学生教师") == []
    assert missing_glyphs(cjk_font, "宪\U000f0000 \ue000") == ["\U000f0000", "\ue000"]


def test_env_var_comes_first(
    monkeypatch: pytest.MonkeyPatch, cjk_font: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "my-font.ttc"
    copy.write_bytes(cjk_font.read_bytes())
    monkeypatch.setenv(fonts.FONT_ENV_VAR, str(copy))
    assert find_cjk_font() == copy
    monkeypatch.setenv(fonts.FONT_ENV_VAR, str(tmp_path / "missing.ttf"))
    assert find_cjk_font() != tmp_path / "missing.ttf"


def test_debian_locations_before_fc_match(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "wqy-microhei.ttc"
    fake.write_bytes(b"font")
    monkeypatch.delenv(fonts.FONT_ENV_VAR, raising=False)
    monkeypatch.setattr(fonts, "DEBIAN_FONT_CANDIDATES", (tmp_path / "absent.ttc", fake))
    monkeypatch.setattr("bot.fonts.shutil.which", lambda name: pytest.fail("fc-match was called"))
    assert find_cjk_font() == fake


def test_fc_match_answer_is_used_only_when_it_covers_chinese(
    monkeypatch: pytest.MonkeyPatch, no_fonts: None, tmp_path: Path
) -> None:
    font_file = tmp_path / "cjk.otf"
    font_file.write_bytes(b"font")
    answer = {"stdout": ""}

    def fake_run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        assert ":lang=zh" in args
        return subprocess.CompletedProcess(args, 0, stdout=answer["stdout"], stderr="")

    monkeypatch.setattr("bot.fonts.shutil.which", lambda name: "/usr/bin/fc-match")
    monkeypatch.setattr("bot.fonts.subprocess.run", fake_run)
    answer["stdout"] = f"{font_file}\nen|fr|zh-cn|zh-tw"
    assert find_cjk_font() == font_file
    answer["stdout"] = f"{font_file}\nen|fr|de"
    assert find_cjk_font() is None
    answer["stdout"] = f"{tmp_path / 'gone.ttf'}\nzh-cn"
    assert find_cjk_font() is None


def test_missing_font_is_a_clear_error(no_fonts: None, tmp_path: Path) -> None:
    assert find_cjk_font() is None
    with pytest.raises(FontMissingError, match="fonts-wqy-microhei"):
        render_invite_png(card())
    with pytest.raises(FontMissingError, match="PUFA_CJK_FONT"):
        write_invite_pack([card()], tmp_path / "pack")
    assert not (tmp_path / "pack").exists()


def test_font_without_chinese_glyphs_is_refused() -> None:
    latin = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    if not latin.is_file():
        pytest.skip("DejaVu Sans not installed")
    with pytest.raises(FontMissingError, match="cannot draw"):
        render_invite_png(card(), latin)


# --------------------------------------------------------------------------- PNG


def test_png_has_qr_and_cjk_label(cjk_font: Path) -> None:
    image = open_png(render_invite_png(card(), cjk_font))
    assert image.width == 720
    assert image.height > QR_TOP + QR_SIZE + 60
    # Text under the QR code is drawn.
    assert dark_pixels(text_area(image)) > 500
    # A different Chinese label gives a different text area and the same QR code.
    other = open_png(render_invite_png(card(label="129团 · 胡杨河市第二中学"), cjk_font))
    assert ImageChops.difference(text_area(image), text_area(other)).getbbox() is not None
    qr_box = (QR_TOP, QR_TOP, QR_TOP + QR_SIZE, QR_TOP + QR_SIZE)
    assert ImageChops.difference(image.crop(qr_box), other.crop(qr_box)).getbbox() is None


def test_role_line_is_chinese(cjk_font: Path) -> None:
    student = open_png(render_invite_png(card(role="student"), cjk_font))
    teacher = open_png(render_invite_png(card(role="teacher"), cjk_font))
    assert ImageChops.difference(text_area(student), text_area(teacher)).getbbox() is not None


def test_qr_pixels_encode_the_link(cjk_font: Path) -> None:
    image = open_png(render_invite_png(card(), cjk_font))
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    qr.add_data(LINK)
    qr.make(fit=True)
    matrix = qr.get_matrix()
    size = len(matrix)
    step = QR_SIZE / size
    for row_index, row in enumerate(matrix):
        for col_index, dark in enumerate(row):
            x = int(QR_TOP + (col_index + 0.5) * step)
            y = int(QR_TOP + (row_index + 0.5) * step)
            assert (image.getpixel((x, y)) == 0) == dark, (row_index, col_index)


def test_long_labels_stay_inside_the_card(cjk_font: Path) -> None:
    label = "131团 · " + "一三一团九年一贯制学校" * 4 + " · 七年级1班"
    image = open_png(render_invite_png(card(label=label), cjk_font))
    text = text_area(image)
    # Nothing is drawn in the outer margins.
    assert dark_pixels(text.crop((0, 0, 20, text.height))) == 0
    assert dark_pixels(text.crop((text.width - 20, 0, text.width, text.height))) == 0


# --------------------------------------------------------------------------- pack


def sample_cards() -> list[InviteCard]:
    return [
        card("S1", class_name="七年级1班", role="student"),
        card("T1", class_name="七年级1班", role="teacher"),
        card("T0", class_name=None, role="teacher"),
        card("S2", regiment="131团", school="一三一团第一小学", class_name="三年级2班"),
        card(
            "X9",
            regiment="137团",
            school='一三七团<中学> & "分校"',
            class_name="../九年级/1班",
            label='137团 · 一三七团<中学> & "分校" · ../九年级/1班',
        ),
    ]


def test_pack_writes_one_png_per_card(cjk_font: Path, tmp_path: Path) -> None:
    cards = sample_cards()
    progress: list[tuple[int, int]] = []
    pack = write_invite_pack(
        cards, tmp_path / "out", on_progress=lambda done, total: progress.append((done, total))
    )
    assert pack.cards == len(cards) == len(pack.png_paths)
    assert (pack.schools, pack.regiments) == (3, 3)
    assert progress == [(index, len(cards)) for index in range(1, len(cards) + 1)]
    out = (tmp_path / "out").resolve()
    assert sorted(out.rglob("*.png")) == sorted(path.resolve() for path in pack.png_paths)
    for path in pack.png_paths:
        assert path.resolve().is_relative_to(out)
        open_png(path.read_bytes())
    relative = [path.relative_to(tmp_path / "out").as_posix() for path in pack.png_paths]
    assert relative[:4] == [
        "129团/胡杨河市第一中学/七年级1班-student.png",
        "129团/胡杨河市第一中学/七年级1班-teacher.png",
        "129团/胡杨河市第一中学/_school-teacher.png",
        "131团/一三一团第一小学/三年级2班-student.png",
    ]
    assert relative[4].count("/") == 2


def test_pack_csv_has_bom_and_all_cards(cjk_font: Path, tmp_path: Path) -> None:
    cards = sample_cards()
    pack = write_invite_pack(cards, tmp_path)
    raw = pack.csv_path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert (
        tuple(rows[0])
        == CSV_COLUMNS
        == ("团场", "学校", "班级", "角色", "邀请码", "链接", "二维码文件")
    )
    assert len(rows) == len(cards) + 1
    assert rows[1] == [
        "129团",
        "胡杨河市第一中学",
        "七年级1班",
        "学生",
        "S1",
        "https://t.me/pufa_bot?start=S1",
        "129团/胡杨河市第一中学/七年级1班-student.png",
    ]
    assert rows[3][2:4] == ["", "教职工"]
    for row in rows[1:]:
        assert (tmp_path / row[6]).is_file()


def test_pack_html_is_printable_and_escaped(cjk_font: Path, tmp_path: Path) -> None:
    cards = sample_cards()
    pack = write_invite_pack(cards, tmp_path)
    page = pack.html_path.read_text(encoding="utf-8")
    assert '<meta charset="utf-8">' in page
    assert "size: A4" in page
    assert "break-after: page" in page
    assert page.count('<section class="school">') == 3
    for item in cards:
        assert html.escape(item.label) in page
        assert html.escape(item.link) in page
    assert "<中学>" not in page
    assert "学生" in page and "教职工" in page
    sources = re.findall(r'<img src="([^"]+)"', page)
    assert len(sources) == len(cards)
    for source in sources:
        assert (tmp_path / unquote(html.unescape(source))).is_file()


def test_same_unit_and_role_twice_gets_two_files(cjk_font: Path, tmp_path: Path) -> None:
    pack = write_invite_pack([card("A1"), card("A2")], tmp_path)
    assert len(set(pack.png_paths)) == 2
    assert all(path.is_file() for path in pack.png_paths)


def test_empty_pack(tmp_path: Path, cjk_font: Path) -> None:
    pack = write_invite_pack([], tmp_path)
    assert pack.cards == 0 and pack.png_paths == ()
    assert pack.csv_path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert "<!DOCTYPE html>" in pack.html_path.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("七年级1班", "七年级1班"),
        ("a/b\\c", "a_b_c"),
        ("..", "_"),
        ("", "_"),
        (" . hidden. ", "hidden"),
        ("CON", "_CON"),
        ('x:*?"<>|y', "x_______y"),
    ],
)
def test_safe_path_piece(raw: str, safe: str) -> None:
    assert safe_path_piece(raw) == safe


# --------------------------------------------------------------------------- codes


def test_new_codes_have_no_punctuation_or_confusable_characters() -> None:
    codes = [new_invite_code() for _ in range(2000)]
    assert len(set(codes)) == len(codes)
    for code in codes:
        assert len(code) == INVITE_CODE_LENGTH
        assert set(code) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ"), code
        assert csv_cell(code) == code
    # At least 60 bits: 32 symbols are 5 bits each.
    assert INVITE_CODE_LENGTH * math.log2(len(INVITE_CODE_ALPHABET)) >= 60
    assert not set("ILOU-_") & set(INVITE_CODE_ALPHABET)


async def test_printed_code_is_the_code_of_the_link_and_joins_as_read(
    session_factory: async_sessionmaker[AsyncSession], cjk_font: Path, tmp_path: Path
) -> None:
    await build_world(session_factory)
    async with session_factory() as session:
        cards = await invite_cards(Repositories.over(session), "pufa_bot")
        await session.commit()
    pack = write_invite_pack(cards, tmp_path)
    rows = list(csv.DictReader(io.StringIO(pack.csv_path.read_text(encoding="utf-8-sig"))))
    assert len(rows) == len(cards) == 6
    page = pack.html_path.read_text(encoding="utf-8")
    for row in rows:
        code = row["邀请码"]
        assert row["链接"] == f"https://t.me/pufa_bot?start={code}"
        assert set(code) <= set(INVITE_CODE_ALPHABET) and len(code) == INVITE_CODE_LENGTH
        assert f"邀请码：{code}" in page
        # What a teacher copies from the cell, or reads out in lower case, opens the class.
        async with session_factory() as session:
            invites = Repositories.over(session).invites
            found = [await invites.resolve(c) for c in invite_code_candidates(code.lower())]
        assert any(invite is not None and invite.code == code for invite in found)
