"""Client of the sandbox control API: plays the users and reads what the bot sent."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp


class SandboxError(Exception):
    """The sandbox refused a control request."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


@dataclass(frozen=True)
class SentUpdate:
    """What a simulated user's message became: its update and message ids."""

    update_id: int
    message_id: int
    chat_id: int


def _summary(messages: list[dict[str, Any]]) -> str:
    parts = []
    for msg in messages:
        body = msg.get("text") or msg.get("caption") or ""
        if not body:
            if "poll" in msg:
                body = f"<poll {msg['poll'].get('question', '')!r}>"
            elif "document" in msg:
                body = f"<document {msg['document'].get('file_name', '')}>"
            elif "photo" in msg:
                body = "<photo>"
        if len(body) > 80:
            body = body[:77] + "..."
        parts.append(f"#{msg.get('message_id')}: {body!r}")
    return "; ".join(parts) if parts else "nothing"


class SandboxClient:
    """``async with SandboxClient(url) as c: await c.send_text(42, "/start")``."""

    def __init__(self, base_url: str, *, session: aiohttp.ClientSession | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._own_session = session is None

    async def __aenter__(self) -> SandboxClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
        self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
            self._own_session = True
        return self._session

    async def _call(self, action: str, http_timeout: float = 30.0, **body: Any) -> Any:
        payload = {k: v for k, v in body.items() if v is not None}
        async with self._http().post(
            f"{self.base_url}/sandbox/{action}",
            json=payload,
            timeout=aiohttp.ClientTimeout(total=http_timeout),
        ) as resp:
            data = await resp.json(content_type=None)
        if resp.status == 408:
            messages = data.get("messages")
            detail = data.get("error", "timed out")
            if isinstance(messages, list):
                detail = f"{detail}; arrived: {_summary(messages)}"
            raise TimeoutError(detail)
        if resp.status >= 400 or not data.get("ok"):
            raise SandboxError(resp.status, str(data.get("error", data)))
        return data["result"]

    # -------------------------------------------------------------- users acting

    async def send_text(
        self,
        user_id: int,
        text: str,
        *,
        first_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "zh-hans",
        chat_id: int | None = None,
    ) -> SentUpdate:
        result = await self._call(
            "send_text",
            user_id=user_id,
            text=text,
            first_name=first_name,
            username=username,
            language_code=language_code,
            chat_id=chat_id,
        )
        return SentUpdate(result["update_id"], result["message_id"], result["chat_id"])

    async def say(self, user_id: int, text: str, *, timeout: float = 30.0) -> dict[str, Any]:
        """``user_id`` sends ``text`` in their private chat; the bot's next message there."""
        seen = len(await self.messages(user_id))
        await self.send_text(user_id, text)
        return (await self.wait_for_messages(user_id, seen + 1, timeout=timeout))[-1]

    async def send_document(
        self,
        user_id: int,
        filename: str,
        content: bytes,
        *,
        caption: str | None = None,
        mime_type: str | None = None,
        chat_id: int | None = None,
    ) -> SentUpdate:
        result = await self._call(
            "send_document",
            user_id=user_id,
            filename=filename,
            content_b64=base64.b64encode(content).decode("ascii"),
            caption=caption,
            mime_type=mime_type,
            chat_id=chat_id,
        )
        return SentUpdate(result["update_id"], result["message_id"], result["chat_id"])

    async def send_photo(
        self,
        user_id: int,
        content: bytes,
        *,
        caption: str | None = None,
        caption_entities: list[dict[str, Any]] | None = None,
        chat_id: int | None = None,
    ) -> SentUpdate:
        """The user sends a picture as a photo; Telegram stores it in several sizes."""
        result = await self._call(
            "send_photo",
            user_id=user_id,
            content_b64=base64.b64encode(content).decode("ascii"),
            caption=caption,
            caption_entities=caption_entities,
            chat_id=chat_id,
        )
        return SentUpdate(result["update_id"], result["message_id"], result["chat_id"])

    async def press(
        self,
        user_id: int,
        message_id: int,
        data: str,
        *,
        chat_id: int | None = None,
        forge: bool = False,
    ) -> str:
        """Press the button carrying ``data``; returns the callback query id."""
        result = await self._call(
            "press",
            user_id=user_id,
            message_id=message_id,
            data=data,
            chat_id=chat_id,
            forge=forge,
        )
        return str(result["query_id"])

    async def press_button(
        self, user_id: int, message_id: int, text: str, *, chat_id: int | None = None
    ) -> str:
        """Press the inline button labelled ``text``; returns the callback query id."""
        result = await self._call(
            "press_button", user_id=user_id, message_id=message_id, text=text, chat_id=chat_id
        )
        return str(result["query_id"])

    async def answer_poll(self, user_id: int, poll_id: str, option_ids: list[int]) -> int | None:
        """Vote; returns the poll_answer update id (``None`` for anonymous polls)."""
        result = await self._call(
            "answer_poll", user_id=user_id, poll_id=poll_id, option_ids=option_ids
        )
        update_id = result["update_id"]
        return int(update_id) if update_id is not None else None

    async def block(self, user_id: int) -> int | None:
        """The user blocks the bot; returns the my_chat_member update id."""
        result = await self._call("block", user_id=user_id)
        return result["update_id"]  # type: ignore[no-any-return]

    async def unblock(self, user_id: int) -> int | None:
        result = await self._call("unblock", user_id=user_id)
        return result["update_id"]  # type: ignore[no-any-return]

    async def deactivate(self, user_id: int) -> None:
        await self._call("deactivate", user_id=user_id)

    async def register_user(
        self,
        user_id: int,
        *,
        first_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        started: bool = False,
    ) -> dict[str, Any]:
        """Make a user known to Telegram without (unless ``started``) a chat with the bot."""
        result = await self._call(
            "register_user",
            user_id=user_id,
            first_name=first_name,
            username=username,
            language_code=language_code,
            started=started,
        )
        return result  # type: ignore[no-any-return]

    async def web_app_init_data(
        self, user_id: int, *, auth_date: int | None = None, start_param: str | None = None
    ) -> str:
        """The signed ``initData`` of ``user_id`` opening the bot's Mini App (as Telegram
        appends it to the page's address in ``#tgWebAppData=``); ``auth_date`` in Unix
        seconds, now by default."""
        result = await self._call(
            "web_app_init_data", user_id=user_id, auth_date=auth_date, start_param=start_param
        )
        return str(result["init_data"])

    async def create_group(self, chat_id: int, title: str) -> dict[str, Any]:
        """A group (or, below -10**12, supergroup) with the bot in it."""
        result = await self._call("create_group", chat_id=chat_id, title=title)
        return result  # type: ignore[no-any-return]

    async def create_channel(
        self,
        chat_id: int,
        title: str,
        username: str | None = None,
        *,
        admin: bool = True,
        member: bool = True,
    ) -> dict[str, Any]:
        """A channel; the bot posts there as an admin (else 400), if a member (else 403)."""
        body: dict[str, Any] = {"chat_id": chat_id, "title": title, "admin": admin}
        body["member"] = member
        if username is not None:
            body["username"] = username
        result = await self._call("create_channel", **body)
        return result  # type: ignore[no-any-return]

    async def remove_bot(self, chat_id: int, by_user_id: int) -> int:
        """A user removes the bot from a group (my_chat_member update, then 403 on sends)."""
        result = await self._call("remove_bot", chat_id=chat_id, user_id=by_user_id)
        return int(result["update_id"])

    # -------------------------------------------------------------- reading the bot

    async def messages(self, chat_id: int) -> list[dict[str, Any]]:
        """Everything the bot sent to ``chat_id``, in order, as it is now."""
        return await self._call("messages", chat_id=chat_id)  # type: ignore[no-any-return]

    async def wait_for_messages(
        self, chat_id: int, count: int, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """Wait until the bot has sent at least ``count`` messages to ``chat_id``."""
        result = await self._call(
            "wait_for_messages",
            http_timeout=timeout + 10.0,
            chat_id=chat_id,
            count=count,
            timeout=timeout,
        )
        return result  # type: ignore[no-any-return]

    async def wait_for_edit(
        self, chat_id: int, message_id: int, after: int, timeout: float = 10.0
    ) -> dict[str, Any]:
        """Wait until the bot edited ``message_id`` more than ``after`` times (its
        ``edit_count``); returns the message as it is then (a deleted one counts too)."""
        result = await self._call(
            "wait_for_edit",
            http_timeout=timeout + 10.0,
            chat_id=chat_id,
            message_id=message_id,
            after=after,
            timeout=timeout,
        )
        return result  # type: ignore[no-any-return]

    async def press_and_wait_for_edit(
        self,
        user_id: int,
        message_id: int,
        data: str,
        *,
        chat_id: int | None = None,
        timeout: float = 10.0,
    ) -> tuple[str, dict[str, Any]]:
        """Press the button carrying ``data`` and wait until the bot edits that message;
        returns the callback query id and the message as edited."""
        result = await self._call(
            "press_and_wait_for_edit",
            http_timeout=timeout + 10.0,
            user_id=user_id,
            message_id=message_id,
            data=data,
            chat_id=chat_id,
            timeout=timeout,
        )
        return str(result["query_id"]), result["message"]

    async def callback_answer(self, query_id: str) -> dict[str, Any] | None:
        """How the bot answered the callback query (``None`` if not yet)."""
        result = await self._call("callback_answer", query_id=query_id)
        return result["answer"]  # type: ignore[no-any-return]

    async def wait_for_callback_answer(
        self, query_id: str, timeout: float = 10.0
    ) -> dict[str, Any]:
        result = await self._call(
            "wait_for_callback_answer",
            http_timeout=timeout + 10.0,
            query_id=query_id,
            timeout=timeout,
        )
        return result["answer"]  # type: ignore[no-any-return]

    async def stats(self) -> dict[str, Any]:
        return await self._call("stats")  # type: ignore[no-any-return]

    async def reset_stats(self) -> None:
        await self._call("reset_stats")

    async def set_limits(self, **fields: Any) -> dict[str, Any]:
        """Change limits/latency at runtime, e.g. ``set_limits(per_chat_per_s=5)``."""
        return await self._call("limits", **fields)  # type: ignore[no-any-return]

    async def state(self) -> dict[str, Any]:
        return await self._call("state")  # type: ignore[no-any-return]

    async def _bytes(self, **query: Any) -> bytes:
        async with self._http().get(
            f"{self.base_url}/sandbox/file", params={k: str(v) for k, v in query.items()}
        ) as resp:
            if resp.status != 200:
                data = await resp.json(content_type=None)
                raise SandboxError(resp.status, str(data.get("error", data)))
            return await resp.read()

    async def download(self, file_id: str) -> bytes:
        """The bytes of any file known to the sandbox (sent by the bot or by a user)."""
        return await self._bytes(file_id=file_id)

    async def sent_file(self, chat_id: int, message_id: int) -> bytes:
        """The bytes of the photo/document in a message the bot sent."""
        return await self._bytes(chat_id=chat_id, message_id=message_id)
