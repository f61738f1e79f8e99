"""The participant pages as a Telegram Mini App, on both databases: launch data the
sandbox signs as Telegram does signs in as the chat participant (one person with the
chat), and the quiz opens; a forged hash, an edited user and stale launch data are
refused; a Telegram user who has not registered is told to; the /quiz list offers the
web-app button only where Telegram would open it (an https address, a private chat)."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from aiogram.methods import SendMessage
from aiogram.types import Chat as TelegramChat
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.application.web_participants import participant_key
from bot.sandbox.config import SandboxConfig
from bot.sandbox.web_app import init_data_hash
from bot.sandbox.world import Sandbox
from bot.views.quiz import CampaignCb
from bot.web.mini_app import add_mini_app_routes
from bot.web.participant_pages import (
    DEVICE_COOKIE,
    ParticipantPages,
    add_participant_routes,
)
from storage.models import ParticipantRow
from storage.models_web_identity import WebDeviceRow
from storage.repositories import Repositories
from tests.mocked_bot import text_update, user
from tests.publicity_chat import Chat, chat
from tests.quiz_world import open_campaign
from tests.test_web_participants import CLASS, CSRF, FORM_TOKEN, MovedClock

__all__ = ["chat"]  # the fixture

STUDENT = 3000  # registered in 七年级1班 by the chat fixture
STRANGER = 4321  # known to Telegram, never registered with the bot


def mini_app(chat: Chat, clock: Callable[[], Any] | None = None) -> web.Application:
    """The pages with the Mini App's login, as the running bot serves them."""
    settings = chat.context.settings
    pages = ParticipantPages(
        chat.session_factory,
        chat.context.translator,
        participant_key(settings.token),
        settings.zone,
        clock=clock or MovedClock(),
    )
    app = web.Application()
    add_participant_routes(app, pages)
    add_mini_app_routes(app, pages, settings.token)
    return app


@dataclass
class Telegram:
    """The sandbox's Telegram, holding the bot's token: it signs the launch data."""

    sandbox: Sandbox

    def launch(self, user_id: int, **fields: Any) -> str:
        return self.sandbox.web_app_init_data(user_id, **fields)


@pytest.fixture
async def app_client(chat: Chat) -> AsyncIterator[TestClient]:
    client = TestClient(TestServer(mini_app(chat)))
    await client.start_server()
    yield client
    await client.close()


@pytest.fixture
def telegram(chat: Chat) -> Telegram:
    return Telegram(Sandbox(SandboxConfig(token=chat.context.settings.token)))


async def open_app(client: TestClient, init_data: str, campaign: int | None = None) -> Any:
    """Open /m/app as Telegram does, then post what its script posts."""
    query = f"?campaign={campaign}" if campaign is not None else ""
    page = await client.get(f"/m/app{query}")
    text = await page.text()
    assert page.status == 200, text
    assert 'src="/m/static/mini-app.js"' in text
    token = FORM_TOKEN.search(text)
    assert token is not None
    form = {"form_token": token.group(1), "init_data": init_data, "campaign": campaign or ""}
    return await client.post("/m/app/login", data=form, allow_redirects=False)


async def count(chat: Chat, statement: Any) -> int:
    async with chat.session_factory() as session:
        return int(await session.scalar(statement) or 0)


async def chat_participant_id(chat: Chat, telegram_id: int) -> int:
    async with chat.session_factory() as session:
        found = await Repositories.over(session).participants.by_telegram_id(telegram_id)
        assert found is not None
        return found.id


async def test_signed_launch_data_signs_in_as_the_chat_participant_and_the_quiz_opens(
    chat: Chat, app_client: TestClient, telegram: Telegram
) -> None:
    campaign = await open_campaign(chat.session_factory, unit_ids=(chat.world.classes[CLASS].id,))
    signed = await open_app(app_client, telegram.launch(STUDENT), campaign.id)
    assert signed.status == 303, await signed.text()
    assert signed.headers["Location"] == f"/m/#campaign-{campaign.id}"
    assert any(DEVICE_COOKIE in value for value in signed.headers.getall("Set-Cookie"))

    home = await app_client.get("/m/")
    text = await home.text()
    assert f'id="campaign-{campaign.id}"' in text and campaign.name in text
    csrf = CSRF.search(text)
    assert csrf is not None
    started = await app_client.post(
        f"/m/campaigns/{campaign.id}/start",
        data={"csrf_token": csrf.group(1)},
        allow_redirects=False,
    )
    assert started.status == 303
    question = await app_client.get(started.headers["Location"])
    assert question.status == 200
    assert "第 1/5 题" in await question.text()

    # One person: the chat's participant answers, nobody new was created for the pages.
    me = await chat_participant_id(chat, STUDENT)
    async with chat.session_factory() as session:
        attempts = await Repositories.over(session).attempts.active_for(me)
    assert [a.campaign_id for a in attempts] == [campaign.id]
    assert await count(chat, select(func.count()).where(ParticipantRow.telegram_id.is_(None))) == 0
    # Opened again on the same device: the same device, not a new one each time.
    again = await open_app(app_client, telegram.launch(STUDENT), campaign.id)
    assert again.status == 303
    devices = select(func.count()).where(WebDeviceRow.participant_id == me)
    assert await count(chat, devices) == 1
    # Back in chat, Start resumes the attempt begun on the page: one attempt under way.
    await chat.press(STUDENT, CampaignCb(campaign=campaign.id).pack())
    assert "继续上次未完成的答题" in chat.bot.sent_texts(STUDENT)[-1]
    async with chat.session_factory() as session:
        still = await Repositories.over(session).attempts.active_for(me)
    assert [a.id for a in still] == [a.id for a in attempts]


def _edited(init_data: str, **changes: str) -> str:
    fields = dict(parse_qsl(init_data))
    fields.update(changes)
    return urlencode(fields)


async def refused(response: Any, status: int, words: str) -> None:
    text = await response.text()
    assert response.status == status, text
    assert words in text
    assert not any(DEVICE_COOKIE in value for value in response.headers.getall("Set-Cookie", []))


async def test_a_forged_hash_is_refused(app_client: TestClient, telegram: Telegram) -> None:
    launch = dict(parse_qsl(telegram.launch(STUDENT)))
    forged = init_data_hash("42:ANOTHER-token", {k: v for k, v in launch.items() if k != "hash"})
    response = await open_app(app_client, _edited(urlencode(launch), hash=forged))
    await refused(response, 403, "未能确认你的 Telegram 身份")
    await refused(await open_app(app_client, ""), 403, "未能确认你的 Telegram 身份")


async def test_launch_data_with_another_user_put_in_is_refused(
    app_client: TestClient, telegram: Telegram
) -> None:
    launch = dict(parse_qsl(telegram.launch(3001)))
    user = launch["user"].replace('"id":3001', f'"id":{STUDENT}')
    assert user != launch["user"]
    response = await open_app(app_client, _edited(urlencode(launch), user=user))
    await refused(response, 403, "未能确认你的 Telegram 身份")


async def test_stale_launch_data_is_refused(app_client: TestClient, telegram: Telegram) -> None:
    two_days_ago = int(time.time()) - 2 * 86400
    response = await open_app(app_client, telegram.launch(STUDENT, auth_date=two_days_ago))
    await refused(response, 403, "登录信息已过期")
    an_hour_ahead = int(time.time()) + 3600
    response = await open_app(app_client, telegram.launch(STUDENT, auth_date=an_hour_ahead))
    await refused(response, 403, "登录信息已过期")
    fresh = await open_app(
        app_client, telegram.launch(STUDENT, auth_date=two_days_ago + 86400 + 60)
    )
    assert fresh.status == 303


async def test_a_telegram_user_who_never_registered_is_told_to_register_first(
    chat: Chat, app_client: TestClient, telegram: Telegram
) -> None:
    response = await open_app(app_client, telegram.launch(STRANGER))
    await refused(response, 200, "你还没有在 Telegram 中完成注册")
    await chat.say(STRANGER, "/start")  # met in chat, but no class joined yet
    await chat_participant_id(chat, STRANGER)
    response = await open_app(app_client, telegram.launch(STRANGER))
    await refused(response, 200, "你还没有在 Telegram 中完成注册")
    assert await count(chat, select(func.count()).select_from(WebDeviceRow)) == 0


async def quiz_buttons(
    chat: Chat, public_url: str | None, *, group: bool = False
) -> list[tuple[str, str | None]]:
    """The buttons under /quiz's list, each with the web app it opens (if one); sent in
    the student's private chat, or in their class's group."""
    settings = chat.context.settings.model_copy(update={"public_url": public_url})
    chat.dp["settings"] = settings
    chat.bot.clear()
    update = text_update(user(STUDENT), "/quiz")
    if group:
        assert update.message is not None
        in_group = TelegramChat(id=-4_000_000_001, type="group", title=CLASS)
        message = update.message.model_copy(update={"chat": in_group})
        update = update.model_copy(update={"message": message})
    await chat.feed(update)
    sent = [m for m in chat.bot.recorder.requests if isinstance(m, SendMessage)]
    markup: Any = sent[-1].reply_markup
    return [
        (button.text, button.web_app.url if button.web_app else None)
        for row in markup.inline_keyboard
        for button in row
    ]


async def test_the_quiz_list_offers_the_page_as_a_web_app_only_over_https(chat: Chat) -> None:
    campaign = await open_campaign(chat.session_factory, unit_ids=(chat.world.classes[CLASS].id,))
    buttons = await quiz_buttons(chat, "https://pufa.example.cn")
    assert (
        f"在页面中作答：{campaign.name}",
        f"https://pufa.example.cn/m/app?campaign={campaign.id}",
    ) in buttons
    for public_url in ("http://pufa.example.cn", None):
        buttons = await quiz_buttons(chat, public_url)
        assert buttons and all(web_app is None for _text, web_app in buttons)
        assert not any(re.search("在页面中作答", text) for text, _web_app in buttons)
    # A group gets no web-app button (Telegram refuses one there): the rest of the list.
    buttons = await quiz_buttons(chat, "https://pufa.example.cn", group=True)
    assert buttons and all(web_app is None for _text, web_app in buttons)
