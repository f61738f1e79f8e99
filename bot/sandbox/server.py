"""HTTP front of the sandbox: the Bot API, file downloads and the control API."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

from aiohttp import web

from bot.sandbox.client import SandboxClient
from bot.sandbox.config import SandboxConfig
from bot.sandbox.errors import ApiError, ControlError
from bot.sandbox.params import read_params
from bot.sandbox.world import Sandbox

__all__ = [
    "RunningSandbox",
    "Sandbox",
    "create_sandbox_app",
    "run_sandbox",
    "serve_forever",
]

SANDBOX_KEY = web.AppKey("sandbox", Sandbox)
MAX_REQUEST_BYTES = 60 * 1024 * 1024

_dumps = partial(json.dumps, ensure_ascii=False, separators=(",", ":"))


_JSON_HEADERS = {"Content-Type": "application/json"}


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=_dumps(body).encode(), status=status, headers=_JSON_HEADERS)


def _api_error(error: ApiError) -> web.Response:
    return _json(error.to_json(), error.code)


async def _bot_api(request: web.Request) -> web.StreamResponse:
    sandbox = request.app[SANDBOX_KEY]
    config = sandbox.config
    if config.latency_ms > 0:
        await asyncio.sleep(config.latency_ms / 1000.0)
    if request.match_info["token"] not in config.tokens:
        sandbox.record_status(401)
        return _api_error(ApiError(401, "Unauthorized"))
    try:
        params = await read_params(request)
        result = await sandbox.call(request.match_info["method"], params)
    except ApiError as exc:
        return _api_error(exc)
    return _json({"ok": True, "result": result})


async def _bot_api_root(request: web.Request) -> web.StreamResponse:
    request.app[SANDBOX_KEY].record_status(404)
    return _api_error(ApiError(404, "Not Found"))


async def _download(request: web.Request) -> web.StreamResponse:
    sandbox = request.app[SANDBOX_KEY]
    if sandbox.config.latency_ms > 0:
        await asyncio.sleep(sandbox.config.latency_ms / 1000.0)
    if request.match_info["token"] not in sandbox.config.tokens:
        return _api_error(ApiError(401, "Unauthorized"))
    record = sandbox.files_by_path.get(request.match_info["path"])
    if record is None:
        return _api_error(ApiError(404, "Not Found"))
    return web.Response(
        body=record.data, content_type=record.mime_type or "application/octet-stream"
    )


# ---------------------------------------------------------------------- control API

Control = Callable[[Sandbox, dict[str, Any]], Awaitable[Any]]


def _arg(body: dict[str, Any], name: str, kind: type, default: Any = ...) -> Any:
    value = body.get(name, default)
    if value is ...:
        raise ControlError(400, f"{name} is required")
    if value is None and default is None:
        return None
    if kind is int and isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            raise ControlError(400, f"{name} must be an integer") from None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ControlError(400, f"{name} must be {kind.__name__}")
    return value


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _sent(info: Any) -> dict[str, Any]:
    return {"update_id": info.update_id, "message_id": info.message_id, "chat_id": info.chat_id}


async def _c_send_text(s: Sandbox, b: dict[str, Any]) -> Any:
    info = s.user_text(
        _arg(b, "user_id", int),
        _arg(b, "text", str),
        first_name=_arg(b, "first_name", str, None),
        username=_arg(b, "username", str, None),
        language_code=_arg(b, "language_code", str, None),
        chat_id=_arg(b, "chat_id", int, None),
    )
    return _sent(info)


async def _c_send_photo(s: Sandbox, b: dict[str, Any]) -> Any:
    try:
        content = base64.b64decode(_arg(b, "content_b64", str), validate=True)
    except ValueError:
        raise ControlError(400, "content_b64 is not valid base64") from None
    entities = b.get("caption_entities")
    if entities is not None and not (
        isinstance(entities, list) and all(isinstance(e, dict) for e in entities)
    ):
        raise ControlError(400, "caption_entities must be a list of MessageEntity objects")
    info = s.user_photo(
        _arg(b, "user_id", int),
        content,
        caption=_arg(b, "caption", str, None),
        caption_entities=entities,
        chat_id=_arg(b, "chat_id", int, None),
    )
    return _sent(info)


async def _c_send_document(s: Sandbox, b: dict[str, Any]) -> Any:
    try:
        content = base64.b64decode(_arg(b, "content_b64", str), validate=True)
    except ValueError:
        raise ControlError(400, "content_b64 is not valid base64") from None
    info = s.user_document(
        _arg(b, "user_id", int),
        _arg(b, "filename", str),
        content,
        caption=_arg(b, "caption", str, None),
        mime_type=_arg(b, "mime_type", str, None),
        chat_id=_arg(b, "chat_id", int, None),
    )
    return _sent(info)


async def _c_press(s: Sandbox, b: dict[str, Any]) -> Any:
    query_id = s.press(
        _arg(b, "user_id", int),
        _arg(b, "message_id", int),
        _arg(b, "data", str),
        chat_id=_arg(b, "chat_id", int, None),
        forge=_flag(b, "forge"),
    )
    return {"query_id": query_id}


async def _c_press_button(s: Sandbox, b: dict[str, Any]) -> Any:
    query_id = s.press_button(
        _arg(b, "user_id", int),
        _arg(b, "message_id", int),
        _arg(b, "text", str),
        chat_id=_arg(b, "chat_id", int, None),
    )
    return {"query_id": query_id}


async def _c_answer_poll(s: Sandbox, b: dict[str, Any]) -> Any:
    options = _arg(b, "option_ids", list)
    if not all(isinstance(i, int) for i in options):
        raise ControlError(400, "option_ids must be a list of integers")
    update_id = s.answer_poll(_arg(b, "user_id", int), str(_arg(b, "poll_id", str)), options)
    return {"update_id": update_id}


async def _c_block(s: Sandbox, b: dict[str, Any]) -> Any:
    return {"update_id": s.block(_arg(b, "user_id", int))}


async def _c_unblock(s: Sandbox, b: dict[str, Any]) -> Any:
    return {"update_id": s.unblock(_arg(b, "user_id", int))}


async def _c_deactivate(s: Sandbox, b: dict[str, Any]) -> Any:
    s.deactivate(_arg(b, "user_id", int))
    return {}


async def _c_register_user(s: Sandbox, b: dict[str, Any]) -> Any:
    return s.register_user(
        _arg(b, "user_id", int),
        _arg(b, "first_name", str, None),
        _arg(b, "username", str, None),
        _arg(b, "language_code", str, None),
        started=_flag(b, "started"),
    )


async def _c_web_app_init_data(s: Sandbox, b: dict[str, Any]) -> Any:
    return {
        "init_data": s.web_app_init_data(
            _arg(b, "user_id", int),
            auth_date=_arg(b, "auth_date", int, None),
            start_param=_arg(b, "start_param", str, None),
        )
    }


async def _c_create_group(s: Sandbox, b: dict[str, Any]) -> Any:
    return s.create_group(_arg(b, "chat_id", int), _arg(b, "title", str, None))


async def _c_create_channel(s: Sandbox, b: dict[str, Any]) -> Any:
    return s.create_channel(
        _arg(b, "chat_id", int),
        _arg(b, "title", str, None),
        _arg(b, "username", str, None),
        admin=_flag(b, "admin") if "admin" in b else True,
        member=_flag(b, "member") if "member" in b else True,
    )


async def _c_remove_bot(s: Sandbox, b: dict[str, Any]) -> Any:
    return {"update_id": s.remove_bot(_arg(b, "chat_id", int), _arg(b, "user_id", int))}


async def _c_messages(s: Sandbox, b: dict[str, Any]) -> Any:
    return s.bot_messages(_arg(b, "chat_id", int))


async def _c_wait_for_messages(s: Sandbox, b: dict[str, Any]) -> Any:
    chat_id = _arg(b, "chat_id", int)
    count = _arg(b, "count", int)
    timeout = _arg(b, "timeout", float, 10.0)
    if not await s.wait_for_messages(chat_id, count, timeout):
        messages = s.bot_messages(chat_id)
        raise _Timeout(
            f"the bot sent {len(messages)} of {count} expected messages to chat {chat_id} "
            f"within {timeout:g} s",
            messages,
        )
    return s.bot_messages(chat_id)


async def _c_wait_for_edit(s: Sandbox, b: dict[str, Any]) -> Any:
    chat_id = _arg(b, "chat_id", int)
    message_id = _arg(b, "message_id", int)
    after = _arg(b, "after", int, 0)
    timeout = _arg(b, "timeout", float, 10.0)
    msg = await s.wait_for_edit(chat_id, message_id, after, timeout)
    if msg is None:
        raise _Timeout(
            f"message {message_id} in chat {chat_id} was not edited more than {after} "
            f"times within {timeout:g} s",
            s.bot_messages(chat_id),
        )
    return s.edit_view(msg)


async def _c_press_and_wait_for_edit(s: Sandbox, b: dict[str, Any]) -> Any:
    """Press a button, then wait until the bot edits that message: one answer's round trip."""
    user_id = _arg(b, "user_id", int)
    message_id = _arg(b, "message_id", int)
    chat_id = _arg(b, "chat_id", int, None)
    timeout = _arg(b, "timeout", float, 10.0)
    target = user_id if chat_id is None else chat_id
    before = s.sent_message(target, message_id).edit_count
    query_id = s.press(user_id, message_id, _arg(b, "data", str), chat_id=chat_id)
    msg = await s.wait_for_edit(target, message_id, before, timeout)
    if msg is None:
        raise _Timeout(
            f"message {message_id} in chat {target} was not edited within {timeout:g} s "
            f"of the press",
            s.bot_messages(target),
        )
    return {"query_id": query_id, "message": s.edit_view(msg)}


async def _c_callback_answer(s: Sandbox, b: dict[str, Any]) -> Any:
    return {"answer": s.callback_answer(str(_arg(b, "query_id", str)))}


async def _c_wait_for_callback_answer(s: Sandbox, b: dict[str, Any]) -> Any:
    query_id = str(_arg(b, "query_id", str))
    timeout = _arg(b, "timeout", float, 10.0)
    answer = await s.wait_for_callback_answer(query_id, timeout)
    if answer is None:
        raise _Timeout(f"callback query {query_id} was not answered within {timeout:g} s", None)
    return {"answer": answer}


async def _c_stats(s: Sandbox, b: dict[str, Any]) -> Any:
    return s.stats()


async def _c_reset_stats(s: Sandbox, b: dict[str, Any]) -> Any:
    s.reset_stats()
    return {}


async def _c_limits(s: Sandbox, b: dict[str, Any]) -> Any:
    return s.set_limits(**b)


async def _c_state(s: Sandbox, b: dict[str, Any]) -> Any:
    hook = s.webhook
    return {
        "webhook_url": hook.url if hook else None,
        "pending_updates": s.pending_update_count(),
        "users": len(s.users),
        "chats": len(s.chats),
        "limits": s.config.limits(),
    }


class _Timeout(Exception):
    def __init__(self, message: str, messages: Any) -> None:
        super().__init__(message)
        self.message = message
        self.messages = messages


CONTROL: dict[str, Control] = {
    "send_text": _c_send_text,
    "send_document": _c_send_document,
    "send_photo": _c_send_photo,
    "press": _c_press,
    "press_button": _c_press_button,
    "answer_poll": _c_answer_poll,
    "block": _c_block,
    "unblock": _c_unblock,
    "deactivate": _c_deactivate,
    "register_user": _c_register_user,
    "web_app_init_data": _c_web_app_init_data,
    "create_group": _c_create_group,
    "create_channel": _c_create_channel,
    "remove_bot": _c_remove_bot,
    "messages": _c_messages,
    "wait_for_messages": _c_wait_for_messages,
    "wait_for_edit": _c_wait_for_edit,
    "press_and_wait_for_edit": _c_press_and_wait_for_edit,
    "callback_answer": _c_callback_answer,
    "wait_for_callback_answer": _c_wait_for_callback_answer,
    "stats": _c_stats,
    "reset_stats": _c_reset_stats,
    "limits": _c_limits,
    "state": _c_state,
}


async def _control(request: web.Request) -> web.StreamResponse:
    sandbox = request.app[SANDBOX_KEY]
    handler = CONTROL.get(request.match_info["action"])
    if handler is None:
        return _json({"ok": False, "error": "unknown control action"}, 404)
    body: dict[str, Any] = dict(request.query)
    if request.body_exists:
        try:
            data = await request.json()
        except ValueError:
            return _json({"ok": False, "error": "body must be a JSON object"}, 400)
        if not isinstance(data, dict):
            return _json({"ok": False, "error": "body must be a JSON object"}, 400)
        body.update(data)
    try:
        result = await handler(sandbox, body)
    except ControlError as exc:
        return _json({"ok": False, "error": exc.message}, exc.status)
    except _Timeout as exc:
        return _json({"ok": False, "error": exc.message, "messages": exc.messages}, 408)
    return _json({"ok": True, "result": result})


async def _file_bytes(request: web.Request) -> web.StreamResponse:
    """``GET /sandbox/file?file_id=...`` or ``?chat_id=...&message_id=...``: raw bytes."""
    sandbox = request.app[SANDBOX_KEY]
    query = request.query
    try:
        if "file_id" in query:
            record = sandbox.file_by_id(query["file_id"])
        else:
            record = sandbox.sent_file(int(query["chat_id"]), int(query["message_id"]))
    except ControlError as exc:
        return _json({"ok": False, "error": exc.message}, exc.status)
    except (KeyError, ValueError):
        return _json({"ok": False, "error": "pass file_id or chat_id and message_id"}, 400)
    headers = {"X-File-Id": record.file_id}
    if record.file_name:
        headers["X-File-Name"] = record.file_name
    return web.Response(
        body=record.data,
        content_type=record.mime_type or "application/octet-stream",
        headers=headers,
    )


def create_sandbox_app(sandbox: Sandbox) -> web.Application:
    """The aiohttp application serving the Bot API and the control API for ``sandbox``."""
    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    app[SANDBOX_KEY] = sandbox

    async def on_shutdown(app: web.Application) -> None:
        await sandbox.aclose()

    app.on_shutdown.append(on_shutdown)
    app.router.add_route("*", "/bot{token}/{method}", _bot_api)
    app.router.add_route("*", "/bot{token}/", _bot_api_root)
    app.router.add_get("/file/bot{token}/{path:.+}", _download)
    app.router.add_get("/sandbox/file", _file_bytes)
    app.router.add_route("*", "/sandbox/{action}", _control)
    return app


@dataclass
class RunningSandbox:
    url: str
    sandbox: Sandbox
    config: SandboxConfig
    client: SandboxClient


@asynccontextmanager
async def run_sandbox(
    config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[RunningSandbox]:
    """Serve a fresh sandbox on ``host:port`` (0 picks a free port) for the ``with`` block."""
    config = config or SandboxConfig()
    sandbox = Sandbox(config)
    app = create_sandbox_app(sandbox)
    runner = web.AppRunner(
        app, access_log=None, handle_signals=False, shutdown_timeout=2.0, handler_cancellation=True
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        url_host = f"[{bound_host}]" if ":" in bound_host else bound_host
        url = f"http://{url_host}:{bound_port}"
        client = SandboxClient(url)
        try:
            yield RunningSandbox(url, sandbox, config, client)
        finally:
            await client.close()
    finally:
        await runner.cleanup()


async def serve_forever(
    config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 8081
) -> None:
    """Run the sandbox until cancelled, printing where the bot should point."""
    async with run_sandbox(config, host, port) as running:
        print(f"Telegram sandbox listening on {running.url}", flush=True)
        print(f"bot token: {running.config.token}", flush=True)
        print(f"control API: {running.url}/sandbox/", flush=True)
        await asyncio.Event().wait()
