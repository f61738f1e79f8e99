"""A local Telegram Bot API emulator with a control API that plays the users.

Typical use in a test::

    async with run_sandbox(SandboxConfig(per_chat_burst=100)) as sb:
        session = AiohttpSession(api=TelegramAPIServer.from_base(sb.url))
        bot = Bot(sb.config.token, session=session)
        ...  # start the dispatcher (polling) with this bot
        await sb.client.send_text(42, "/start class_7")
        [welcome] = await sb.client.wait_for_messages(42, 1)
        await sb.client.press_button(42, welcome["message_id"], "开始答题")

Bot API: ``/bot{token}/{method}`` (multipart, form, JSON or query string), files at
``/file/bot{token}/{file_path}``. Control API: JSON ``POST /sandbox/{action}`` with the
actions of :data:`bot.sandbox.server.CONTROL` (see :class:`SandboxClient`), raw file bytes at
``GET /sandbox/file?file_id=...`` or ``?chat_id=...&message_id=...``.

Deliberate simplifications: Markdown parse modes are not validated (HTML is, like Telegram);
all accepted tokens address one bot; one photo size per photo; inline messages, media groups,
group-to-supergroup migration and paid broadcasts are not emulated.
"""

from bot.sandbox.client import SandboxClient, SandboxError, SentUpdate
from bot.sandbox.config import SandboxConfig
from bot.sandbox.server import RunningSandbox, create_sandbox_app, run_sandbox, serve_forever
from bot.sandbox.world import Sandbox

__all__ = [
    "RunningSandbox",
    "Sandbox",
    "SandboxClient",
    "SandboxConfig",
    "SandboxError",
    "SentUpdate",
    "create_sandbox_app",
    "run_sandbox",
    "serve_forever",
]
