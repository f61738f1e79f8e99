"""A photo article end to end: a coordinator sends a picture with a caption as a photo
(as the Telegram apps do), /post stores the largest size's file_id, and every recipient
gets that very picture with the caption's formatting kept, through the sandbox over HTTP.
"""

from __future__ import annotations

import io

from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import running_bot
from bot.sandbox.server import RunningSandbox
from storage.models_publicity import ArticleRow
from tests.factories import World
from tests.publicity_factories import add_people
from tests.test_publicity_chat import (
    ADMIN,
    add_staff,
    message_where,
    press,
    sandbox,
    settings_for,
    world,
)

__all__ = ["sandbox", "world"]  # fixtures shared with the /post chat tests


def poster(width: int = 1600, height: int = 1200) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (180, 20, 20)).save(out, format="PNG")
    return out.getvalue()


async def test_a_photo_article_reaches_everyone_with_its_picture(
    sandbox: RunningSandbox,
    database_url: str,
    world: World,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    client = sandbox.client
    students = list(range(4200, 4204))
    await add_staff(session_factory, world, sandbox)
    await add_people(session_factory, students, world.classes["七年级2班"].id)
    for telegram_id in students:
        sandbox.sandbox.register_user(telegram_id, started=True)
    caption = "宪法日海报\n12月4日是国家宪法日，欢迎参加宪法晨读。"
    async with running_bot(settings_for(sandbox, database_url), migrate=False):
        await client.send_text(ADMIN, "/post")
        await message_where(client, ADMIN, lambda m: "请发送要推送的文章" in m.get("text", ""))
        bold_title = [{"type": "bold", "offset": 0, "length": 5}]
        sent = await client.send_photo(
            ADMIN, poster(), caption=caption, caption_entities=bold_title
        )
        themes = await message_where(client, ADMIN, lambda m: "主题" in m.get("text", ""))
        await press(client, ADMIN, themes, "宪法")
        preview = await message_where(
            client, ADMIN, lambda m: "photo" in m and m.get("caption", "").startswith("宪法日海报")
        )
        kinds = await message_where(client, ADMIN, lambda m: "推送给谁" in m.get("text", ""))
        await press(client, ADMIN, kinds, "全体订阅者")
        roles = await message_where(client, ADMIN, lambda m: "哪些身份" in m.get("text", ""))
        await press(client, ADMIN, roles, "下一步 »")
        when = await message_where(client, ADMIN, lambda m: "什么时候" in m.get("text", ""))
        await press(client, ADMIN, when, "立即推送")
        summary = await message_where(client, ADMIN, lambda m: "请确认" in m.get("text", ""))
        await press(client, ADMIN, summary, "✅ 确认推送")
        await message_where(client, ADMIN, lambda m: "推送完成" in m.get("text", ""))

        # The article keeps the largest of the sizes Telegram made of the admin's photo.
        [admin_message] = [
            m
            for m in sandbox.sandbox.chats[ADMIN].messages.values()
            if m.message_id == sent.message_id
        ]
        largest = admin_message.data["photo"][-1]
        original = await client.download(largest["file_id"])
        for telegram_id in students:
            [received] = await client.messages(telegram_id)
            assert received["caption"].startswith("宪法日海报")
            assert "国家宪法日" in received["caption"]
            assert received["caption_entities"][0]["type"] == "bold"
            assert await client.sent_file(telegram_id, received["message_id"]) == original
        assert await client.sent_file(ADMIN, preview["message_id"]) == original
    with Image.open(io.BytesIO(original)) as picture:
        assert picture.size == (1280, 960)
    async with session_factory() as session:
        article = await session.scalar(select(ArticleRow).where(ArticleRow.title == "宪法日海报"))
    assert article is not None and article.photo_file_id == largest["file_id"]
