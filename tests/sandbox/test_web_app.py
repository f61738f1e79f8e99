"""Mini Apps in the sandbox: launch data signed as Telegram signs it (aiogram's own check
accepts it for the bot's token only), and web-app buttons refused where Telegram refuses
them (an address that is not https, a chat that is not private)."""

from __future__ import annotations

import time

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, WebAppInfo
from aiogram.utils.web_app import safe_parse_webapp_init_data

from bot.sandbox.server import RunningSandbox

USER = 4005
GROUP = -4_000_000_005


def web_app(url: str) -> InlineKeyboardMarkup:
    button = InlineKeyboardButton(text="在页面中作答", web_app=WebAppInfo(url=url))
    return InlineKeyboardMarkup(inline_keyboard=[[button]])


async def test_launch_data_is_signed_with_the_bots_token(sandbox: RunningSandbox) -> None:
    await sandbox.client.register_user(USER, first_name="小林", language_code="zh-hans")
    issued = int(time.time()) - 60
    init_data = await sandbox.client.web_app_init_data(USER, auth_date=issued)
    launch = safe_parse_webapp_init_data(sandbox.config.token, init_data)
    assert launch.user is not None
    assert (launch.user.id, launch.user.first_name, launch.user.language_code) == (
        USER,
        "小林",
        "zh-hans",
    )
    assert int(launch.auth_date.timestamp()) == issued and launch.query_id
    with pytest.raises(ValueError):
        safe_parse_webapp_init_data("123456:ANOTHER-token", init_data)


async def test_web_app_buttons_open_https_addresses_in_private_chats_only(
    bot: Bot, sandbox: RunningSandbox
) -> None:
    await sandbox.client.send_text(USER, "/start")
    sent = await bot.send_message(USER, "答题", reply_markup=web_app("https://pufa.example.cn/m/"))
    assert sent.reply_markup is not None
    with pytest.raises(TelegramBadRequest) as caught:
        await bot.send_message(USER, "答题", reply_markup=web_app("http://pufa.example.cn/m/"))
    assert "Only HTTPS links are allowed" in caught.value.message
    await sandbox.client.create_group(GROUP, "七年级1班")
    with pytest.raises(TelegramBadRequest) as caught:
        await bot.send_message(GROUP, "答题", reply_markup=web_app("https://pufa.example.cn/m/"))
    assert caught.value.message == "Bad Request: BUTTON_TYPE_INVALID"
