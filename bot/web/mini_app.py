"""The participant pages as a Telegram Mini App (``/m/app``).

The chat's "在页面中作答" button opens ``/m/app`` inside Telegram. Its small script
(``static/mini-app.js``) posts the launch data Telegram gives the page to
``/m/app/login``, which checks its signature against the bot token (aiogram's
``safe_parse_webapp_init_data``), and the use case signs the device in as the chat
participant of that Telegram account (:func:`bot.application.mini_app.mini_app_sign_in`):
the same device cookie as the pages, so every page after it is the pages' own.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiogram.utils.web_app import WebAppInitData, safe_parse_webapp_init_data
from aiohttp import web

from bot.application.mini_app import MiniAppRefusal, mini_app_sign_in
from bot.i18n import normalize_locale
from bot.web.participant_pages import DEVICE_COOKIE, PATH, ParticipantPages, id_number
from bot.web.sessions import chosen_language

MAX_INIT_DATA = 4096  # Telegram's launch data is well under 1 KB


@dataclass
class MiniApp:
    pages: ParticipantPages
    bot_token: str

    async def opening(self, request: web.Request) -> web.StreamResponse:
        _ = self.pages.gettext(request, None)
        campaign = id_number(request.query.get("campaign", ""))
        return self.pages.form_page(request, "app.html.j2", _, campaign=campaign)

    async def login(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        launch = _verified(self.bot_token, form.get("init_data"))
        language = chosen_language(request)
        if language is None and launch is not None and launch.user is not None:
            language = normalize_locale(launch.user.language_code)
        _ = self.pages.translator.bind(language)
        if not self.pages.form_token_ok(request, form):
            return self.pages.message(request, _, "m.bad_form", 403, link_home=False)
        if launch is None or launch.user is None:
            return self.pages.message(request, _, "m.app.forged", 403, link_home=False)
        async with self.pages.uow() as uow:
            signed = await mini_app_sign_in(
                uow,
                launch.user.id,
                launch.auth_date,
                kept_token=request.cookies.get(DEVICE_COOKIE),
                key=self.pages.key,
                now=self.pages.clock(),
            )
        if isinstance(signed, MiniAppRefusal):
            status = 403 if signed is MiniAppRefusal.STALE else 200
            return self.pages.message(request, _, f"m.app.{signed.value}", status, link_home=False)
        campaign = id_number(str(form.get("campaign", "")))
        response = self.pages.redirect(
            f"{PATH}/#campaign-{campaign}" if campaign is not None else f"{PATH}/"
        )
        self.pages.bind_device(response, signed.token)
        return response


def _verified(bot_token: str, sent: object) -> WebAppInitData | None:
    """The launch data if Telegram signed it for this bot; None when absent, edited or
    not launch data at all."""
    if not isinstance(sent, str) or not sent or len(sent) > MAX_INIT_DATA:
        return None
    try:
        return safe_parse_webapp_init_data(bot_token, sent)
    except ValueError:  # a bad signature, or signed fields that do not parse
        return None


def add_mini_app_routes(app: web.Application, pages: ParticipantPages, bot_token: str) -> None:
    mini_app = MiniApp(pages, bot_token)
    app.router.add_get(f"{PATH}/app", mini_app.opening)
    app.router.add_post(f"{PATH}/app/login", mini_app.login)
