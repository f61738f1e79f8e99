"""Picture questions: a bank names or embeds one picture per question; the check refuses
a missing, oversized or non-image one; the import keeps it; the page and the chat show it."""

from __future__ import annotations

import io
import re
import struct
import zlib
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli import main
from quizzes.bank import PICTURE_MAX_BYTES, BankError, Picture, bank_sha256
from quizzes.bank_parsers import PictureFiles, parse_bank
from storage.models_quiz_bank import QuestionPictureRow
from storage.repositories import Repositories
from tests.publicity_chat import chat
from tests.quiz_world import SMALL_BANK, open_campaign
from tests.test_web_participants import CLASS, CSRF, Site, site

__all__ = ["chat", "site"]  # the fixtures

IMG = re.compile(r'<img class="picture" src="([^"]+)"')


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


# --------------------------------------------------------------------------- stored and shown


async def import_picture_bank(session_factory: async_sessionmaker[AsyncSession]) -> Picture:
    """SMALL_BANK with one picture on every question, imported under its name."""
    picture = Picture(png(3, 2), "image/png")
    bank = replace(
        SMALL_BANK,
        questions=tuple(replace(question, picture=picture) for question in SMALL_BANK.questions),
    )
    async with session_factory() as session:
        await Repositories.over(session).banks.import_bank(
            bank, source_filename="small.yaml", content_sha256="pictures", imported_by=None
        )
        await session.commit()
    return picture


async def test_the_import_keeps_each_picture_once(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    picture = await import_picture_bank(session_factory)
    async with session_factory() as session:
        repo = Repositories.over(session)
        bank = await repo.banks.by_name(SMALL_BANK.name)
        assert bank is not None
        questions = await repo.banks.questions([bank.id])
        assert {question.picture_sha256 for question in questions} == {picture.sha256}
        assert await repo.banks.picture(picture.sha256) == picture
        rows = await session.scalar(select(func.count()).select_from(QuestionPictureRow))
        assert rows == 1
    # A new picture for a question is a new question, as a new stem would be.
    changed = replace(SMALL_BANK.questions[0], picture=Picture(png(5, 5), "image/png"))
    bank_now = replace(SMALL_BANK, questions=(changed, *SMALL_BANK.questions[1:]))
    async with session_factory() as session:
        repo = Repositories.over(session)
        await repo.banks.import_bank(
            bank_now, source_filename="small.yaml", content_sha256="new", imported_by=None
        )
        await session.commit()
        stored = await repo.banks.by_name(SMALL_BANK.name)
        assert stored is not None
        first = (await repo.banks.questions([stored.id]))[0]
        assert first.picture_sha256 == changed.picture.sha256  # type: ignore[union-attr]


async def test_the_page_shows_the_picture_and_refuses_it_to_another_participant(
    site: Site,
) -> None:
    picture = await import_picture_bank(site.chat.session_factory)
    campaign = await open_campaign(
        site.chat.session_factory, unit_ids=(site.chat.world.classes[CLASS].id,)
    )
    phone, stranger = site.make_client(), site.make_client()
    await phone.start_server()
    await stranger.start_server()
    await site.join(phone)
    await site.join(stranger, "小王")
    csrf = CSRF.search(await (await phone.get("/m/")).text())
    assert csrf is not None
    started = await phone.post(
        f"/m/campaigns/{campaign.id}/start",
        data={"csrf_token": csrf.group(1)},
        allow_redirects=False,
    )
    here = started.headers["Location"]
    page = await (await phone.get(here)).text()
    found = IMG.search(page)
    assert found is not None, page
    assert found.group(1) == f"{here}/questions/1/picture"
    assert 'alt="第 1 题配图"' in page
    shown = await phone.get(found.group(1))
    assert shown.status == 200
    assert shown.content_type == "image/png"
    assert await shown.read() == picture.content
    assert "img-src 'self'" in shown.headers["Content-Security-Policy"]
    # Another participant, a question not reached yet, and nobody signed in: nothing.
    assert (await stranger.get(found.group(1))).status == 404
    assert (await phone.get(f"{here}/questions/2/picture")).status == 404
    nobody = site.make_client()
    await nobody.start_server()
    assert (await nobody.get(found.group(1))).status == 404
