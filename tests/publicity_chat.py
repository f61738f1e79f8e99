"""An in-process chat for publicity tests: the dispatcher over a world with an admin, a
coordinator of two schools and a few students; a broadcaster that is not started
(broadcasts are written, nothing is sent) and a scheduler."""

from __future__ import annotations

import itertools
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.methods import AnswerCallbackQuery, GetFile, SendPhoto, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import Chat as TelegramChat
from aiogram.types import Document, File, Message, PhotoSize, Update, User
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.broadcaster import Broadcaster
from bot.config import Settings
from bot.factory import create_dispatcher
from bot.i18n import Translator
from bot.middlewares import ThrottlingMiddleware
from bot.scheduler import Scheduler
from bot.services import ServiceContext
from quizzes.participants import GrantKind
from storage.repositories import Repositories
from tests.factories import World, build_world
from tests.mocked_bot import (
    BOT_USER,
    MockedBot,
    RecordingSession,
    callback_update,
    text_update,
    user,
)
from tests.publicity_factories import add_people

ADMIN = 1
COORDINATOR = 2
# What every file sent as a document holds, as this chat's bot downloads it.
FILE_BYTES = b"\xff\xd8\xff\xe0 a JPEG, as far as these tests go"


class FilesSession(RecordingSession):
    """Also answers getFile, downloads and sendPhoto (with a photo file id), as Telegram
    would."""

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        if isinstance(method, GetFile):
            self.requests.append(method)
            file = File(
                file_id=method.file_id,
                file_unique_id=f"u-{method.file_id}",
                file_size=len(FILE_BYTES),
                file_path=f"documents/{method.file_id}",
            )
            return file  # type: ignore[return-value]
        if isinstance(method, SendPhoto):
            self.requests.append(method)
            number = next(self._ids)
            sent = Message(
                message_id=number,
                date=datetime.now(UTC),
                chat=TelegramChat(id=int(method.chat_id), type="private"),
                from_user=BOT_USER,
                photo=[
                    PhotoSize(
                        file_id=f"photo-{number}",
                        file_unique_id=f"p{number}",
                        width=800,
                        height=600,
                    )
                ],
                caption=method.caption,
                reply_markup=method.reply_markup,
            )
            return sent  # type: ignore[return-value]
        return await super().make_request(bot, method, timeout)

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        yield FILE_BYTES


class FilesBot(MockedBot):
    def __init__(self) -> None:
        super().__init__()
        self.session = FilesSession()


@dataclass
class Chat:
    dp: Dispatcher
    bot: MockedBot
    broadcaster: Broadcaster
    world: World
    session_factory: async_sessionmaker[AsyncSession]
    context: ServiceContext

    async def say(self, telegram_id: int, text: str) -> str:
        await self.dp.feed_update(self.bot, text_update(user(telegram_id), text))
        return self.bot.sent_texts(telegram_id)[-1]

    async def feed(self, update: Update) -> None:
        await self.dp.feed_update(self.bot, update)

    async def press(self, telegram_id: int, data: str) -> AnswerCallbackQuery:
        await self.dp.feed_update(self.bot, callback_update(user(telegram_id), data))
        answers = [m for m in self.bot.recorder.requests if isinstance(m, AnswerCallbackQuery)]
        return answers[-1]

    async def grants_of(self, telegram_id: int) -> list[tuple[str, int | None]]:
        async with self.session_factory() as session:
            repo = Repositories.over(session)
            person = await repo.participants.by_telegram_id(telegram_id)
            assert person is not None
            return sorted((g.kind.value, g.unit_id) for g in await repo.grants.of(person.id))


@pytest.fixture
async def chat(
    session_factory: async_sessionmaker[AsyncSession], database_url: str
) -> AsyncIterator[Chat]:
    world = await build_world(session_factory)
    first, other = world.schools["胡杨河市第一中学"], world.schools["一三一团中学"]
    await add_people(session_factory, [3000, 3001], world.classes["七年级1班"].id)
    await add_people(session_factory, [ADMIN, COORDINATOR], first.id, "teacher")
    async with session_factory() as session:
        repo = Repositories.over(session)
        coordinator = await repo.participants.by_telegram_id(COORDINATOR)
        assert coordinator is not None
        for school in (first, other):
            await repo.grants.grant(coordinator.id, GrantKind.COORDINATOR, school.id, ADMIN)
        await session.commit()
    settings = Settings(
        bot_token="42:TEST-token", database_url=database_url, admin_ids=frozenset({ADMIN})
    )
    dp = create_dispatcher(
        settings, session_factory, storage=MemoryStorage(), events_isolation=SimpleEventIsolation()
    )
    for middleware in dp.message.outer_middleware:
        if isinstance(middleware, ThrottlingMiddleware):  # a dialogue is many messages
            middleware.rate = 1000
    bot = FilesBot()
    context = ServiceContext(settings, session_factory, bot, Translator.load())
    broadcaster = Broadcaster(context, bot=bot)  # not started: nothing is sent
    scheduler = Scheduler(context, replan_every=timedelta(0))
    dp["broadcaster"] = broadcaster
    dp["scheduler"] = scheduler
    yield Chat(dp, bot, broadcaster, world, session_factory, context)
    await scheduler.stop()


def document_update(from_user: User, file_name: str, mime_type: str, caption: str = "") -> Update:
    """A file sent as a document (not as a photo), as Telegram delivers it."""
    message = Message(
        message_id=next(_document_ids),
        date=datetime.now(UTC),
        chat=TelegramChat(id=from_user.id, type="private", first_name=from_user.first_name),
        from_user=from_user,
        document=Document(
            file_id=f"doc-{file_name}",
            file_unique_id=f"u-{file_name}",
            file_name=file_name,
            mime_type=mime_type,
            file_size=1000,
        ),
        caption=caption or None,
    )
    return Update(update_id=next(_document_ids), message=message)


_document_ids = itertools.count(900_000)
