"""The way out of every step-by-step dialogue (/cancel and the 取消 button), and what a
dialogue's step says to something it does not take."""

from __future__ import annotations

from aiogram.methods import SendPhoto
from sqlalchemy import func, select

from bot.views.audience import BackCb, EveryoneCb
from bot.views.calendar import CalendarCb
from bot.views.themes import ThemeCb
from handlers.dialogue import LeaveCb, StepBackCb
from storage.models_publicity import ArticleRow
from tests.mocked_bot import user
from tests.publicity_chat import (
    ADMIN,
    COORDINATOR,
    FILE_BYTES,
    Chat,
    chat,
    document_update,
)

__all__ = ["chat"]  # the fixture


async def articles(chat: Chat) -> int:
    async with chat.session_factory() as session:
        return int(await session.scalar(select(func.count()).select_from(ArticleRow)) or 0)


async def test_cancel_leaves_post_at_its_first_step(chat: Chat) -> None:
    asked = await chat.say(COORDINATOR, "/post")
    assert "请发送要推送的文章" in asked
    assert LeaveCb().pack() in chat.bot.last_markup_data()
    assert "已取消" in await chat.say(COORDINATOR, "/cancel")
    # The next message is no longer taken as the article.
    reply = await chat.say(COORDINATOR, "宪法宣传周\n学习宪法。")
    assert "预览" not in reply and "推送给谁" not in reply
    assert await articles(chat) == 0

    await chat.say(COORDINATOR, "/post")
    answer = await chat.press(COORDINATOR, LeaveCb().pack())
    assert answer.show_alert is not True
    assert "已取消" in chat.bot.sent_texts(COORDINATOR)[-1]
    await chat.say(COORDINATOR, "宪法宣传周\n学习宪法。")
    assert await articles(chat) == 0
    answer = await chat.press(COORDINATOR, LeaveCb().pack())  # nothing to leave any more
    assert answer.text is not None and "过期" in answer.text


async def test_cancel_leaves_post_after_the_article_is_in(chat: Chat) -> None:
    await chat.say(ADMIN, "/post")
    assert "主题" in await chat.say(ADMIN, "宪法宣传周\n学习宪法。")
    await chat.press(ADMIN, ThemeCb(theme="constitution").pack())
    assert "推送给谁" in chat.bot.sent_texts(ADMIN)[-1]
    assert "已取消" in await chat.say(ADMIN, "/cancel")
    answer = await chat.press(ADMIN, EveryoneCb().pack())
    assert answer.text is not None and "过期" in answer.text


async def test_cancel_works_in_every_dialogue_and_says_so_outside_one(chat: Chat) -> None:
    assert "没有需要取消" in await chat.say(ADMIN, "/cancel")
    await chat.say(ADMIN, "/newlecture")
    assert "没有安排公开课" in await chat.say(ADMIN, "/cancel")
    # Each step that asks for text has the 取消 button too, and but the first a 返回.
    await chat.say(ADMIN, "/newlecture")
    assert chat.bot.last_markup_data() == [LeaveCb().pack()]
    assert "主讲" in await chat.say(ADMIN, "宪法与生活")
    assert chat.bot.last_markup_data() == [StepBackCb().pack(), LeaveCb().pack()]
    await chat.press(ADMIN, StepBackCb().pack())
    assert "课程标题" in chat.bot.sent_texts(ADMIN)[-1]
    assert "主讲" in await chat.say(ADMIN, "宪法与生活")
    await chat.press(ADMIN, LeaveCb().pack())
    assert "没有安排公开课" in chat.bot.sent_texts(ADMIN)[-1]
    assert "主讲" not in await chat.say(ADMIN, "李老师")
    # /newcampaign's own test leaves it with /cancel too (tests/test_campaign_dialogue.py).
    assert "没有需要取消" in await chat.say(ADMIN, "/cancel")


async def test_a_file_in_a_dialogue_step_is_answered_by_the_dialogue(chat: Chat) -> None:
    await chat.say(ADMIN, "/newlecture")
    await chat.feed(document_update(user(ADMIN), "宪法.pdf", "application/pdf"))
    reply = chat.bot.sent_texts(ADMIN)[-1]
    assert "不需要发送文件" in reply and "/cancel" in reply
    # Still at the title: a title is taken.
    assert "主讲" in await chat.say(ADMIN, "宪法与生活")


async def test_a_picture_sent_as_a_file_during_post_is_the_articles_photo(chat: Chat) -> None:
    await chat.say(ADMIN, "/post")
    caption = "宪法宣传周\n学习宪法，争做守法小公民。"
    await chat.feed(document_update(user(ADMIN), "海报.jpg", "image/jpeg", caption))
    assert "主题" in chat.bot.sent_texts(ADMIN)[-1]
    await chat.press(ADMIN, ThemeCb(theme="constitution").pack())
    # Not taken as a question bank: the preview is the article with the picture as photo.
    previews = [m for m in chat.bot.recorder.requests if isinstance(m, SendPhoto)]
    assert len(previews) == 1 and previews[0].caption is not None
    assert "宪法宣传周" in previews[0].caption
    assert "推送给谁" in chat.bot.sent_texts(ADMIN)[-1]
    async with chat.session_factory() as session:
        [row] = await session.scalars(select(ArticleRow))
    # Recipients get the photo by the file id its upload with the preview was given.
    assert row.photo_bytes == FILE_BYTES
    assert row.photo_file_id is not None and row.photo_file_id.startswith("photo-")
    assert "题库" not in "".join(chat.bot.sent_texts(ADMIN))

    # A file at a step that takes buttons or a time: the dialogue answers it.
    await chat.feed(document_update(user(ADMIN), "名单.xlsx", "application/vnd.ms-excel"))
    reply = chat.bot.sent_texts(ADMIN)[-1]
    assert "不需要发送文件" in reply and "/cancel" in reply


async def test_post_refuses_other_files_clearly_and_waits_for_the_article(chat: Chat) -> None:
    await chat.say(ADMIN, "/post")
    await chat.feed(document_update(user(ADMIN), "宪法.pdf", "application/pdf", "宪法\n正文"))
    reply = chat.bot.sent_texts(ADMIN)[-1]
    assert "JPG 或 PNG" in reply and "/cancel" in reply
    assert await articles(chat) == 0
    await chat.feed(document_update(user(ADMIN), "海报.PNG", "application/octet-stream", "宪法"))
    assert "主题" in chat.bot.sent_texts(ADMIN)[-1]
    await chat.press(ADMIN, ThemeCb(theme="other").pack())
    assert "推送给谁" in chat.bot.sent_texts(ADMIN)[-1]
    assert await articles(chat) == 1


async def test_the_article_is_stored_with_the_theme_chosen(chat: Chat) -> None:
    """The theme step: the draft is written only once it is chosen, with that theme; a
    key date's reminder marks its own theme as the usual one."""
    await chat.press(ADMIN, CalendarCb(action="post", code="anti_drug_day", year=2027).pack())
    assert "主题" in await chat.say(ADMIN, "禁毒宣传\n珍爱生命，远离毒品。")
    assert "禁毒（常用）" in chat.bot.last_buttons()
    assert await articles(chat) == 0  # nothing stored before the theme
    stale = await chat.press(ADMIN, ThemeCb(theme="astrology").pack())
    assert stale.text is not None and "过期" in stale.text
    await chat.press(ADMIN, ThemeCb(theme="anti_drug").pack())
    async with chat.session_factory() as session:
        [row] = await session.scalars(select(ArticleRow))
    assert row.theme == "anti_drug" and row.title == "禁毒宣传"
    # 返回 from the audience: the theme again.
    await chat.press(ADMIN, BackCb().pack())
    assert "主题" in chat.bot.sent_texts(ADMIN)[-1]
