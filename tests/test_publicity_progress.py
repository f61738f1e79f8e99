"""The progress message of a broadcast always arrives (a refused first send is tried
again), and a broadcast that reached nobody says so and why."""

from __future__ import annotations

import asyncio
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import SendMessage, TelegramMethod
from aiogram.methods.base import TelegramType
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.broadcaster import Broadcaster
from bot.config import Settings
from bot.i18n import Translator
from bot.services import ServiceContext
from quizzes.publicity import Audience
from storage.publicity import PublicityRepository
from tests.factories import World, build_world
from tests.mocked_bot import MockedBot, RecordingSession
from tests.publicity_factories import add_people, make_article

ADMIN = 1
BLOCKED = [4000, 4001, 4002]
GONE = [4003, 4004]


class RefusingSession(RecordingSession):
    """Telegram as it is on a bad day: the first progress message is refused with a 429,
    then with a 500; three students blocked the bot, two chats do not exist."""

    def __init__(self) -> None:
        super().__init__()
        self.progress_refusals: list[type[Exception]] = [TelegramRetryAfter, TelegramServerError]

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        if isinstance(method, SendMessage):
            chat = int(method.chat_id)
            if chat == ADMIN and self.progress_refusals:
                self.requests.append(method)
                refusal = self.progress_refusals.pop(0)
                if refusal is TelegramRetryAfter:
                    raise TelegramRetryAfter(method, "Too Many Requests: retry after 0", 0)
                raise TelegramServerError(method, "Internal Server Error")
            if chat in BLOCKED:
                raise TelegramForbiddenError(method, "Forbidden: bot was blocked by the user")
            if chat in GONE:
                raise TelegramBadRequest(method, "Bad Request: chat not found")
        return await super().make_request(bot, method, timeout)


class RefusingBot(MockedBot):
    def __init__(self) -> None:
        super().__init__()
        self.session = RefusingSession()


def progress_texts(bot: MockedBot) -> list[str]:
    texts = []
    for method in bot.recorder.requests:
        if getattr(method, "chat_id", None) == ADMIN and hasattr(method, "text"):
            texts.append(str(method.text))
    return texts


async def test_a_refused_progress_message_is_sent_again_and_says_why_nobody_got_it(
    session_factory: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    world: World = await build_world(session_factory)
    school = world.classes["七年级1班"].id
    await add_people(session_factory, BLOCKED + GONE, school)
    article = await make_article(session_factory, audience=Audience(frozenset({school})))
    settings = Settings(
        bot_token="42:TEST-token", database_url=database_url, admin_ids=frozenset({ADMIN})
    )
    bot = RefusingBot()
    context = ServiceContext(settings, session_factory, bot, Translator.load())
    broadcaster = Broadcaster(
        context, bot=bot, rate=1000.0, poll_s=0.02, progress_every_s=0.0, backoff_s=0.0
    )
    await broadcaster.start()
    try:
        broadcast = await broadcaster.start_broadcast(
            article.id, created_by=ADMIN, locale="zh-CN", progress_chat_id=ADMIN
        )
        await broadcaster.wait_until_finished(broadcast.id)

        async def final_progress() -> tuple[int | None, str | None]:
            async with session_factory() as session:
                stored = await PublicityRepository(session).broadcast(broadcast.id)
            assert stored is not None
            texts = [t for t in progress_texts(bot) if "没有送达任何人" in t]
            return stored.progress_message_id, texts[-1] if texts else None

        for _ in range(1500):  # the broadcaster's loop shows it at one of its next looks
            found = await final_progress()
            if found[0] and found[1]:
                break
            await asyncio.sleep(0.02)
    finally:
        await broadcaster.stop()
    message_id, text = found
    assert message_id  # neither missing nor left at 0 ("being sent")
    assert text is not None
    assert "❌ 《宪法宣传周》推送结束，没有送达任何人" in text
    assert "已送达 0 · 失败 2 · 已屏蔽 3" in text
    assert "其中 3 人已屏蔽机器人" in text
    assert "Bad Request: chat not found（2 人）" in text
    assert "✅" not in text
    refused: Any = bot.session
    assert refused.progress_refusals == []  # both refusals happened, then it went through
