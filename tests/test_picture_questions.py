"""Picture questions: a bank names or embeds one picture per question; the check refuses
a missing, oversized or non-image one; the import keeps it; the page and the chat show it."""

from __future__ import annotations

import io
import itertools
import random
import re
import struct
import zlib
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import EditMessageMedia, SendMessage, SendPhoto
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Message,
    PhotoSize,
    Update,
)
from aiogram.types import Chat as TelegramChat
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli import main
from bot.sandbox.config import SandboxConfig
from bot.sandbox.server import run_sandbox
from bot.views.quiz import AnswerCb, CampaignCb, SubmitCb
from quizzes.bank import (
    PICTURE_MAX_BYTES,
    BankError,
    Picture,
    QuestionType,
    StoredQuestion,
    bank_sha256,
    poll_compatible,
)
from quizzes.bank_parsers import PictureFiles, parse_bank
from quizzes.engine import Feedback
from quizzes.livequiz import pick_poll_questions
from storage.models_quiz_bank import QuestionPictureRow
from storage.repositories import Repositories
from tests.mocked_bot import BOT_USER, callback_update, user
from tests.publicity_chat import Chat, chat
from tests.quiz_world import SMALL_BANK, open_campaign
from tests.sandbox.conftest import make_bot
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
    assert "1 question(s) with a picture" in result.output
    assert "1 of the 2 questions fit a quiz poll" in result.output


# --------------------------------------------------------------------------- stored and shown


async def import_picture_bank(
    session_factory: async_sessionmaker[AsyncSession], stem_padding: int = 0
) -> Picture:
    """SMALL_BANK with one picture on every question, imported under its name; each stem
    ``stem_padding`` characters longer."""
    picture = Picture(png(3, 2), "image/png")
    bank = replace(
        SMALL_BANK,
        questions=tuple(
            replace(question, picture=picture, stem=question.stem + "法" * stem_padding)
            for question in SMALL_BANK.questions
        ),
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


_presses = itertools.count(900_000)


def photo_press(telegram_id: int, data: str, message_id: int) -> Update:
    """A press on a photo message, as Telegram sends it (a caption, no text)."""
    message = Message(
        message_id=message_id,
        date=datetime.now(UTC),
        chat=TelegramChat(id=telegram_id, type="private"),
        from_user=BOT_USER,
        photo=[PhotoSize(file_id="p", file_unique_id="p", width=3, height=2)],
        caption="…",
    )
    number = next(_presses)
    query = CallbackQuery(
        id=f"q{number}",
        from_user=user(telegram_id),
        chat_instance="ci",
        data=data,
        message=message,
    )
    return Update(update_id=number, callback_query=query)


def press_on(message_id: int, data: str, *, photo: bool) -> Update:
    if photo:
        return photo_press(3000, data, message_id)
    return callback_update(user(3000), data, message_id=message_id)


def answer_buttons(markup: object) -> list[AnswerCb]:
    assert isinstance(markup, InlineKeyboardMarkup)
    return [
        AnswerCb.unpack(button.callback_data)
        for row in markup.inline_keyboard
        for button in row
        if button.callback_data and button.callback_data.startswith("a:")
    ]


async def test_the_chat_sends_the_question_as_a_photo_with_its_buttons(chat: Chat) -> None:
    picture = await import_picture_bank(chat.session_factory)
    campaign = await open_campaign(
        chat.session_factory, unit_ids=(chat.world.classes[CLASS].id,), feedback=Feedback.END
    )
    requests = chat.bot.recorder.requests
    await chat.press(3000, CampaignCb(campaign=campaign.id).pack())
    [first] = [m for m in requests if isinstance(m, SendPhoto)]
    assert isinstance(first.photo, BufferedInputFile) and first.photo.data == picture.content
    assert first.caption is not None and "第 1/5 题" in first.caption
    buttons = answer_buttons(first.reply_markup)
    assert buttons and {button.seq for button in buttons} == {1}
    assert not [m for m in requests if isinstance(m, SendMessage) and m.chat_id == 3000]
    # The answer moves the same message on: its picture and caption replaced in place,
    # the picture sent by the id Telegram gave it, not uploaded again.
    async with chat.session_factory() as session:
        repo = Repositories.over(session)
        attempt = await repo.attempts.get(buttons[0].attempt)
        shown = await repo.attempts.question(buttons[0].attempt, 1)
    assert attempt is not None and attempt.message_id is not None and shown is not None
    sent_id = attempt.message_id  # the photo's, as Telegram answered sendPhoto
    await chat.feed(photo_press(3000, buttons[0].pack(), sent_id))
    if shown.question.type is QuestionType.MULTIPLE:  # a tick, then the answer
        submit = SubmitCb(attempt=buttons[0].attempt, seq=1)
        await chat.feed(photo_press(3000, submit.pack(), sent_id))
    [edited] = [m for m in requests if isinstance(m, EditMessageMedia)]
    assert edited.message_id == sent_id
    assert isinstance(edited.media, InputMediaPhoto)
    assert isinstance(edited.media.media, str) and edited.media.media.startswith("photo-")
    assert edited.media.caption is not None and "第 2/5 题" in edited.media.caption
    assert {button.seq for button in answer_buttons(edited.reply_markup)} == {2}
    assert len([m for m in requests if isinstance(m, SendPhoto)]) == 1


async def test_a_question_too_long_for_a_caption_follows_its_picture_as_text(
    chat: Chat,
) -> None:
    await import_picture_bank(chat.session_factory, stem_padding=990)
    campaign = await open_campaign(
        chat.session_factory, unit_ids=(chat.world.classes[CLASS].id,), feedback=Feedback.END
    )
    requests = chat.bot.recorder.requests
    await chat.press(3000, CampaignCb(campaign=campaign.id).pack())
    [alone] = [m for m in requests if isinstance(m, SendPhoto)]
    assert alone.reply_markup is None and alone.caption == "第 1 题配图，题目见下一条消息。"
    [text] = [m for m in requests if isinstance(m, SendMessage) and m.chat_id == 3000]
    assert "第 1/5 题" in text.text and "法" * 990 in text.text
    assert {button.seq for button in answer_buttons(text.reply_markup)} == {1}


def test_a_live_quiz_poll_never_draws_a_picture_question() -> None:
    plain = SMALL_BANK.questions[0]
    assert poll_compatible(plain)
    assert not poll_compatible(replace(plain, picture=Picture(png(), "image/png")))
    pool = [
        StoredQuestion(1, 1, 1, plain.type, plain.stem, plain.options, plain.correct),
        StoredQuestion(
            2, 1, 2, plain.type, "看图作答", plain.options, plain.correct, picture_sha256="ab"
        ),
    ]
    assert [q.id for q in pick_poll_questions(pool, 2, random.Random(1))] == [1]


async def test_the_sandbox_edits_a_photo_into_the_next_one() -> None:
    """editMessageMedia as the quiz calls it: the next picture uploaded (or by file id), its
    caption and buttons; a text message has no media to edit."""
    async with run_sandbox(SandboxConfig()) as running:
        bot = make_bot(running)
        try:
            await running.client.send_text(4000, "/start")
            first, second = png(3, 2), png(4, 4)
            buttons = InlineKeyboardMarkup(
                inline_keyboard=[[InlineKeyboardButton(text="A", callback_data="a:1:2:0")]]
            )
            sent = await bot.send_photo(4000, BufferedInputFile(first, "q.png"), caption="第 1 题")
            edited = await bot.edit_message_media(
                media=InputMediaPhoto(media=BufferedInputFile(second, "q.png"), caption="第 2 题"),
                chat_id=4000,
                message_id=sent.message_id,
                reply_markup=buttons,
            )
            assert isinstance(edited, Message) and edited.caption == "第 2 题"
            assert edited.reply_markup is not None
            assert edited.reply_markup.inline_keyboard[0][0].callback_data == "a:1:2:0"
            assert await running.client.sent_file(4000, sent.message_id) == second
            assert edited.photo is not None
            again = await bot.edit_message_media(
                media=InputMediaPhoto(media=sent.photo[-1].file_id, caption="第 3 题"),  # type: ignore[index]
                chat_id=4000,
                message_id=sent.message_id,
            )
            assert isinstance(again, Message) and again.caption == "第 3 题"
            text = await bot.send_message(4000, "第 4 题")
            with pytest.raises(TelegramBadRequest, match="no media"):
                await bot.edit_message_media(
                    media=InputMediaPhoto(media=BufferedInputFile(first, "q.png")),
                    chat_id=4000,
                    message_id=text.message_id,
                )
        finally:
            await bot.session.close()


async def test_one_live_question_message_as_the_quiz_moves_between_pictures_and_text(
    chat: Chat,
) -> None:
    """Pictures on some questions only: text to text and photo to photo are edits in
    place; a change of kind sends the next question below and retires the old message."""
    picture = Picture(png(3, 2), "image/png")
    bank = replace(
        SMALL_BANK,
        questions=tuple(
            replace(question, picture=picture if position % 2 else None)
            for position, question in enumerate(SMALL_BANK.questions)
        ),
    )
    async with chat.session_factory() as session:
        await Repositories.over(session).banks.import_bank(
            bank, source_filename="small.yaml", content_sha256="mixed", imported_by=None
        )
        await session.commit()
    campaign = await open_campaign(
        chat.session_factory, unit_ids=(chat.world.classes[CLASS].id,), feedback=Feedback.END
    )
    requests = chat.bot.recorder.requests
    await chat.press(3000, CampaignCb(campaign=campaign.id).pack())
    sent = [m for m in requests if isinstance(m, SendPhoto | SendMessage) and m.chat_id == 3000]
    attempt_id = answer_buttons(sent[-1].reply_markup)[0].attempt
    kinds = set()
    for seq in range(1, 6):
        async with chat.session_factory() as session:
            repo = Repositories.over(session)
            attempt = await repo.attempts.get(attempt_id)
            shown = await repo.attempts.question(attempt_id, seq)
            following = await repo.attempts.question(attempt_id, seq + 1)
        assert attempt is not None and shown is not None and attempt.message_id is not None
        on_photo = shown.question.picture_sha256 is not None
        live = attempt.message_id

        before = len(requests)
        answer = AnswerCb(attempt=attempt_id, seq=seq, option=0)
        await chat.feed(press_on(live, answer.pack(), photo=on_photo))
        if shown.question.type is QuestionType.MULTIPLE:
            submit = SubmitCb(attempt=attempt_id, seq=seq)
            await chat.feed(press_on(live, submit.pack(), photo=on_photo))
        made = [
            type(m).__name__
            for m in requests[before:]
            if type(m).__name__ != "AnswerCallbackQuery"
        ]
        if shown.question.type is QuestionType.MULTIPLE:
            assert made[0] == "EditMessageReplyMarkup"  # the ticked box
            made = made[1:]
        if following is None:
            assert made[0] == ("EditMessageCaption" if on_photo else "EditMessageText")
            break
        to_photo = following.question.picture_sha256 is not None
        kinds.add((on_photo, to_photo))
        if on_photo == to_photo:
            assert made == ["EditMessageMedia" if on_photo else "EditMessageText"]
        else:  # sent anew below; the old one says so and loses its buttons
            assert made == [
                "SendPhoto" if to_photo else "SendMessage",
                "EditMessageCaption" if on_photo else "EditMessageText",
            ]
            retired = requests[before:][-1]
            assert getattr(retired, "reply_markup", "?") is None
            async with chat.session_factory() as session:
                moved = await Repositories.over(session).attempts.get(attempt_id)
            assert moved is not None and moved.message_id != live
    assert (True, False) in kinds or (False, True) in kinds
