"""Uploading a question bank in chat, end to end through the sandbox over real HTTP."""

from __future__ import annotations

import asyncio
import io
import itertools
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import docx
import pytest
from aiogram import Dispatcher
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.methods import GetFile
from aiogram.types import Chat, Document, Message, Update, User
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import running_bot
from bot.config import Settings
from bot.factory import create_dispatcher
from bot.sandbox.client import SandboxClient
from bot.sandbox.config import SandboxConfig
from bot.sandbox.server import RunningSandbox, run_sandbox
from quizzes.bank_parsers import MAX_FILE_BYTES
from storage.banks import BankRepository
from storage.models_quiz_bank import QuestionBankRow, QuestionRow
from tests.mocked_bot import MockedBot, text_update, user

ADMIN = 1
STUDENT = 2

GOOD_CSV = (
    "题型,题干,选项A,选项B,选项C,答案,解析,标签\n"
    "单选,我国的根本制度是？,社会主义制度,人民代表大会制度,民族区域自治制度,A,第一条,总纲\n"
    "多选,人民行使国家权力的机关是？,全国人大,地方各级人大,国务院,AB,第二条,总纲\n"
    "判断,宪法是国家的根本法。,,,,对,序言,序言\n"
).encode("utf-8-sig")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    async with run_sandbox(SandboxConfig()) as running:
        yield running


@pytest.fixture
def settings(sandbox: RunningSandbox, database_url: str) -> Settings:
    return Settings(
        bot_token=sandbox.config.token,
        bot_api_url=sandbox.url,
        database_url=database_url,
        admin_ids=frozenset({ADMIN}),
        listen_port=free_port(),
    )


async def bank_rows(session_factory: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    async with session_factory() as session:
        banks = await session.scalar(select(func.count()).select_from(QuestionBankRow))
        questions = await session.scalar(select(func.count()).select_from(QuestionRow))
    return banks or 0, questions or 0


def buttons(message: dict[str, Any]) -> dict[str, str]:
    markup = message.get("reply_markup") or {}
    return {
        button["text"]: button["callback_data"]
        for line in markup.get("inline_keyboard", [])
        for button in line
    }


async def wait_for_edit(
    client: SandboxClient, chat_id: int, message_id: int, edits: int = 1
) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            for message in await client.messages(chat_id):
                if message["message_id"] == message_id and message["edit_count"] >= edits:
                    return message
            await asyncio.sleep(0.02)


async def test_admin_uploads_checks_and_confirms_a_bank(
    sandbox: RunningSandbox,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    client = sandbox.client
    async with running_bot(settings, migrate=False):
        await client.send_document(ADMIN, "宪法入门.csv", GOOD_CSV)
        summary = (await client.wait_for_messages(ADMIN, 1))[-1]
        assert "题库《宪法入门》检查通过，共 3 题" in summary["text"]
        assert "单选 1 题，多选 1 题，判断 1 题" in summary["text"]
        assert "总纲 2" in summary["text"]
        keys = buttons(summary)
        assert set(keys) == {"确认导入", "取消"}
        assert all(len(data.encode()) <= 64 for data in keys.values())
        assert await bank_rows(session_factory) == (0, 0)

        await client.press_button(ADMIN, summary["message_id"], "确认导入")
        done = await wait_for_edit(client, ADMIN, summary["message_id"])
        assert "已导入题库《宪法入门》" in done["text"] and "共 3 题" in done["text"]
        assert not buttons(done)

        # The old button, pressed again, is stale: a toast, and nothing is imported twice.
        query = await client.press(ADMIN, summary["message_id"], keys["确认导入"], forge=True)
        answer = await client.wait_for_callback_answer(query)
        assert "已失效" in (answer.get("text") or "")

        # The same file again: the summary says so, and confirming changes nothing.
        await client.send_document(ADMIN, "宪法入门.csv", GOOD_CSV)
        again = (await client.wait_for_messages(ADMIN, 2))[-1]
        assert "内容相同" in again["text"]
        await client.press_button(ADMIN, again["message_id"], "确认导入")
        unchanged = await wait_for_edit(client, ADMIN, again["message_id"])
        assert "没有改动" in unchanged["text"]

    assert await bank_rows(session_factory) == (1, 3)
    async with session_factory() as session:
        stored = await BankRepository(session).by_name("宪法入门")
        assert stored is not None
        assert stored.imported_by == ADMIN and stored.source_filename == "宪法入门.csv"


async def test_a_bad_file_lists_its_problems_and_imports_nothing(
    sandbox: RunningSandbox,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    client = sandbox.client
    lines = ["题型,题干,选项A,选项B,答案"]
    lines += [f"单选,第{i}题 <b>,甲,乙,C" for i in range(24)]
    lines += ["单选,第0题 <b>,甲,乙,A"]
    async with running_bot(settings, migrate=False):
        await client.send_document(ADMIN, "bad.csv", "\n".join(lines).encode("gb18030"))
        reply = (await client.wait_for_messages(ADMIN, 1))[-1]
        text = reply["text"]
        assert "题库《bad.csv》未导入：发现 25 个问题" in text
        assert "第 2 行，“答案”列：答案中的“C”不在选项中" in text
        assert "另有 5 个问题未列出" in text
        assert not buttons(reply)

        await client.send_document(ADMIN, "题库.xls", b"\xd0\xcf\x11\xe0whatever")
        reply = (await client.wait_for_messages(ADMIN, 2))[-1]
        assert "不支持该文件类型" in reply["text"] and "另存为 .xlsx" in reply["text"]

        await client.send_document(ADMIN, "broken.yaml", b"questions: [\n  - a\n")
        reply = (await client.wait_for_messages(ADMIN, 3))[-1]
        assert "YAML 格式有误" in reply["text"]
    assert await bank_rows(session_factory) == (0, 0)


async def test_an_oversized_file_is_refused_without_downloading(
    sandbox: RunningSandbox,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    client = sandbox.client
    async with running_bot(settings, migrate=False):
        await client.reset_stats()
        await client.send_document(ADMIN, "huge.xlsx", b"\0" * (MAX_FILE_BYTES + 1))
        reply = (await client.wait_for_messages(ADMIN, 1))[-1]
        assert "超过了 5 MB 的上限" in reply["text"]
        assert (await client.stats())["calls"].get("getFile", 0) == 0
    assert await bank_rows(session_factory) == (0, 0)


async def test_cancel_and_a_non_admin(
    sandbox: RunningSandbox,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    client = sandbox.client
    async with running_bot(settings, migrate=False):
        await client.send_document(ADMIN, "宪法入门.csv", GOOD_CSV)
        summary = (await client.wait_for_messages(ADMIN, 1))[-1]
        await client.press_button(ADMIN, summary["message_id"], "取消")
        cancelled = await wait_for_edit(client, ADMIN, summary["message_id"])
        assert "已取消" in cancelled["text"]

        await client.send_document(STUDENT, "宪法入门.csv", GOOD_CSV)
        reply = (await client.wait_for_messages(STUDENT, 1))[-1]
        assert "只有管理员可以上传题库" in reply["text"]
        # The admin's button, forged by someone else, does nothing for them.
        token = buttons(summary)["确认导入"]
        query = await client.press(
            STUDENT, summary["message_id"], token, chat_id=ADMIN, forge=True
        )
        answer = await client.wait_for_callback_answer(query)
        assert "只有管理员" in (answer.get("text") or "")
        assert not buttons(cancelled)
        stats = await client.stats()
    assert await bank_rows(session_factory) == (0, 0)
    assert stats["calls"].get("getFile", 0) == 1


async def test_a_word_bank_is_checked_and_its_picture_question_flagged(
    sandbox: RunningSandbox,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    document = docx.Document()
    for line in (
        "宪法知识竞赛题库",
        "1．中华人民共和国的根本制度是（ ）。",
        "A．社会主义制度  B．人民代表大会制度",
        "答案：A",
        "2．如下图所示，这面旗帜是（ ）。",
        "A．国旗  B．党旗",
        "答案：A",
        "3．宪法是国家的根本法。",
        "答案：正确",
    ):
        document.add_paragraph(line)
    buffer = io.BytesIO()
    document.save(buffer)
    client = sandbox.client
    async with running_bot(settings, migrate=False):
        await client.send_document(ADMIN, "竞赛题库.docx", buffer.getvalue())
        summary = (await client.wait_for_messages(ADMIN, 1))[-1]
        text = summary["text"]
        assert "题库《竞赛题库》检查通过，共 3 题" in text
        assert "单选 2 题，多选 0 题，判断 1 题" in text
        assert "有 1 处需要留意（不影响导入）" in text
        assert "第 2 题，“题干”字段：题目提到了图片（“如下图”）" in text
        await client.press_button(ADMIN, summary["message_id"], "确认导入")
        done = await wait_for_edit(client, ADMIN, summary["message_id"])
        assert "已导入题库《竞赛题库》" in done["text"]
    assert await bank_rows(session_factory) == (1, 3)


# --------------------------------------------------------------------------- not banks

_ids = itertools.count(10_000)


def document_update(from_user: User, file_name: str, size: int = 200_000) -> Update:
    message = Message(
        message_id=next(_ids),
        date=datetime.now(UTC),
        chat=Chat(id=from_user.id, type="private", first_name=from_user.first_name),
        from_user=from_user,
        document=Document(
            file_id=f"file-{next(_ids)}",
            file_unique_id=f"unique-{next(_ids)}",
            file_name=file_name,
            file_size=size,
        ),
    )
    return Update(update_id=next(_ids), message=message)


@dataclass
class FileChat:
    dp: Dispatcher
    bot: MockedBot

    async def send(self, update: Update) -> list[str]:
        """What the bot says in reply to ``update``."""
        self.bot.clear()
        await self.dp.feed_update(self.bot, update)
        assert not [m for m in self.bot.recorder.requests if isinstance(m, GetFile)]
        return self.bot.sent_texts()


@pytest.fixture
def chat(session_factory: async_sessionmaker[AsyncSession], database_url: str) -> FileChat:
    settings = Settings(
        bot_token="42:TEST-token", database_url=database_url, admin_ids=frozenset({ADMIN})
    )
    dp = create_dispatcher(
        settings, session_factory, storage=MemoryStorage(), events_isolation=SimpleEventIsolation()
    )
    return FileChat(dp, MockedBot())


TOO_BIG = MAX_FILE_BYTES + 1


async def test_a_picture_sent_as_a_file_during_post_belongs_to_the_post(chat: FileChat) -> None:
    # Regression: the poster was taken for a question bank ("题库《宪法日海报.jpg》未导入").
    admin = user(ADMIN)
    assert await chat.send(text_update(admin, "/post"))
    replies = await chat.send(document_update(admin, "宪法日海报.jpg"))
    assert replies and not any("题库" in reply for reply in replies)
    # In the dialogue even a spreadsheet is the dialogue's, not a bank upload.
    replies = await chat.send(document_update(admin, "宪法日海报.xlsx", TOO_BIG))
    assert not any("题库" in reply or "上限" in reply for reply in replies)


async def test_outside_a_dialogue_only_bank_files_are_taken_as_banks(chat: FileChat) -> None:
    admin, student = user(ADMIN), user(STUDENT)
    for person in (admin, student):
        replies = await chat.send(document_update(person, "宪法日海报.jpg"))
        assert replies and not any("题库" in reply for reply in replies)
    (refused,) = await chat.send(document_update(admin, "题库.xlsx", TOO_BIG))
    assert "超过了 5 MB 的上限" in refused
    (refused,) = await chat.send(document_update(student, "题库.docx"))
    assert "只有管理员可以上传题库" in refused
