"""The sandbox's in-memory world: users, chats, messages, updates, files, polls, queries."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import mimetypes
import re
import secrets
import struct
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from bot.sandbox.config import SandboxConfig
from bot.sandbox.errors import ApiError, ControlError, bad_request, conflict, forbidden
from bot.sandbox.limits import RateLimiter
from bot.sandbox.params import Params, Upload
from bot.sandbox.textparse import EntityParseError, ParsedText, command_entities, parse_text
from bot.sandbox.web_app import signed_init_data
from bot.sandbox.webhook import DeliveryStats, UpdateRecord, WebhookDelivery

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_ANSWER_TEXT = 200
MAX_POLL_QUESTION = 300
MAX_POLL_OPTION = 100
MAX_POLL_OPTIONS = 12
MAX_POLL_EXPLANATION = 200
MIN_OPEN_PERIOD = 5
MAX_OPEN_PERIOD = 2_628_000
MAX_DOWNLOAD = 20 * 1024 * 1024
MAX_UPLOAD = 50 * 1024 * 1024
MAX_PHOTO = 10 * 1024 * 1024
MAX_POLL_TIMEOUT = 50

ALL_UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "message_reaction",
        "message_reaction_count",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)
DEFAULT_UPDATE_TYPES = ALL_UPDATE_TYPES - {
    "chat_member",
    "message_reaction",
    "message_reaction_count",
}
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
INLINE_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_COMMAND_NAME_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_SUPERGROUP_BELOW = -1_000_000_000_000
_COPYABLE = ("text", "entities", "photo", "document", "caption", "caption_entities")


@dataclass(slots=True)
class UserState:
    id: int
    first_name: str
    username: str | None = None
    last_name: str | None = None
    language_code: str | None = None
    blocked: bool = False
    deactivated: bool = False
    json: dict[str, Any] = field(default_factory=dict)

    def refresh(self) -> None:
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        self.json = data


@dataclass(slots=True)
class StoredMessage:
    chat_id: int
    message_id: int
    data: dict[str, Any]
    from_bot: bool
    reply_markup: dict[str, Any] | None = None
    deleted: bool = False
    edit_count: int = 0
    poll_id: str | None = None
    file_id: str | None = None


@dataclass(slots=True)
class ChatState:
    id: int
    type: str
    title: str | None = None
    user: UserState | None = None
    json: dict[str, Any] = field(default_factory=dict)
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    bot_messages: list[StoredMessage] = field(default_factory=list)
    next_message_id: int = 1
    members: set[int] = field(default_factory=set)
    bot_kicked: bool = False
    username: str | None = None  # a public channel's @username, without the @
    bot_admin: bool = True  # channels: the bot may post only as an admin

    def refresh(self) -> None:
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.user is not None:
            data["first_name"] = self.user.first_name
            if self.user.last_name:
                data["last_name"] = self.user.last_name
            if self.user.username:
                data["username"] = self.user.username
        else:
            data["title"] = self.title or str(self.id)
            if self.username:
                data["username"] = self.username
        self.json = data

    @property
    def instance(self) -> str:
        return str((self.id * 2654435761) % (2**63))


@dataclass(slots=True)
class FileRecord:
    file_id: str
    file_unique_id: str
    data: bytes
    file_name: str | None
    mime_type: str | None
    kind: str
    file_path: str
    width: int = 0
    height: int = 0


@dataclass(slots=True)
class PollState:
    id: str
    chat_id: int
    message_id: int
    question: str
    question_entities: list[dict[str, Any]]
    options: list[str]
    persistent_ids: list[str]
    counts: list[int]
    is_anonymous: bool
    type: str
    allows_multiple_answers: bool
    allows_revoting: bool
    correct_option_ids: list[int] | None
    explanation: ParsedText | None
    open_period: int | None
    close_date: int | None
    closed: bool = False
    voters: dict[int, list[int]] = field(default_factory=dict)

    @property
    def is_closed(self) -> bool:
        return self.closed or (self.close_date is not None and time.time() >= self.close_date)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "question": self.question,
            "options": [
                {"persistent_id": pid, "text": text, "voter_count": count}
                for pid, text, count in zip(
                    self.persistent_ids, self.options, self.counts, strict=True
                )
            ],
            "total_voter_count": len(self.voters),
            "is_closed": self.is_closed,
            "is_anonymous": self.is_anonymous,
            "type": self.type,
            "allows_multiple_answers": self.allows_multiple_answers,
            "allows_revoting": self.allows_revoting,
            "members_only": False,
        }
        if self.question_entities:
            data["question_entities"] = self.question_entities
        if self.correct_option_ids is not None:
            data["correct_option_ids"] = self.correct_option_ids
            data["correct_option_id"] = self.correct_option_ids[0]
        if self.explanation is not None:
            data["explanation"] = self.explanation.text
            if self.explanation.entities:
                data["explanation_entities"] = self.explanation.entities
        if self.open_period is not None:
            data["open_period"] = self.open_period
        if self.close_date is not None:
            data["close_date"] = self.close_date
        return data


@dataclass(slots=True)
class QueryState:
    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    created: float
    answer: dict[str, Any] | None = None


@dataclass(slots=True)
class SentUpdateInfo:
    update_id: int
    message_id: int
    chat_id: int


Handler = Callable[[Params], Awaitable[Any]]


def _image_size(data: bytes) -> tuple[int, int]:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                break
            marker = data[i + 1]
            length = int.from_bytes(data[i + 2 : i + 4], "big")
            if marker in (0xC0, 0xC1, 0xC2):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return int(width), int(height)
            i += 2 + length
    return 512, 512


# Telegram's photo sizes: the longest side of each thumbnail, then the photo itself.
PHOTO_SIDES = (90, 320, 800, 1280)


def _photo_sizes(data: bytes) -> list[tuple[bytes, int, int]]:
    """``(jpeg, width, height)`` for each size Telegram keeps of a user's photo, smallest
    first: the thumbnails smaller than the picture, then the picture at most 1280 px."""
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as opened:
            picture = opened.convert("RGB")
    except (UnidentifiedImageError, OSError):
        raise ControlError(400, "the photo is not an image Telegram can read") from None
    longest = max(picture.size)
    sides = [side for side in PHOTO_SIDES if side < longest] + [min(longest, PHOTO_SIDES[-1])]
    sizes = []
    for side in dict.fromkeys(sides):
        scale = side / longest
        size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
        out = io.BytesIO()
        picture.resize(size).save(out, format="JPEG", quality=87)
        sizes.append((out.getvalue(), size[0], size[1]))
    return sizes


class Sandbox:
    """An in-memory Telegram for one bot. All methods run on the event loop thread."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.limiter = RateLimiter(self.config)
        self.users: dict[int, UserState] = {}
        self.chats: dict[int, ChatState] = {}
        self.files: dict[str, FileRecord] = {}
        self.files_by_path: dict[str, FileRecord] = {}
        self.polls: dict[str, PollState] = {}
        self.queries: dict[str, QueryState] = {}
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.updates: deque[UpdateRecord] = deque()
        self.allowed_updates: frozenset[str] = DEFAULT_UPDATE_TYPES
        self.allowed_updates_list: list[str] | None = None
        self.webhook: WebhookDelivery | None = None
        self.method_calls: Counter[str] = Counter()
        self.status_counts: Counter[int] = Counter()
        self.requests_total = 0
        self.messages_sent = 0
        self.updates_created = 0
        self.closing = False
        self._ids = itertools.count(1)
        self._next_update_id = self.config.first_update_id
        self.delivery = DeliveryStats()
        self._poll_seq = 0
        self._updates_event: asyncio.Event | None = None
        self._message_events: dict[int, asyncio.Event] = {}
        self._answer_events: dict[str, asyncio.Event] = {}
        self._poll_timers: dict[str, asyncio.TimerHandle] = {}
        self.bot_json: dict[str, Any] = {
            "id": self.config.bot_id,
            "is_bot": True,
            "first_name": self.config.bot_first_name,
            "username": self.config.bot_username,
        }
        handlers: dict[str, Handler] = {
            "getMe": self.get_me,
            "logOut": self.log_out,
            "close": self.log_out,
            "getUpdates": self.get_updates,
            "setWebhook": self.set_webhook,
            "deleteWebhook": self.delete_webhook,
            "getWebhookInfo": self.get_webhook_info,
            "sendMessage": self.send_message,
            "sendPhoto": self.send_photo,
            "sendDocument": self.send_document,
            "sendPoll": self.send_poll,
            "copyMessage": self.copy_message,
            "forwardMessage": self.forward_message,
            "editMessageText": self.edit_message_text,
            "editMessageCaption": self.edit_message_caption,
            "editMessageMedia": self.edit_message_media,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "deleteMessage": self.delete_message,
            "deleteMessages": self.delete_messages,
            "answerCallbackQuery": self.answer_callback_query,
            "stopPoll": self.stop_poll,
            "getFile": self.get_file,
            "setMyCommands": self.set_my_commands,
            "deleteMyCommands": self.delete_my_commands,
            "getMyCommands": self.get_my_commands,
            "sendChatAction": self.send_chat_action,
            "getChat": self.get_chat,
            "getChatMember": self.get_chat_member,
            "setMyDescription": self.accept,
            "setMyShortDescription": self.accept,
            "setMyName": self.accept,
            "setChatMenuButton": self.accept,
        }
        self.methods: dict[str, tuple[str, Handler]] = {
            name.lower(): (name, fn) for name, fn in handlers.items()
        }

    # ------------------------------------------------------------------ plumbing

    async def call(self, method: str, params: Params) -> Any:
        """Run one Bot API method; raise :class:`ApiError` like Telegram would."""
        self.requests_total += 1
        entry = self.methods.get(method.lower())
        if entry is None:
            self.status_counts[404] += 1
            raise ApiError(404, "Not Found")
        name, handler = entry
        self.method_calls[name] += 1
        try:
            return await handler(params)
        except ApiError as exc:
            self.status_counts[exc.code] += 1
            raise

    def record_status(self, code: int) -> None:
        """Count an error answered outside :meth:`call` (e.g. a bad token)."""
        self.requests_total += 1
        self.status_counts[code] += 1

    def stats(self) -> dict[str, Any]:
        errors = {str(code): n for code, n in sorted(self.status_counts.items())}
        return {
            "requests": self.requests_total,
            "calls": dict(self.method_calls),
            "errors": errors,
            "status_400": self.status_counts[400],
            "status_403": self.status_counts[403],
            "status_429": self.status_counts[429],
            "messages_sent": self.messages_sent,
            "updates_created": self.updates_created,
            "pending_updates": self.pending_update_count(),
            "webhook_posts": self.delivery.posts,
            "webhook_redeliveries": self.delivery.redelivered,
            "webhook_dropped": self.delivery.dropped,
        }

    def reset_stats(self) -> None:
        self.method_calls.clear()
        self.status_counts.clear()
        self.requests_total = 0
        self.messages_sent = 0
        self.updates_created = 0
        self.delivery = DeliveryStats()
        if self.webhook is not None:
            self.webhook.stats = self.delivery

    def set_limits(self, **changes: object) -> dict[str, object]:
        try:
            self.config.update(**changes)
        except ValueError as exc:
            raise ControlError(400, str(exc)) from None
        self.limiter.reset()
        return self.config.limits()

    async def aclose(self) -> None:
        """Wake every waiter and stop webhook delivery (server shutdown)."""
        self.closing = True
        self._poll_seq += 1
        self._wake_pollers()
        for event in self._message_events.values():
            event.set()
        self._message_events.clear()
        for event in self._answer_events.values():
            event.set()
        self._answer_events.clear()
        for timer in self._poll_timers.values():
            timer.cancel()
        self._poll_timers.clear()
        if self.webhook is not None:
            hook, self.webhook = self.webhook, None
            await hook.stop()

    def _wake_pollers(self) -> None:
        event = self._updates_event
        if event is not None:
            self._updates_event = None
            event.set()

    def _notify_messages(self, chat_id: int) -> None:
        event = self._message_events.pop(chat_id, None)
        if event is not None:
            event.set()

    def _emit(self, kind: str, payload: dict[str, Any], key: int | str) -> int:
        update_id = self._next_update_id
        self._next_update_id += 1
        self.updates_created += 1
        record = UpdateRecord(
            update_id, kind, {"update_id": update_id, kind: payload}, key, time.monotonic()
        )
        if self.webhook is not None:
            if kind in self.allowed_updates:
                self.webhook.push(record)
        else:
            self.updates.append(record)
            self._wake_pollers()
        return update_id

    def pending_update_count(self) -> int:
        if self.webhook is not None:
            return self.webhook.pending
        return len(self.updates)

    # ------------------------------------------------------------------ users and chats

    def touch_user(
        self,
        user_id: int,
        first_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        last_name: str | None = None,
    ) -> UserState:
        if user_id <= 0:
            raise ControlError(400, f"user ids are positive, got {user_id}")
        user = self.users.get(user_id)
        if user is None:
            user = UserState(
                user_id,
                first_name or f"User{user_id}",
                username,
                last_name,
                language_code,
            )
            user.refresh()
            self.users[user_id] = user
            return user
        changed = False
        for attr, value in (
            ("first_name", first_name),
            ("username", username),
            ("language_code", language_code),
            ("last_name", last_name),
        ):
            if value is not None and getattr(user, attr) != value:
                setattr(user, attr, value)
                changed = True
        if changed:
            user.refresh()
            chat = self.chats.get(user_id)
            if chat is not None:
                chat.refresh()
        return user

    def _private_chat(self, user: UserState) -> ChatState:
        chat = self.chats.get(user.id)
        if chat is None:
            chat = ChatState(user.id, "private", user=user)
            chat.refresh()
            self.chats[user.id] = chat
        return chat

    def create_group(self, chat_id: int, title: str | None = None) -> dict[str, Any]:
        if chat_id >= 0:
            raise ControlError(400, f"group chat ids are negative, got {chat_id}")
        chat = self.chats.get(chat_id)
        if chat is None:
            kind = "supergroup" if chat_id < _SUPERGROUP_BELOW else "group"
            chat = ChatState(chat_id, kind, title=title or f"Group {chat_id}")
            self.chats[chat_id] = chat
        elif title:
            chat.title = title
        chat.bot_kicked = False
        chat.refresh()
        return chat.json

    def create_channel(
        self,
        chat_id: int,
        title: str | None = None,
        username: str | None = None,
        *,
        admin: bool = True,
        member: bool = True,
    ) -> dict[str, Any]:
        """A channel the bot posts to: as an admin (``admin``), a plain member (sends are
        a 400), or not at all (``member`` false: sends are a 403). ``username`` makes it
        reachable as ``@username`` too."""
        if chat_id >= 0:
            raise ControlError(400, f"channel chat ids are negative, got {chat_id}")
        existing = self.chats.get(chat_id)
        if existing is not None and existing.type != "channel":
            raise ControlError(409, f"chat {chat_id} is a {existing.type}")
        chat = existing or ChatState(chat_id, "channel")
        chat.title = title or chat.title or f"Channel {chat_id}"
        chat.username = username.lstrip("@") if username else chat.username
        chat.bot_admin = admin
        chat.bot_kicked = not member
        chat.refresh()
        self.chats[chat_id] = chat
        return chat.json

    def register_user(
        self,
        user_id: int,
        first_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        *,
        started: bool = False,
    ) -> dict[str, Any]:
        """Make a user known (e.g. seen in a group) without a private chat unless ``started``."""
        user = self.touch_user(user_id, first_name, username, language_code)
        if started:
            self._private_chat(user)
        return user.json

    def web_app_init_data(
        self, user_id: int, *, auth_date: int | None = None, start_param: str | None = None
    ) -> str:
        """The ``initData`` Telegram hands the Mini App ``user_id`` opens from the bot's
        button, signed with the bot's token (``auth_date`` defaults to now)."""
        user = self.touch_user(user_id)
        when = int(time.time()) if auth_date is None else auth_date
        return signed_init_data(self.config.token, user.json, when, start_param=start_param)

    def _chat_member_update(self, chat: ChatState, user: UserState, old: str, new: str) -> int:
        def member(status: str) -> dict[str, Any]:
            data: dict[str, Any] = {"status": status, "user": self.bot_json}
            if status == "kicked":
                data["until_date"] = 0
            return data

        payload = {
            "chat": chat.json,
            "from": user.json,
            "date": int(time.time()),
            "old_chat_member": member(old),
            "new_chat_member": member(new),
        }
        return self._emit("my_chat_member", payload, chat.id)

    def block(self, user_id: int) -> int | None:
        user = self.touch_user(user_id)
        if user.blocked:
            return None
        user.blocked = True
        chat = self.chats.get(user_id)
        if chat is None:
            return None
        return self._chat_member_update(chat, user, "member", "kicked")

    def unblock(self, user_id: int) -> int | None:
        user = self.touch_user(user_id)
        if not user.blocked:
            return None
        user.blocked = False
        chat = self._private_chat(user)
        return self._chat_member_update(chat, user, "kicked", "member")

    def deactivate(self, user_id: int) -> None:
        self.touch_user(user_id).deactivated = True

    def remove_bot(self, chat_id: int, by_user_id: int) -> int:
        chat = self.chats.get(chat_id)
        if chat is None or chat.user is not None:
            raise ControlError(404, f"group {chat_id} not found")
        user = self.touch_user(by_user_id)
        chat.bot_kicked = True
        return self._chat_member_update(chat, user, "member", "kicked")

    def _user_chat(self, user: UserState, chat_id: int | None) -> ChatState:
        if user.deactivated:
            raise ControlError(409, f"user {user.id} is deactivated")
        if chat_id is None or chat_id == user.id:
            if user.blocked:
                # like pressing "Restart" in a chat with a blocked bot
                self.unblock(user.id)
            return self._private_chat(user)
        if chat_id > 0:
            raise ControlError(400, f"user {user.id} can't write to another user's chat {chat_id}")
        chat = self.chats.get(chat_id)
        if chat is None:
            self.create_group(chat_id)
            chat = self.chats[chat_id]
        if chat.bot_kicked:
            raise ControlError(409, f"the bot is not a member of group {chat_id}")
        chat.members.add(user.id)
        return chat

    def _user_post(
        self, user: UserState, chat: ChatState, content: dict[str, Any]
    ) -> SentUpdateInfo:
        message_id = chat.next_message_id
        chat.next_message_id += 1
        data = {
            "message_id": message_id,
            "from": user.json,
            "chat": chat.json,
            "date": int(time.time()),
            **content,
        }
        chat.messages[message_id] = StoredMessage(chat.id, message_id, data, from_bot=False)
        update_id = self._emit("message", data, chat.id)
        return SentUpdateInfo(update_id, message_id, chat.id)

    def user_text(
        self,
        user_id: int,
        text: str,
        *,
        first_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        chat_id: int | None = None,
    ) -> SentUpdateInfo:
        if not text:
            raise ControlError(400, "text must not be empty")
        user = self.touch_user(user_id, first_name, username, language_code)
        chat = self._user_chat(user, chat_id)
        content: dict[str, Any] = {"text": text}
        entities = command_entities(text)
        if entities:
            content["entities"] = entities
        return self._user_post(user, chat, content)

    def user_document(
        self,
        user_id: int,
        filename: str,
        content: bytes,
        *,
        caption: str | None = None,
        mime_type: str | None = None,
        chat_id: int | None = None,
    ) -> SentUpdateInfo:
        user = self.touch_user(user_id)
        chat = self._user_chat(user, chat_id)
        record = self._store_file(content, filename, mime_type, "document")
        body: dict[str, Any] = {"document": self._document_json(record)}
        if caption:
            body["caption"] = caption
        return self._user_post(user, chat, body)

    def user_photo(
        self,
        user_id: int,
        content: bytes,
        *,
        caption: str | None = None,
        caption_entities: list[dict[str, Any]] | None = None,
        chat_id: int | None = None,
    ) -> SentUpdateInfo:
        """A user sends a picture as a photo (not as a file), as the Telegram apps do:
        Telegram re-encodes it as JPEG and the message carries several sizes, smallest
        first, each with a file_id of its own that getFile and sendPhoto accept."""
        if len(content) > MAX_PHOTO:
            raise ControlError(400, "a photo is at most 10 MB; send it as a file")
        if caption is not None and len(caption) > MAX_CAPTION:
            raise ControlError(400, f"a caption is at most {MAX_CAPTION} characters")
        user = self.touch_user(user_id)
        chat = self._user_chat(user, chat_id)
        sizes = [
            self._store_photo_size(jpeg, width, height)
            for jpeg, width, height in _photo_sizes(content)
        ]
        body: dict[str, Any] = {"photo": [self._photo_size_json(r) for r in sizes]}
        if caption:
            body["caption"] = caption
            if caption_entities:
                body["caption_entities"] = caption_entities
        return self._user_post(user, chat, body)

    def _store_photo_size(self, jpeg: bytes, width: int, height: int) -> FileRecord:
        record = self._store_file(jpeg, None, "image/jpeg", "photo")
        record.width, record.height = width, height
        return record

    @staticmethod
    def _photo_size_json(record: FileRecord) -> dict[str, Any]:
        return {
            "file_id": record.file_id,
            "file_unique_id": record.file_unique_id,
            "file_size": len(record.data),
            "width": record.width,
            "height": record.height,
        }

    def _control_message(self, chat_id: int, message_id: int) -> StoredMessage:
        chat = self.chats.get(chat_id)
        if chat is None:
            raise ControlError(404, f"chat {chat_id} not found")
        msg = chat.messages.get(message_id)
        if msg is None or msg.deleted:
            raise ControlError(404, f"message {message_id} not found in chat {chat_id}")
        return msg

    def press(
        self,
        user_id: int,
        message_id: int,
        data: str,
        *,
        chat_id: int | None = None,
        forge: bool = False,
    ) -> str:
        """Press an inline button; returns the callback query id."""
        target = user_id if chat_id is None else chat_id
        msg = self._control_message(target, message_id)
        if not msg.from_bot:
            raise ControlError(400, f"message {message_id} was not sent by the bot")
        if not forge:
            if target > 0 and target != user_id:
                raise ControlError(400, f"user {user_id} can't see chat {target}")
            if data not in _callback_datas(msg.data.get("reply_markup")):
                raise ControlError(
                    400,
                    f"message {message_id} has no button with callback_data {data!r}; "
                    "pass forge=True to send it anyway",
                )
        user = self.touch_user(user_id)
        chat = self.chats[target]
        query_id = str(4_200_000_000_000_000_000 + next(self._ids))
        self.queries[query_id] = QueryState(
            query_id, user_id, target, message_id, data, time.monotonic()
        )
        payload = {
            "id": query_id,
            "from": user.json,
            "message": self.message_json(msg),
            "chat_instance": chat.instance,
            "data": data,
        }
        self._emit("callback_query", payload, chat.id)
        return query_id

    def press_button(
        self, user_id: int, message_id: int, text: str, *, chat_id: int | None = None
    ) -> str:
        target = user_id if chat_id is None else chat_id
        msg = self._control_message(target, message_id)
        markup = msg.data.get("reply_markup") or {}
        for row in markup.get("inline_keyboard", []):
            for button in row:
                if button.get("text") == text:
                    data = button.get("callback_data")
                    if not isinstance(data, str):
                        raise ControlError(400, f"button {text!r} has no callback_data")
                    return self.press(user_id, message_id, data, chat_id=chat_id)
        raise ControlError(400, f"message {message_id} has no button {text!r}")

    def answer_poll(self, user_id: int, poll_id: str, option_ids: list[int]) -> int | None:
        """Vote; returns the poll_answer update id (``None`` for anonymous polls)."""
        poll = self.polls.get(poll_id)
        if poll is None:
            raise ControlError(404, f"poll {poll_id} not found")
        if poll.is_closed:
            raise ControlError(400, f"poll {poll_id} is closed")
        if len(set(option_ids)) != len(option_ids) or any(
            not 0 <= i < len(poll.options) for i in option_ids
        ):
            raise ControlError(400, f"invalid option ids {option_ids}")
        if len(option_ids) > 1 and not poll.allows_multiple_answers:
            raise ControlError(400, "this poll allows only one answer")
        user = self.touch_user(user_id)
        previous = poll.voters.get(user_id)
        if previous is not None and not poll.allows_revoting:
            raise ControlError(400, f"user {user_id} already voted and the poll forbids revoting")
        if previous is None and not option_ids:
            raise ControlError(400, "nothing to retract")
        for i in previous or ():
            poll.counts[i] -= 1
        if option_ids:
            poll.voters[user_id] = sorted(option_ids)
            for i in option_ids:
                poll.counts[i] += 1
        else:
            poll.voters.pop(user_id, None)
        update_id: int | None = None
        if not poll.is_anonymous:
            payload = {
                "poll_id": poll.id,
                "user": user.json,
                "option_ids": sorted(option_ids),
                "option_persistent_ids": [poll.persistent_ids[i] for i in sorted(option_ids)],
            }
            update_id = self._emit("poll_answer", payload, user_id)
        self._emit("poll", poll.to_json(), poll.id)
        return update_id

    def message_json(self, msg: StoredMessage) -> dict[str, Any]:
        if msg.poll_id is None:
            return msg.data
        return {**msg.data, "poll": self.polls[msg.poll_id].to_json()}

    def message_view(self, msg: StoredMessage) -> dict[str, Any]:
        data = self.message_json(msg)
        view: dict[str, Any] = {
            "message_id": msg.message_id,
            "chat_id": msg.chat_id,
            "date": data["date"],
            "deleted": msg.deleted,
            "edit_count": msg.edit_count,
            "reply_markup": msg.reply_markup,
        }
        for key in ("text", "entities", "caption", "caption_entities", "photo", "document"):
            if key in data:
                view[key] = data[key]
        if "poll" in data:
            view["poll"] = data["poll"]
        if "reply_to_message" in data:
            view["reply_to_message_id"] = data["reply_to_message"]["message_id"]
        view["message"] = data
        return view

    def bot_messages(self, chat_id: int) -> list[dict[str, Any]]:
        chat = self.chats.get(chat_id)
        if chat is None:
            return []
        return [self.message_view(m) for m in chat.bot_messages]

    async def wait_for_messages(self, chat_id: int, count: int, timeout: float) -> bool:
        """Wait until the bot sent ``count`` messages to ``chat_id``; ``False`` on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            chat = self.chats.get(chat_id)
            if chat is not None and len(chat.bot_messages) >= count:
                return True
            remaining = deadline - loop.time()
            if remaining <= 0 or self.closing:
                return False
            event = self._message_events.get(chat_id)
            if event is None:
                event = self._message_events[chat_id] = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def wait_for_edit(
        self, chat_id: int, message_id: int, after: int, timeout: float
    ) -> StoredMessage | None:
        """Wait until the bot edited message ``message_id`` more than ``after`` times.

        Returns the message, or ``None`` on timeout; a deleted message counts as changed.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            msg = self.sent_message(chat_id, message_id)
            if msg.edit_count > after or msg.deleted:
                return msg
            remaining = deadline - loop.time()
            if remaining <= 0 or self.closing:
                return None
            event = self._message_events.get(chat_id)
            if event is None:
                event = self._message_events[chat_id] = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    def edit_view(self, msg: StoredMessage) -> dict[str, Any]:
        """The parts of a message an edit changes (smaller than :meth:`message_view`)."""
        return {
            "message_id": msg.message_id,
            "chat_id": msg.chat_id,
            "deleted": msg.deleted,
            "edit_count": msg.edit_count,
            "text": msg.data.get("text", msg.data.get("caption")),
            "reply_markup": msg.reply_markup,
        }

    def sent_message(self, chat_id: int, message_id: int) -> StoredMessage:
        chat = self.chats.get(chat_id)
        if chat is None:
            raise ControlError(404, f"chat {chat_id} not found")
        msg = chat.messages.get(message_id)
        if msg is None or not msg.from_bot:
            raise ControlError(404, f"bot message {message_id} not found in chat {chat_id}")
        return msg

    def callback_answer(self, query_id: str) -> dict[str, Any] | None:
        query = self.queries.get(query_id)
        if query is None:
            raise ControlError(404, f"callback query {query_id} not found")
        return query.answer

    async def wait_for_callback_answer(
        self, query_id: str, timeout: float
    ) -> dict[str, Any] | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            answer = self.callback_answer(query_id)
            if answer is not None:
                return answer
            remaining = deadline - loop.time()
            if remaining <= 0 or self.closing:
                return None
            event = self._answer_events.get(query_id)
            if event is None:
                event = self._answer_events[query_id] = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    def sent_file(self, chat_id: int, message_id: int) -> FileRecord:
        msg = self._control_message(chat_id, message_id)
        if msg.file_id is None:
            raise ControlError(404, f"message {message_id} has no file")
        return self.files[msg.file_id]

    def file_by_id(self, file_id: str) -> FileRecord:
        record = self.files.get(file_id)
        if record is None:
            raise ControlError(404, f"file {file_id} not found")
        return record

    # ------------------------------------------------------------------ files

    def _store_file(
        self, data: bytes, file_name: str | None, mime_type: str | None, kind: str
    ) -> FileRecord:
        n = next(self._ids)
        prefix = {"photo": "AgAC", "document": "BQAC"}.get(kind, "CQAC")
        file_id = f"{prefix}SBX{n}_{secrets.token_urlsafe(9)}"
        ext = ""
        if file_name and "." in file_name:
            ext = "." + file_name.rsplit(".", 1)[1][:10]
        elif kind == "photo":
            ext = ".jpg"
        if mime_type is None and file_name:
            mime_type = mimetypes.guess_type(file_name)[0]
        record = FileRecord(
            file_id=file_id,
            file_unique_id=f"AQAD{n}",
            data=data,
            file_name=file_name,
            mime_type=mime_type,
            kind=kind,
            file_path=f"{kind}s/file_{n}{ext}",
        )
        if kind == "photo":
            record.width, record.height = _image_size(data)
        self.files[file_id] = record
        self.files_by_path[record.file_path] = record
        return record

    def _input_file(self, p: Params, name: str, kind: str) -> FileRecord:
        value = p.get_file(name)
        if value is None:
            raise bad_request(f"there is no {name} in the request")
        if isinstance(value, Upload):
            limit = MAX_PHOTO if kind == "photo" else MAX_UPLOAD
            if len(value.data) > limit:
                raise ApiError(413, "Request Entity Too Large")
            if not value.data:
                raise bad_request("file must be non-empty")
            mime = value.content_type
            if mime in (None, "application/octet-stream"):
                mime = None
            return self._store_file(value.data, value.filename, mime, kind)
        if value.startswith(("http://", "https://")):
            raise bad_request("failed to get HTTP URL content")
        record = self.files.get(value)
        if record is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        return record

    @staticmethod
    def _document_json(record: FileRecord) -> dict[str, Any]:
        data: dict[str, Any] = {
            "file_id": record.file_id,
            "file_unique_id": record.file_unique_id,
            "file_size": len(record.data),
        }
        if record.file_name:
            data["file_name"] = record.file_name
        if record.mime_type:
            data["mime_type"] = record.mime_type
        return data

    @staticmethod
    def _photo_json(record: FileRecord) -> list[dict[str, Any]]:
        return [
            {
                "file_id": record.file_id,
                "file_unique_id": record.file_unique_id,
                "file_size": len(record.data),
                "width": record.width or 512,
                "height": record.height or 512,
            }
        ]

    # ------------------------------------------------------------------ Bot API helpers

    def _chat_id(self, p: Params, name: str = "chat_id") -> int:
        raw = p.get_str(name)
        if raw is None or raw == "":
            raise bad_request(f"{name} is empty")
        if raw.startswith("@"):  # a public chat by its username
            wanted = raw[1:].lower()
            for chat in self.chats.values():
                if chat.username and chat.user is None and chat.username.lower() == wanted:
                    return chat.id
            raise bad_request("chat not found")
        try:
            return int(raw)
        except ValueError:
            raise bad_request("chat not found") from None

    def _sendable_chat(self, chat_id: int) -> ChatState:
        chat = self.chats.get(chat_id)
        if chat is None:
            user = self.users.get(chat_id) if chat_id > 0 else None
            if user is not None:
                if user.deactivated:
                    raise forbidden("user is deactivated")
                raise forbidden("bot can't initiate conversation with a user")
            raise bad_request("chat not found")
        user = chat.user
        if user is not None:
            if user.deactivated:
                raise forbidden("user is deactivated")
            if user.blocked:
                raise forbidden("bot was blocked by the user")
        elif chat.type == "channel":
            if chat.bot_kicked:
                raise forbidden("bot is not a member of the channel chat")
            if not chat.bot_admin:
                raise bad_request("need administrator rights in the channel chat")
        elif chat.bot_kicked:
            kind = "supergroup" if chat.type == "supergroup" else "group"
            raise forbidden(f"bot was kicked from the {kind} chat")
        return chat

    def _target(self, p: Params) -> ChatState:
        return self._sendable_chat(self._chat_id(p))

    def _throttle(self, chat_id: int) -> None:
        retry = self.limiter.acquire(chat_id, time.monotonic())
        if retry is not None:
            raise ApiError(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry})

    @staticmethod
    def _parse(text: str, parse_mode: str | None, entities: Any) -> ParsedText:
        try:
            return parse_text(text, parse_mode, entities)
        except EntityParseError as exc:
            raise bad_request(f"can't parse entities: {exc}") from None

    def _text(self, p: Params) -> ParsedText:
        text = p.get_str("text")
        if text is None or not text.strip():
            raise bad_request("message text is empty")
        parsed = self._parse(text, p.get_str("parse_mode"), p.get_json("entities"))
        if not parsed.text.strip():
            raise bad_request("message text is empty")
        if len(parsed.text) > MAX_TEXT:
            raise bad_request("message is too long")
        return parsed

    def _caption(self, p: Params) -> ParsedText | None:
        caption = p.get_str("caption")
        if not caption:
            return None
        parsed = self._parse(caption, p.get_str("parse_mode"), p.get_json("caption_entities"))
        if len(parsed.text) > MAX_CAPTION:
            raise bad_request("message caption is too long")
        return parsed if parsed.text else None

    @staticmethod
    def _markup(p: Params) -> dict[str, Any] | None:
        markup = p.get_json("reply_markup", "reply keyboard markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise bad_request("can't parse inline keyboard button: field must be an Array")
            for row in rows:
                for button in row:
                    _check_button(button)
        return markup

    def _reply_to(self, p: Params, chat: ChatState) -> dict[str, Any] | None:
        params = p.get_json("reply_parameters")
        message_id: int | None
        allow_without = p.get_bool("allow_sending_without_reply")
        if isinstance(params, dict):
            raw_id = params.get("message_id")
            message_id = raw_id if isinstance(raw_id, int) else None
            allow_without = bool(params.get("allow_sending_without_reply", allow_without))
        else:
            message_id = p.get_int("reply_to_message_id")
        if message_id is None:
            return None
        target = chat.messages.get(message_id)
        if target is None or target.deleted:
            if allow_without:
                return None
            raise bad_request("message to be replied not found")
        data = self.message_json(target)
        if "reply_to_message" in data:
            data = {k: v for k, v in data.items() if k != "reply_to_message"}
        return data

    def _post(
        self,
        chat: ChatState,
        content: dict[str, Any],
        markup: dict[str, Any] | None,
        reply_to: dict[str, Any] | None,
    ) -> StoredMessage:
        if chat.type != "private" and _has_web_app(markup):  # web apps open in private only
            raise bad_request("BUTTON_TYPE_INVALID")
        message_id = chat.next_message_id
        chat.next_message_id += 1
        data: dict[str, Any] = {"message_id": message_id}
        if chat.type == "channel":  # channel posts are signed by the channel
            data["sender_chat"] = chat.json
        else:
            data["from"] = self.bot_json
        data.update(chat=chat.json, date=int(time.time()))
        if reply_to is not None:
            data["reply_to_message"] = reply_to
        data.update(content)
        if markup is not None and "inline_keyboard" in markup:
            data["reply_markup"] = markup
        msg = StoredMessage(chat.id, message_id, data, from_bot=True, reply_markup=markup)
        chat.messages[message_id] = msg
        chat.bot_messages.append(msg)
        self.messages_sent += 1
        self._notify_messages(chat.id)
        return msg

    def _bot_message(self, p: Params, chat: ChatState, not_found: str) -> StoredMessage:
        if "inline_message_id" in p:
            raise bad_request(not_found)
        message_id = p.get_int("message_id")
        if message_id is None:
            raise bad_request("message_id is empty")
        msg = chat.messages.get(message_id)
        if msg is None or msg.deleted:
            raise bad_request(not_found)
        return msg

    def _edited(self, msg: StoredMessage, markup: dict[str, Any] | None) -> dict[str, Any]:
        msg.reply_markup = markup
        if markup is not None and "inline_keyboard" in markup:
            msg.data["reply_markup"] = markup
        else:
            msg.data.pop("reply_markup", None)
        msg.data["edit_date"] = int(time.time())
        msg.edit_count += 1
        self._notify_messages(msg.chat_id)
        return self.message_json(msg)

    # ------------------------------------------------------------------ Bot API methods

    async def accept(self, p: Params) -> Any:
        return True

    async def get_me(self, p: Params) -> Any:
        return {
            **self.bot_json,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def log_out(self, p: Params) -> Any:
        return True

    def _confirm(self, offset: int) -> None:
        updates = self.updates
        if offset < 0:
            while len(updates) > -offset:
                updates.popleft()
            return
        while updates and updates[0].update_id < offset:
            updates.popleft()

    def _collect(self, limit: int) -> list[dict[str, Any]]:
        updates = self.updates
        cutoff = time.monotonic() - self.config.update_ttl_s
        while updates and updates[0].created < cutoff:
            updates.popleft()
        allowed = self.allowed_updates
        result: list[dict[str, Any]] = []
        for record in updates:
            if record.kind in allowed:
                result.append(record.body)
                if len(result) >= limit:
                    break
        return result

    def _set_allowed(self, value: Any) -> None:
        if value is None:
            return
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad_request("can't parse allowed_updates JSON object")
        self.allowed_updates_list = list(value)
        self.allowed_updates = (
            frozenset(value) & ALL_UPDATE_TYPES if value else DEFAULT_UPDATE_TYPES
        )

    async def get_updates(self, p: Params) -> Any:
        if self.webhook is not None:
            raise conflict(
                "can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first"
            )
        offset = p.get_int("offset")
        limit = min(100, max(1, p.get_int("limit", 100) or 100))
        timeout = min(MAX_POLL_TIMEOUT, max(0, p.get_int("timeout", 0) or 0))
        self._set_allowed(p.get_json("allowed_updates"))
        if offset is not None:
            self._confirm(offset)
        self._poll_seq += 1
        mine = self._poll_seq
        self._wake_pollers()  # an older long poll now ends with 409
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = self._collect(limit)
            if result or self.closing:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                return result
            event = self._updates_event
            if event is None:
                event = self._updates_event = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)
            if self.closing:
                return []
            if self.webhook is not None:
                raise conflict(
                    "can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first"
                )
            if self._poll_seq != mine:
                raise conflict(
                    "terminated by other getUpdates request; "
                    "make sure that only one bot instance is running"
                )

    async def set_webhook(self, p: Params) -> Any:
        url = p.get_str("url", "") or ""
        if not url:
            await self._drop_webhook(p.get_bool("drop_pending_updates"))
            return True
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise bad_request("bad webhook: invalid webhook URL specified")
        secret = p.get_str("secret_token")
        if secret is not None and not _SECRET_RE.match(secret):
            raise bad_request("secret token contains unallowed characters")
        max_connections = p.get_int("max_connections", 40) or 40
        if not 1 <= max_connections <= 100:
            raise bad_request("bad webhook: max_connections must be between 1 and 100")
        self._set_allowed(p.get_json("allowed_updates"))
        drop = p.get_bool("drop_pending_updates")
        pending: list[UpdateRecord] = []
        if self.webhook is not None:
            pending = await self.webhook.stop()
            self.webhook = None
        else:
            pending = list(self.updates)
            self.updates.clear()
            self._poll_seq += 1
            self._wake_pollers()
        hook = WebhookDelivery(
            url, secret, max_connections, self.call, config=self.config, stats=self.delivery
        )
        self.webhook = hook
        if not drop:
            for record in pending:
                if record.kind in self.allowed_updates:
                    hook.push(record)
        return True

    async def _drop_webhook(self, drop_pending: bool) -> None:
        if self.webhook is not None:
            hook, self.webhook = self.webhook, None
            rest = await hook.stop()
            if not drop_pending:
                self.updates.extendleft(reversed(rest))
        if drop_pending:
            self.updates.clear()

    async def delete_webhook(self, p: Params) -> Any:
        await self._drop_webhook(p.get_bool("drop_pending_updates"))
        return True

    async def get_webhook_info(self, p: Params) -> Any:
        hook = self.webhook
        info: dict[str, Any] = {
            "url": hook.url if hook else "",
            "has_custom_certificate": False,
            "pending_update_count": self.pending_update_count(),
        }
        if hook is not None:
            info["max_connections"] = hook.max_connections
            if hook.last_error_date is not None:
                info["last_error_date"] = hook.last_error_date
                info["last_error_message"] = hook.last_error_message
            if self.allowed_updates_list is not None:
                info["allowed_updates"] = self.allowed_updates_list
        return info

    async def send_message(self, p: Params) -> Any:
        chat = self._target(p)
        parsed = self._text(p)
        markup = self._markup(p)
        reply_to = self._reply_to(p, chat)
        self._throttle(chat.id)
        content: dict[str, Any] = {"text": parsed.text}
        if parsed.entities:
            content["entities"] = parsed.entities
        return self.message_json(self._post(chat, content, markup, reply_to))

    def _caption_content(self, p: Params) -> dict[str, Any]:
        caption = self._caption(p)
        content: dict[str, Any] = {}
        if caption is not None:
            content["caption"] = caption.text
            if caption.entities:
                content["caption_entities"] = caption.entities
        return content

    async def send_photo(self, p: Params) -> Any:
        chat = self._target(p)
        content = self._caption_content(p)
        markup = self._markup(p)
        reply_to = self._reply_to(p, chat)
        record = self._input_file(p, "photo", "photo")
        self._throttle(chat.id)
        content = {"photo": self._photo_json(record), **content}
        msg = self._post(chat, content, markup, reply_to)
        msg.file_id = record.file_id
        return self.message_json(msg)

    async def send_document(self, p: Params) -> Any:
        chat = self._target(p)
        content = self._caption_content(p)
        markup = self._markup(p)
        reply_to = self._reply_to(p, chat)
        record = self._input_file(p, "document", "document")
        self._throttle(chat.id)
        content = {"document": self._document_json(record), **content}
        msg = self._post(chat, content, markup, reply_to)
        msg.file_id = record.file_id
        return self.message_json(msg)

    def _poll_options(self, p: Params) -> list[tuple[str, list[dict[str, Any]]]]:
        raw = p.get_json("options")
        if not isinstance(raw, list):
            raise bad_request("poll options must be an array")
        if len(raw) < 2:
            raise bad_request("poll must have at least 2 option")
        if len(raw) > MAX_POLL_OPTIONS:
            raise bad_request(f"poll can't have more than {MAX_POLL_OPTIONS} options")
        options = []
        for item in raw:
            if isinstance(item, str):
                text, mode, entities = item, None, None
            elif isinstance(item, dict) and isinstance(item.get("text"), str):
                text = item["text"]
                mode = item.get("text_parse_mode") or p.get_str("parse_mode")
                entities = item.get("text_entities")
            else:
                raise bad_request("can't parse poll option")
            parsed = self._parse(text, mode, entities)
            if not parsed.text.strip():
                raise bad_request("poll options must be non-empty")
            if len(parsed.text) > MAX_POLL_OPTION:
                raise bad_request(f"poll options length must not exceed {MAX_POLL_OPTION}")
            options.append((parsed.text, parsed.entities))
        return options

    async def send_poll(self, p: Params) -> Any:
        chat = self._target(p)
        question_raw = p.get_str("question") or ""
        question = self._parse(
            question_raw, p.get_str("question_parse_mode"), p.get_json("question_entities")
        )
        if not question.text.strip():
            raise bad_request("poll question must be non-empty")
        if len(question.text) > MAX_POLL_QUESTION:
            raise bad_request(f"poll question length must not exceed {MAX_POLL_QUESTION}")
        options = self._poll_options(p)
        kind = p.get_str("type") or "regular"
        if kind not in ("regular", "quiz"):
            raise bad_request("wrong poll type specified")
        multiple = p.get_bool("allows_multiple_answers")
        correct: list[int] | None = None
        if kind == "quiz":
            ids = p.get_json("correct_option_ids")
            if ids is None and "correct_option_id" in p:
                ids = [p.req_int("correct_option_id")]
            if (
                not isinstance(ids, list)
                or not ids
                or not all(isinstance(i, int) and 0 <= i < len(options) for i in ids)
                or sorted(set(ids)) != ids
                or (len(ids) > 1 and not multiple)
            ):
                raise bad_request("wrong correct option ID specified")
            correct = ids
        explanation: ParsedText | None = None
        raw_explanation = p.get_str("explanation")
        if raw_explanation:
            if kind != "quiz":
                raise bad_request("explanation can be specified only for quizzes")
            explanation = self._parse(
                raw_explanation,
                p.get_str("explanation_parse_mode"),
                p.get_json("explanation_entities"),
            )
            if len(explanation.text) > MAX_POLL_EXPLANATION:
                raise bad_request("poll explanation is too long")
        open_period = p.get_int("open_period")
        close_date = p.get_int("close_date")
        now = int(time.time())
        if open_period is not None and close_date is not None:
            raise bad_request("open_period and close_date can't be used together")
        if open_period is not None:
            if not MIN_OPEN_PERIOD <= open_period <= MAX_OPEN_PERIOD:
                raise bad_request("wrong open period specified")
            close_date = now + open_period
        elif close_date is not None and not (
            MIN_OPEN_PERIOD <= close_date - now <= MAX_OPEN_PERIOD
        ):
            raise bad_request("wrong close date specified")
        markup = self._markup(p)
        reply_to = self._reply_to(p, chat)
        self._throttle(chat.id)
        poll_id = str(5_000_000_000_000_000_000 + next(self._ids))
        revoting_default = kind != "quiz"
        poll = PollState(
            id=poll_id,
            chat_id=chat.id,
            message_id=0,
            question=question.text,
            question_entities=question.entities,
            options=[text for text, _ in options],
            persistent_ids=[str(i) for i in range(len(options))],
            counts=[0] * len(options),
            is_anonymous=p.get_bool("is_anonymous", True),
            type=kind,
            allows_multiple_answers=multiple,
            allows_revoting=p.get_bool("allows_revoting", revoting_default),
            correct_option_ids=correct,
            explanation=explanation,
            open_period=open_period,
            close_date=close_date,
            closed=p.get_bool("is_closed"),
        )
        self.polls[poll_id] = poll
        msg = self._post(chat, {}, markup, reply_to)
        msg.poll_id = poll_id
        poll.message_id = msg.message_id
        if close_date is not None and not poll.closed:
            delay = max(0.0, close_date - time.time())
            self._poll_timers[poll_id] = asyncio.get_running_loop().call_later(
                delay, self._expire_poll, poll_id
            )
        return self.message_json(msg)

    def _expire_poll(self, poll_id: str) -> None:
        """``open_period``/``close_date`` reached: close and tell the bot like Telegram."""
        self._poll_timers.pop(poll_id, None)
        poll = self.polls.get(poll_id)
        if poll is None or poll.closed:
            return
        poll.closed = True
        self._notify_messages(poll.chat_id)
        self._emit("poll", poll.to_json(), poll.id)

    async def stop_poll(self, p: Params) -> Any:
        chat = self._target(p)
        msg = self._bot_message(p, chat, "message with poll to stop not found")
        if msg.poll_id is None or not msg.from_bot:
            raise bad_request("message with poll to stop not found")
        poll = self.polls[msg.poll_id]
        if poll.is_closed:
            raise bad_request("poll has already been closed")
        markup = self._markup(p)
        poll.closed = True
        timer = self._poll_timers.pop(poll.id, None)
        if timer is not None:
            timer.cancel()
        if markup is not None:
            self._edited(msg, markup)
        self._notify_messages(chat.id)
        self._emit("poll", poll.to_json(), poll.id)
        return poll.to_json()

    async def copy_message(self, p: Params) -> Any:
        chat = self._target(p)
        source = self._source_message(p, "message to copy not found")
        markup = self._markup(p)
        reply_to = self._reply_to(p, chat)
        content = {k: v for k, v in source.data.items() if k in _COPYABLE}
        if "caption" in p:
            content.pop("caption", None)
            content.pop("caption_entities", None)
            content.update(self._caption_content(p))
        if not content and source.poll_id is None:
            raise bad_request("message can't be copied")
        self._throttle(chat.id)
        msg = self._post(chat, content, markup, reply_to)
        msg.file_id = source.file_id
        if source.poll_id is not None:
            msg.poll_id = source.poll_id
        return {"message_id": msg.message_id}

    async def forward_message(self, p: Params) -> Any:
        chat = self._target(p)
        source = self._source_message(p, "message to forward not found")
        self._throttle(chat.id)
        content = {k: v for k, v in source.data.items() if k in _COPYABLE}
        origin_chat = self.chats[source.chat_id]
        content["forward_origin"] = (
            {"type": "user", "sender_user": source.data["from"], "date": source.data["date"]}
            if origin_chat.type == "private" or not source.from_bot
            else {"type": "chat", "sender_chat": origin_chat.json, "date": source.data["date"]}
        )
        msg = self._post(chat, content, None, None)
        msg.file_id = source.file_id
        msg.poll_id = source.poll_id
        return self.message_json(msg)

    def _source_message(self, p: Params, not_found: str) -> StoredMessage:
        from_chat = self.chats.get(self._chat_id(p, "from_chat_id"))
        if from_chat is None:
            raise bad_request("chat not found")
        message_id = p.get_int("message_id")
        source = from_chat.messages.get(message_id) if message_id is not None else None
        if source is None or source.deleted:
            raise bad_request(not_found)
        return source

    async def edit_message_text(self, p: Params) -> Any:
        chat = self._target(p)
        msg = self._bot_message(p, chat, "message to edit not found")
        if not msg.from_bot:
            raise bad_request("message can't be edited")
        if "text" not in msg.data:
            raise bad_request("there is no text in the message to edit")
        parsed = self._text(p)
        markup = self._markup(p)
        if (
            parsed.text == msg.data["text"]
            and parsed.entities == msg.data.get("entities", [])
            and markup == msg.reply_markup
        ):
            raise bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        msg.data["text"] = parsed.text
        if parsed.entities:
            msg.data["entities"] = parsed.entities
        else:
            msg.data.pop("entities", None)
        return self._edited(msg, markup)

    async def edit_message_caption(self, p: Params) -> Any:
        chat = self._target(p)
        msg = self._bot_message(p, chat, "message to edit not found")
        if not msg.from_bot:
            raise bad_request("message can't be edited")
        if "text" in msg.data or msg.poll_id is not None:
            raise bad_request("there is no caption in the message to edit")
        content = self._caption_content(p)
        markup = self._markup(p)
        if (
            content.get("caption") == msg.data.get("caption")
            and content.get("caption_entities") == msg.data.get("caption_entities")
            and markup == msg.reply_markup
        ):
            raise bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        msg.data.pop("caption", None)
        msg.data.pop("caption_entities", None)
        msg.data.update(content)
        return self._edited(msg, markup)

    async def edit_message_media(self, p: Params) -> Any:
        """A photo message's photo (and caption) replaced; the only media the bot edits."""
        chat = self._target(p)
        msg = self._bot_message(p, chat, "message to edit not found")
        if not msg.from_bot:
            raise bad_request("message can't be edited")
        if "photo" not in msg.data:
            raise bad_request("there is no media in the message to edit")
        media = p.get_json("media", "InputMedia")
        if not isinstance(media, dict) or media.get("type") != "photo":
            raise bad_request("can't parse InputMedia: media type is not supported here")
        inner = Params(
            {
                "photo": media.get("media"),
                "caption": media.get("caption"),
                "parse_mode": media.get("parse_mode") or p.get_str("parse_mode"),
                "caption_entities": media.get("caption_entities"),
            },
            p.files,
        )
        record = self._input_file(inner, "photo", "photo")
        content = {"photo": self._photo_json(record), **self._caption_content(inner)}
        for key in ("photo", "caption", "caption_entities"):
            msg.data.pop(key, None)
        msg.data.update(content)
        msg.file_id = record.file_id
        return self._edited(msg, self._markup(p))

    async def edit_message_reply_markup(self, p: Params) -> Any:
        chat = self._target(p)
        msg = self._bot_message(p, chat, "message to edit not found")
        if not msg.from_bot:
            raise bad_request("message can't be edited")
        markup = self._markup(p)
        if markup == msg.reply_markup or (markup is None and "reply_markup" not in msg.data):
            raise bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        return self._edited(msg, markup)

    def _delete(self, chat: ChatState, message_id: int) -> bool:
        msg = chat.messages.get(message_id)
        if msg is None or msg.deleted:
            return False
        msg.deleted = True
        if msg.from_bot:
            self._notify_messages(chat.id)
        return True

    async def delete_message(self, p: Params) -> Any:
        chat = self.chats.get(self._chat_id(p))
        if chat is None:
            raise bad_request("chat not found")
        if not self._delete(chat, p.req_int("message_id")):
            raise bad_request("message to delete not found")
        return True

    async def delete_messages(self, p: Params) -> Any:
        chat = self.chats.get(self._chat_id(p))
        if chat is None:
            raise bad_request("chat not found")
        ids = p.get_json("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise bad_request("message_ids must be a list of 1-100 identifiers")
        for message_id in ids:
            if isinstance(message_id, int):
                self._delete(chat, message_id)
        return True

    async def answer_callback_query(self, p: Params) -> Any:
        query_id = p.req_str("callback_query_id")
        query = self.queries.get(query_id)
        too_old = "query is too old and response timeout expired or query ID is invalid"
        if query is None or query.answer is not None:
            raise bad_request(too_old)
        if time.monotonic() - query.created > self.config.callback_query_ttl_s:
            raise bad_request(too_old)
        text = p.get_str("text")
        if text is not None and len(text) > MAX_ANSWER_TEXT:
            raise bad_request("MESSAGE_TOO_LONG")
        query.answer = {
            "text": text,
            "show_alert": p.get_bool("show_alert"),
            "url": p.get_str("url"),
            "cache_time": p.get_int("cache_time", 0),
        }
        event = self._answer_events.pop(query_id, None)
        if event is not None:
            event.set()
        return True

    async def get_file(self, p: Params) -> Any:
        file_id = p.req_str("file_id")
        record = self.files.get(file_id)
        if record is None:
            raise bad_request("invalid file_id")
        if len(record.data) > MAX_DOWNLOAD:
            raise bad_request("file is too big")
        return {
            "file_id": record.file_id,
            "file_unique_id": record.file_unique_id,
            "file_size": len(record.data),
            "file_path": record.file_path,
        }

    def _commands_key(self, p: Params) -> tuple[str, str]:
        scope = p.get_json("scope") or {"type": "default"}
        if not isinstance(scope, dict) or not isinstance(scope.get("type"), str):
            raise bad_request("can't parse BotCommandScope JSON object")
        return json.dumps(scope, sort_keys=True), p.get_str("language_code") or ""

    async def set_my_commands(self, p: Params) -> Any:
        raw = p.get_json("commands")
        if not isinstance(raw, list):
            raise bad_request("can't parse commands JSON object")
        if len(raw) > 100:
            raise bad_request("too many commands")
        commands = []
        for item in raw:
            if not isinstance(item, dict):
                raise bad_request("can't parse BotCommand JSON object")
            command = item.get("command")
            description = item.get("description")
            if not isinstance(command, str) or not _COMMAND_NAME_RE.match(command):
                raise bad_request("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            commands.append({"command": command, "description": description})
        self.commands[self._commands_key(p)] = commands
        return True

    async def delete_my_commands(self, p: Params) -> Any:
        self.commands.pop(self._commands_key(p), None)
        return True

    async def get_my_commands(self, p: Params) -> Any:
        return self.commands.get(self._commands_key(p), [])

    async def send_chat_action(self, p: Params) -> Any:
        self._target(p)
        if p.req_str("action") not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    def _known_chat(self, p: Params) -> ChatState:
        chat_id = self._chat_id(p)
        chat = self.chats.get(chat_id)
        if chat is None:
            user = self.users.get(chat_id) if chat_id > 0 else None
            if user is None:
                raise bad_request("chat not found")
            chat = self._private_chat(user)
        return chat

    async def get_chat(self, p: Params) -> Any:
        chat = self._known_chat(p)
        return {
            **chat.json,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    async def get_chat_member(self, p: Params) -> Any:
        chat = self._known_chat(p)
        user_id = p.req_int("user_id")
        if user_id == self.config.bot_id:
            status = "kicked" if chat.bot_kicked else "member"
            data: dict[str, Any] = {"status": status, "user": self.bot_json}
            if status == "kicked":
                data["until_date"] = 0
            return data
        user = self.users.get(user_id)
        if user is None:
            raise bad_request("user not found")
        if chat.user is not None:
            if chat.user.id != user_id:
                raise bad_request("user not found")
            return {"status": "member", "user": user.json}
        status = "member" if user_id in chat.members else "left"
        return {"status": status, "user": user.json}


def _check_button(button: Any) -> None:
    if not isinstance(button, dict):
        raise bad_request("can't parse inline keyboard button: Object expected")
    text = button.get("text")
    if not isinstance(text, str) or not text:
        raise bad_request("can't parse inline keyboard button: Text must be non-empty")
    actions = [key for key in INLINE_BUTTON_ACTIONS if key in button]
    if not actions:
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button:
        url = button["url"]
        if not isinstance(url, str) or not url:
            raise bad_request("BUTTON_URL_INVALID")
    if "web_app" in button:
        app = button["web_app"]
        url = app.get("url") if isinstance(app, dict) else None
        if not isinstance(url, str) or not url.startswith("https://"):
            raise bad_request(
                f"inline keyboard button Web App URL '{url}' is invalid: "
                "Only HTTPS links are allowed"
            )


def _has_web_app(markup: dict[str, Any] | None) -> bool:
    rows = markup.get("inline_keyboard", []) if markup else []
    return any("web_app" in button for row in rows for button in row)


def _callback_datas(markup: Any) -> set[str]:
    datas: set[str] = set()
    if isinstance(markup, dict):
        for row in markup.get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if isinstance(data, str):
                    datas.add(data)
    return datas
