"""A Bot whose session records requests and answers like Telegram, for in-process tests.

The end-to-end tests use the sandbox over HTTP; these are for breadth and speed, feeding
updates straight into the dispatcher with ``dp.feed_update``.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.base import BaseSession
from aiogram.enums import ParseMode
from aiogram.methods import (
    EditMessageReplyMarkup,
    EditMessageText,
    GetMe,
    SendMessage,
    TelegramMethod,
)
from aiogram.methods.base import TelegramType
from aiogram.types import (
    CallbackQuery,
    Chat,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    Update,
    User,
)

BOT_USER = User(id=42, is_bot=True, first_name="普法助手", username="pufa_test_bot")


class RecordingSession(BaseSession):
    def __init__(self) -> None:
        super().__init__()
        self.requests: list[TelegramMethod[Any]] = []
        self._ids = itertools.count(1000)

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        self.requests.append(method)
        result: Any = True
        if isinstance(method, GetMe):
            result = BOT_USER
        elif isinstance(method, SendMessage):
            result = Message(
                message_id=next(self._ids),
                date=datetime.now(UTC),
                chat=Chat(id=int(method.chat_id), type="private"),
                from_user=BOT_USER,
                text=method.text,
                reply_markup=method.reply_markup,
            )
        elif isinstance(method, EditMessageText | EditMessageReplyMarkup):
            result = True
        return method.__returning__.model_validate(result) if result is not True else result  # type: ignore[no-any-return]

    async def close(self) -> None:
        return None

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:  # pragma: no cover - not used by these tests
        yield b""


class MockedBot(Bot):
    def __init__(self) -> None:
        super().__init__(
            "42:TEST-token",
            session=RecordingSession(),
            default=DefaultBotProperties(parse_mode=ParseMode.HTML),
        )
        self._me = BOT_USER

    @property
    def recorder(self) -> RecordingSession:
        assert isinstance(self.session, RecordingSession)
        return self.session

    def sent_texts(self, chat_id: int | None = None) -> list[str]:
        texts = []
        for method in self.recorder.requests:
            if isinstance(method, SendMessage | EditMessageText) and (
                chat_id is None or method.chat_id == chat_id
            ):
                texts.append(method.text)
        return texts

    def last_markup_data(self) -> list[str]:
        """Callback data of the buttons on the last message sent or edited."""
        for method in reversed(self.recorder.requests):
            if (
                isinstance(method, SendMessage | EditMessageText | EditMessageReplyMarkup)
                and method.reply_markup
            ):
                markup: Any = method.reply_markup
                return [b.callback_data for row in markup.inline_keyboard for b in row]
        return []

    def last_buttons(self) -> list[str]:
        """Texts of the buttons on the last message sent or edited (markup edits included)."""
        for method in reversed(self.recorder.requests):
            markup: Any = getattr(method, "reply_markup", None)
            if markup is not None and hasattr(markup, "inline_keyboard"):
                return [b.text for row in markup.inline_keyboard for b in row]
        return []

    def clear(self) -> None:
        self.recorder.requests.clear()


_update_ids = itertools.count(1)
_message_ids = itertools.count(1)


def user(user_id: int, *, first_name: str = "小明", language_code: str = "zh-hans") -> User:
    return User(id=user_id, is_bot=False, first_name=first_name, language_code=language_code)


def text_update(from_user: User, text: str) -> Update:
    entities = None
    if text.startswith("/"):
        command = text.split()[0]
        entities = [MessageEntity(type="bot_command", offset=0, length=len(command))]
    message = Message(
        message_id=next(_message_ids),
        date=datetime.now(UTC),
        chat=Chat(id=from_user.id, type="private", first_name=from_user.first_name),
        from_user=from_user,
        text=text,
        entities=entities,
    )
    return Update(update_id=next(_update_ids), message=message)


def callback_update(
    from_user: User,
    data: str,
    message_id: int = 1,
    reply_markup: InlineKeyboardMarkup | None = None,
) -> Update:
    """A button press on message ``message_id``, which carries ``reply_markup`` (as
    Telegram sends the pressed message with its buttons)."""
    message = Message(
        message_id=message_id,
        date=datetime.now(UTC),
        chat=Chat(id=from_user.id, type="private"),
        from_user=BOT_USER,
        text="…",
        reply_markup=reply_markup,
    )
    query = CallbackQuery(
        id=str(next(_update_ids)),
        from_user=from_user,
        chat_instance="ci",
        data=data,
        message=message,
    )
    return Update(update_id=next(_update_ids), callback_query=query)
