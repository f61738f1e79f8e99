"""Picture questions: a bank names or embeds one picture per question; the check refuses
a missing, oversized or non-image one; the import keeps it; the page and the chat show it."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from quizzes.bank import PICTURE_MAX_BYTES, BankError, bank_sha256
from quizzes.bank_parsers import PictureFiles, parse_bank


def png(width: int = 2, height: int = 2, padding: int = 0) -> bytes:
    """A real PNG; ``padding`` bytes of text chunk make it as large as a test needs."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    parts = [chunk(b"IHDR", header), chunk(b"IDAT", zlib.compress(rows))]
    if padding:
        parts.append(chunk(b"tEXt", b"note\x00" + b"x" * padding))
    return b"\x89PNG\r\n\x1a\n" + b"".join(parts) + chunk(b"IEND", b"")


YAML_BANK = """\
name: 交通标志题库
questions:
  - type: single
    stem: 如图所示的交通标志表示什么？
    image: {first}
    options: [禁止通行, 注意行人, 停车让行]
    answer: B
  - type: true_false
    stem: 未满十二周岁的儿童不得骑自行车上道路。
    answer: 对
"""


def write_bank(folder: Path, first: str = "sign.png") -> Path:
    bank = folder / "signs.yaml"
    bank.write_text(YAML_BANK.format(first=first), encoding="utf-8")
    return bank


def files_in(folder: Path) -> PictureFiles:
    def read(name: str) -> bytes | None:
        path = folder / name
        return path.read_bytes() if path.is_file() else None

    return read


def test_a_named_picture_beside_the_bank_is_kept(tmp_path: Path) -> None:
    picture = png()
    (tmp_path / "sign.png").write_bytes(picture)
    bank_file = write_bank(tmp_path)
    bank = parse_bank(bank_file.read_bytes(), bank_file.name, files_in(tmp_path))
    first, second = bank.questions
    assert first.picture is not None and first.picture.content == picture
    assert first.picture.media_type == "image/png"
    assert second.picture is None
    # "如图" asks for a picture: one attached answers it, so no warning.
    assert not [w for w in bank.warnings if w.code == "refers_to_picture"]


def test_a_changed_picture_changes_the_banks_hash(tmp_path: Path) -> None:
    (tmp_path / "sign.png").write_bytes(png())
    bank_file = write_bank(tmp_path)
    content = bank_file.read_bytes()
    before = bank_sha256(content, parse_bank(content, bank_file.name, files_in(tmp_path)))
    (tmp_path / "sign.png").write_bytes(png(3, 3))
    after = bank_sha256(content, parse_bank(content, bank_file.name, files_in(tmp_path)))
    assert before != after


@pytest.mark.parametrize(
    ("picture", "code"),
    [
        (None, "picture_missing"),
        (png(padding=PICTURE_MAX_BYTES), "picture_too_large"),
        (b"GIF89a not a png or jpeg", "picture_not_image"),
    ],
)
def test_the_check_refuses_a_bad_picture(tmp_path: Path, picture: bytes | None, code: str) -> None:
    if picture is not None:
        (tmp_path / "sign.png").write_bytes(picture)
    bank_file = write_bank(tmp_path)
    with pytest.raises(BankError) as raised:
        parse_bank(bank_file.read_bytes(), bank_file.name, files_in(tmp_path))
    [found] = raised.value.problems
    assert (found.code, found.row, found.column) == (code, 1, "image")


def test_an_upload_cannot_bring_named_pictures_along(tmp_path: Path) -> None:
    bank_file = write_bank(tmp_path, "../secret.png")
    with pytest.raises(BankError) as raised:
        parse_bank(bank_file.read_bytes(), bank_file.name, files_in(tmp_path))
    assert [p.code for p in raised.value.problems] == ["picture_bad_name"]
    bank_file = write_bank(tmp_path)
    with pytest.raises(BankError) as raised:
        parse_bank(bank_file.read_bytes(), bank_file.name)  # no folder: a chat upload
    assert [p.code for p in raised.value.problems] == ["picture_not_beside"]


def xlsx_with_picture(picture: bytes, *, row: int = 2, named: str | None = None) -> bytes:
    import openpyxl
    from openpyxl.drawing.image import Image

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    header = ["题型", "题干", "选项A", "选项B", "答案"] + (["图片"] if named else [])
    sheet.append(header)
    sheet.append(
        ["单选", "图中的标志是什么意思？", "禁止通行", "注意行人", "B"]
        + ([named] if named else [])
    )
    sheet.append(["判断", "宪法是国家的根本法。", "", "", "对"] + ([""] if named else []))
    sheet.add_image(Image(io.BytesIO(picture)), f"F{row}")
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_a_picture_anchored_in_a_question_row_belongs_to_it() -> None:
    picture = png(4, 4)
    bank = parse_bank(xlsx_with_picture(picture, row=3), "题库.xlsx")
    first, second = bank.questions
    assert first.picture is None
    assert second.picture is not None and second.picture.content == picture


def test_bank_check_names_the_missing_and_the_oversized_picture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUFA_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    runner = CliRunner()
    for locale, missing, large in (
        ("zh-CN", "找不到图片文件“sign.png”", "超过了 1024 KB 的上限"),
        ("en", "The picture file “sign.png” cannot be found", "over the 1024 KB limit"),
    ):
        monkeypatch.setenv("PUFA_DEFAULT_LOCALE", locale)
        (tmp_path / "sign.png").unlink(missing_ok=True)
        result = runner.invoke(main, ["bank", "check", str(write_bank(tmp_path))])
        assert result.exit_code == 1, result.output
        assert missing in result.output
        (tmp_path / "sign.png").write_bytes(png(padding=PICTURE_MAX_BYTES))
        result = runner.invoke(main, ["bank", "check", str(write_bank(tmp_path))])
        assert result.exit_code == 1
        assert large in result.output
    (tmp_path / "sign.png").write_bytes(png())
    result = runner.invoke(main, ["bank", "check", str(write_bank(tmp_path))])
    assert result.exit_code == 0, result.output
