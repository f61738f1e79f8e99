"""Every Bot API method the bot uses, called through a real aiogram Bot.

aiogram parses each result into its own types, so a successful call proves the response
shape; updates are checked with ``Update.model_validate``.
"""

from __future__ import annotations

import io
import struct
import zlib

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNotFound,
    TelegramUnauthorizedError,
)
from aiogram.methods import TelegramMethod
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BufferedInputFile,
    ChatFullInfo,
    ChatMemberMember,
    File,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageId,
    Poll,
    Update,
    User,
    WebhookInfo,
)

from bot.sandbox.server import RunningSandbox
from tests.sandbox.conftest import make_bot

USER = 1001


def tiny_png(width: int = 3, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    raw = b"".join(b"\x00" + b"\x00\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


async def updates(bot: Bot) -> list[Update]:
    result = await bot.get_updates(timeout=0)
    for update in result:
        # round trip through the raw JSON as well
        Update.model_validate(update.model_dump(mode="json", by_alias=True, exclude_none=True))
    return result


async def test_get_me_and_identity(bot: Bot, sandbox: RunningSandbox) -> None:
    me = await bot.get_me()
    assert isinstance(me, User)
    assert me.is_bot
    assert me.id == sandbox.config.bot_id
    assert me.username == sandbox.config.bot_username
    assert me.first_name == "普法助手"


async def test_bad_token_and_unknown_method(sandbox: RunningSandbox) -> None:
    other = make_bot(sandbox, token="999:wrong")
    try:
        with pytest.raises(TelegramUnauthorizedError, match="Unauthorized"):
            await other.get_me()
    finally:
        await other.session.close()
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{sandbox.url}/bot{sandbox.config.token}/noSuchMethod") as resp,
    ):
        assert resp.status == 404
        assert await resp.json() == {"ok": False, "error_code": 404, "description": "Not Found"}


async def test_message_update_parses(bot: Bot, sandbox: RunningSandbox) -> None:
    sent = await sandbox.client.send_text(
        USER, "/start campaign_7", first_name="小明", username="xm"
    )
    result = await updates(bot)
    assert [u.update_id for u in result] == [sent.update_id]
    msg = result[0].message
    assert msg is not None
    assert msg.message_id == sent.message_id
    assert msg.chat.id == msg.from_user.id == USER  # type: ignore[union-attr]
    assert msg.chat.type == "private"
    assert msg.text == "/start campaign_7"
    assert msg.from_user is not None and msg.from_user.language_code == "zh-hans"
    assert msg.entities is not None
    assert msg.entities[0].type == "bot_command"
    assert (msg.entities[0].offset, msg.entities[0].length) == (0, 6)


async def test_send_edit_delete_and_callback(bot: Bot, sandbox: RunningSandbox) -> None:
    await sandbox.client.send_text(USER, "/start")
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text="A", callback_data="q:1:a")],
            [InlineKeyboardButton(text="B", callback_data="q:1:b")],
        ]
    )
    msg = await bot.send_message(
        USER, "<b>第1题</b> 宪法是&lt;根本法&gt;", parse_mode="HTML", reply_markup=keyboard
    )
    assert isinstance(msg, Message)
    assert msg.text == "第1题 宪法是<根本法>"
    assert msg.entities is not None and msg.entities[0].type == "bold"
    assert msg.from_user is not None and msg.from_user.is_bot
    assert msg.reply_markup is not None
    assert msg.reply_markup.model_dump() == keyboard.model_dump()

    await updates(bot)  # drain the /start
    query_id = await sandbox.client.press_button(USER, msg.message_id, "B")
    result = await bot.get_updates(offset=-1, timeout=0)
    callback = result[-1].callback_query
    assert callback is not None
    assert callback.id == query_id
    assert callback.data == "q:1:b"
    assert callback.message is not None and callback.message.message_id == msg.message_id
    assert callback.from_user.id == USER
    assert await bot.answer_callback_query(query_id, text="正确!", show_alert=True)
    answer = await sandbox.client.callback_answer(query_id)
    assert answer is not None
    assert answer["text"] == "正确!" and answer["show_alert"] is True

    edited = await bot.edit_message_text(
        text="第1题 (已答)", chat_id=USER, message_id=msg.message_id, reply_markup=keyboard
    )
    assert isinstance(edited, Message)
    assert edited.edit_date is not None
    edited2 = await bot.edit_message_reply_markup(chat_id=USER, message_id=msg.message_id)
    assert isinstance(edited2, Message) and edited2.reply_markup is None
    assert await bot.delete_message(USER, msg.message_id)
    [view] = await sandbox.client.messages(USER)
    assert view["deleted"] is True
    assert view["edit_count"] == 2
    assert view["text"] == "第1题 (已答)"


async def test_files_photo_document_get_file(bot: Bot, sandbox: RunningSandbox) -> None:
    await sandbox.client.send_text(USER, "/start")
    png = tiny_png(7, 5)
    photo_msg = await bot.send_photo(
        USER, BufferedInputFile(png, "chart.png"), caption="<i>统计图</i>", parse_mode="HTML"
    )
    assert photo_msg.photo is not None
    assert (photo_msg.photo[-1].width, photo_msg.photo[-1].height) == (7, 5)
    assert photo_msg.caption == "统计图"
    assert await sandbox.client.sent_file(USER, photo_msg.message_id) == png

    xlsx = b"PK\x03\x04 pretend spreadsheet"
    doc_msg = await bot.send_document(USER, BufferedInputFile(xlsx, "report.xlsx"))
    assert doc_msg.document is not None
    assert doc_msg.document.file_name == "report.xlsx"
    assert doc_msg.document.file_size == len(xlsx)
    assert await sandbox.client.sent_file(USER, doc_msg.message_id) == xlsx

    named = await bot.send_document(USER, BufferedInputFile(b"x", "2022年 报表.xlsx"))
    assert named.document is not None and named.document.file_name == "2022年 报表.xlsx"
    again = await bot.send_document(USER, doc_msg.document.file_id)  # by file_id
    assert again.document is not None
    assert again.document.file_id == doc_msg.document.file_id

    file = await bot.get_file(doc_msg.document.file_id)
    assert isinstance(file, File) and file.file_path
    buffer = io.BytesIO()
    await bot.download_file(file.file_path, buffer)
    assert buffer.getvalue() == xlsx

    # a document uploaded by a user can be fetched by the bot
    up = await sandbox.client.send_document(USER, "roster.csv", "姓名,班级\n".encode())
    result = await bot.get_updates(offset=-1, timeout=0)
    document = result[-1].message.document  # type: ignore[union-attr]
    assert document is not None and document.file_name == "roster.csv"
    assert result[-1].message.message_id == up.message_id  # type: ignore[union-attr]
    downloaded = await bot.download(document.file_id)
    assert downloaded is not None and downloaded.read() == "姓名,班级\n".encode()

    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await bot.send_document(USER, "no-such-file-id")


async def test_polls(bot: Bot, sandbox: RunningSandbox) -> None:
    await sandbox.client.send_text(USER, "/start")
    quiz = await bot.send_poll(
        USER,
        "宪法日是哪天?",
        ["12月4日", "10月1日", "3月15日"],
        type="quiz",
        correct_option_id=0,
        is_anonymous=False,
        explanation="<b>12月4日</b>是国家宪法日",
        explanation_parse_mode="HTML",
        open_period=60,
    )
    assert quiz.poll is not None
    assert isinstance(quiz.poll, Poll)
    assert quiz.poll.type == "quiz"
    assert quiz.poll.correct_option_ids == [0]
    assert quiz.poll.explanation == "12月4日是国家宪法日"
    assert quiz.poll.open_period == 60

    await updates(bot)
    await sandbox.client.answer_poll(USER, quiz.poll.id, [1])
    result = await bot.get_updates(offset=-2, timeout=0)
    answers = [u.poll_answer for u in result if u.poll_answer is not None]
    assert len(answers) == 1
    assert answers[0].poll_id == quiz.poll.id
    assert answers[0].option_ids == [1]
    assert answers[0].user is not None and answers[0].user.id == USER
    polls = [u.poll for u in result if u.poll is not None]
    assert polls and polls[0].options[1].voter_count == 1

    regular = await bot.send_poll(USER, "你喜欢哪种活动?", ["讲座", "竞赛"])
    assert regular.poll is not None and regular.poll.is_anonymous
    assert await sandbox.client.answer_poll(USER, regular.poll.id, [0]) is None
    stopped = await bot.stop_poll(USER, regular.message_id)
    assert isinstance(stopped, Poll)
    assert stopped.is_closed and stopped.total_voter_count == 1
    with pytest.raises(TelegramBadRequest, match="poll has already been closed"):
        await bot.stop_poll(USER, regular.message_id)


def pairs(commands: list[BotCommand]) -> list[tuple[str, str]]:
    return [(c.command, c.description) for c in commands]


async def test_commands_chat_actions_chat_info(bot: Bot, sandbox: RunningSandbox) -> None:
    commands = [
        BotCommand(command="start", description="开始"),
        BotCommand(command="quiz", description="答题"),
    ]
    assert await bot.set_my_commands(commands)
    assert pairs(await bot.get_my_commands()) == [("start", "开始"), ("quiz", "答题")]
    scope = BotCommandScopeAllPrivateChats()
    assert await bot.get_my_commands(scope=scope) == []
    assert await bot.set_my_commands(commands[:1], scope=scope, language_code="zh")
    assert pairs(await bot.get_my_commands(scope=scope, language_code="zh")) == [("start", "开始")]
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad Command", description="x")])

    await sandbox.client.send_text(USER, "hi", first_name="小红", username="xh")
    assert await bot.send_chat_action(USER, "typing")
    chat = await bot.get_chat(USER)
    assert isinstance(chat, ChatFullInfo)
    assert chat.type == "private" and chat.first_name == "小红" and chat.username == "xh"
    member = await bot.get_chat_member(USER, USER)
    assert isinstance(member, ChatMemberMember)
    assert member.user.id == USER

    await sandbox.client.create_group(-100, "129团中学 七年级")
    group = await bot.get_chat(-100)
    assert group.type == "group" and group.title == "129团中学 七年级"
    await sandbox.client.send_text(USER, "大家好", chat_id=-100)
    member = await bot.get_chat_member(-100, USER)
    assert member.status == "member"
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.get_chat(-4242)


async def test_copy_message_and_reply(bot: Bot, sandbox: RunningSandbox) -> None:
    sent = await sandbox.client.send_text(USER, "请转发这条")
    await sandbox.client.send_text(USER + 1, "/start")
    copied = await bot.copy_message(USER + 1, USER, sent.message_id)
    assert isinstance(copied, MessageId)
    [view] = await sandbox.client.messages(USER + 1)
    assert view["message_id"] == copied.message_id
    assert view["text"] == "请转发这条"
    reply = await bot.send_message(USER, "收到", reply_to_message_id=sent.message_id)
    assert reply.reply_to_message is not None
    assert reply.reply_to_message.message_id == sent.message_id
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(USER, "x", reply_to_message_id=9999)


async def test_webhook_info_and_forbidden(bot: Bot, sandbox: RunningSandbox) -> None:
    info = await bot.get_webhook_info()
    assert isinstance(info, WebhookInfo) and info.url == ""
    await sandbox.client.send_text(USER, "/start")
    await sandbox.client.block(USER)
    result = await bot.get_updates(offset=-1, timeout=0)
    upd = result[-1].my_chat_member
    assert upd is not None
    assert upd.old_chat_member.status == "member"
    assert upd.new_chat_member.status == "kicked"
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(USER, "hello")
    await sandbox.client.unblock(USER)
    assert (await bot.send_message(USER, "welcome back")).text == "welcome back"

    await sandbox.client.register_user(2002, first_name="未开始")
    with pytest.raises(TelegramForbiddenError, match="bot can't initiate conversation"):
        await bot.send_message(2002, "hello")
    await sandbox.client.deactivate(2002)
    with pytest.raises(TelegramForbiddenError, match="user is deactivated"):
        await bot.send_message(2002, "hello")
    with pytest.raises(TelegramBadRequest, match="Bad Request: chat not found"):
        await bot.send_message(777777, "hello")


async def test_request_encodings(sandbox: RunningSandbox) -> None:
    """Form, JSON and query-string requests work like aiogram's multipart ones."""
    await sandbox.client.send_text(USER, "/start")
    base = f"{sandbox.url}/bot{sandbox.config.token}"
    markup = '{"inline_keyboard":[[{"text":"x","callback_data":"d"}]]}'
    async with aiohttp.ClientSession() as http:
        form = {"chat_id": str(USER), "text": "form", "reply_markup": markup}
        async with http.post(f"{base}/sendMessage", data=form) as resp:
            body = await resp.json()
            assert body["ok"] and body["result"]["reply_markup"]["inline_keyboard"]
        payload = {"chat_id": USER, "text": "json", "disable_notification": True}
        async with http.post(f"{base}/sendMessage", json=payload) as resp:
            assert (await resp.json())["result"]["text"] == "json"
        async with http.get(f"{base}/sendMessage", params={"chat_id": USER, "text": "q"}) as resp:
            assert (await resp.json())["result"]["text"] == "q"
        async with http.get(f"{base}/getme") as resp:  # method names are case-insensitive
            assert (await resp.json())["ok"]
    texts = [m["text"] for m in await sandbox.client.messages(USER)]
    assert texts == ["form", "json", "q"]


class _Unknown(TelegramMethod[bool]):
    __returning__ = bool
    __api_method__ = "sendTelepathy"


async def test_unknown_method_through_aiogram(bot: Bot) -> None:
    with pytest.raises(TelegramNotFound):
        await bot(_Unknown())
