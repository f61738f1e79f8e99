"""The reminder to read an article, pressed on the article's page of the dashboard: it
goes to exactly those in the viewer's reach the article was delivered to who have not
read it (through the broadcaster), once per article, reach and day (CSRF, a race between
two tabs), a read or a click from it counts once for the article, and the report's
article figures do not count it."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from aiogram.methods import SendMessage
from sqlalchemy import func, select, update

from bot.application.publicity import ArticleFigures, article_figures
from quizzes.permissions import Permissions
from quizzes.publicity import Article, parse_link_token, verify_link_token
from quizzes.statistics import Period
from storage.models_publicity import ArticleRow, BroadcastRow
from storage.models_read_reminders import ReadReminderRow
from storage.repositories import Repositories
from storage.unit_of_work import UnitOfWork
from tests.publicity_chat import ADMIN, COORDINATOR, chat
from tests.publicity_factories import add_people
from tests.test_dashboard import Site, report_figures, site
from tests.test_dashboard_publicity import FAR, articles_world

__all__ = ["chat", "site"]  # the fixtures

ENGLISH = 4002  # 一三七团第一小学, speaks English, has not read it
TEACHER = 5000  # 班主任 of 七年级1班: no articles' figures
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
TITLE = "宪法宣传周"
# Delivered and not read, and still reachable: the admin and the coordinator (teachers of
# 胡杨河市第一中学), 4001 and ENGLISH (一三七团第一小学). 3000, 3001, 4000 and the
# neighbour read it; the blocker was never delivered it; QUIT has said /stop since.
UNREAD = {ADMIN, COORDINATOR, FAR[1], ENGLISH}
UNREAD_OF_COORDINATOR = {ADMIN, COORDINATOR}


async def _world(site: Site) -> tuple[Article, Article]:
    far_class = site.chat.world.classes["三年级1班"].id
    await add_people(site.chat.session_factory, [ENGLISH], far_class, locale="en")
    return await articles_world(site)


async def _reminders(site: Site) -> list[ReadReminderRow]:
    async with site.chat.session_factory() as session:
        return list(await session.scalars(select(ReadReminderRow).order_by(ReadReminderRow.id)))


async def _token(site: Site, client: Any, article_id: int) -> str:
    html = await (await client.get(f"/admin/articles/{article_id}")).text()
    found = TOKEN.search(html)
    assert found is not None, html
    return found.group(1)


async def _send_all(site: Site, reminder: ReadReminderRow) -> None:
    """Run the broadcaster until the reminder's broadcasts are done."""
    chat = site.chat
    async with chat.session_factory() as session:
        broadcast_ids = list(
            await session.scalars(
                select(BroadcastRow.id)
                .join(ArticleRow, ArticleRow.id == BroadcastRow.article_id)
                .where(ArticleRow.reminder_of == reminder.article_id)
            )
        )
    assert broadcast_ids
    await chat.broadcaster.start()
    try:
        for broadcast_id in broadcast_ids:
            await chat.broadcaster.wait_until_finished(broadcast_id, timeout=30)
    finally:
        await chat.broadcaster.stop()


def _reminder_messages(site: Site) -> dict[int, SendMessage]:
    """The reminders the bot sent, by chat (zh-CN "阅读提醒：", en "Reminder:")."""
    heads = ("<b>阅读提醒：", "<b>Reminder:")
    return {
        int(method.chat_id): method
        for method in site.chat.bot.recorder.requests
        if isinstance(method, SendMessage) and method.text.startswith(heads)
    }


async def _figures(site: Site, article_id: int) -> ArticleFigures:
    async with site.chat.session_factory() as session:
        found = await article_figures(
            UnitOfWork.over(session), article_id, viewer=Permissions(is_admin=True)
        )
    assert isinstance(found, ArticleFigures)
    return found


def _publicity(statistics: Any) -> tuple[int, ...]:
    total = statistics.total
    return (
        total.articles_published,
        total.deliveries,
        total.people_reached,
        total.reads,
        total.clicks,
    )


async def test_the_unread_are_reminded_once_a_day_and_a_read_from_it_counts_for_the_article(
    site: Site,
) -> None:
    everyone, _far = await _world(site)
    chat = site.chat
    async with chat.session_factory() as session:
        (root,) = await Repositories.over(session).units.roots()
    today = datetime.now(UTC).astimezone(chat.context.settings.zone).date()
    report_before = await report_figures(chat, root, Period(today, today))
    url = f"/admin/articles/{everyone.id}/remind"
    async with site.make_client() as client:
        await site.login(client, ADMIN)
        page = await (await client.get(f"/admin/articles/{everyone.id}")).text()
        assert "提醒未读的人（4 人）</button>" in page
        token = await _token(site, client, everyone.id)
        for forged in ({}, {"csrf_token": "x" * 43}):
            assert (await client.post(url, data=forged)).status == 403
        assert await _reminders(site) == []
        first = await client.post(url, data={"csrf_token": token}, allow_redirects=False)
        assert first.status == 303, await first.text()
        html = await (await client.get(first.headers["Location"])).text()
        assert "阅读提醒已发出" in html and "提醒 4 人阅读" in html
        assert "提醒未读的人" not in html  # the button is gone for today
        second = await client.post(url, data={"csrf_token": token})
        again = await second.text()
        assert second.status == 409 and "今天已经提醒过了" in again and "提醒 4 人阅读" in again
    (reminder,) = await _reminders(site)
    async with chat.session_factory() as session:
        admin = await Repositories.over(session).participants.by_telegram_id(ADMIN)
    assert admin is not None
    assert (reminder.article_id, reminder.reach, reminder.sent_by, reminder.recipients) == (
        everyone.id,
        "all",
        admin.id,
        4,
    )
    # The broadcaster sends it, each in their language, to exactly the unread.
    await _send_all(site, reminder)
    sent = _reminder_messages(site)
    assert set(sent) == UNREAD
    assert TITLE in sent[FAR[1]].text and "/articles" in sent[FAR[1]].text
    assert sent[ENGLISH].text.startswith("<b>Reminder:") and TITLE in sent[ENGLISH].text
    # /articles, where the reminder sends them, lists the article and not the reminder.
    await chat.say(FAR[1], "/articles")
    listed = chat.bot.last_buttons()
    assert TITLE in listed and not any("提醒" in title for title in listed), listed
    # The reminder is no publicity article: the report's figures are as they were.
    report_after = await report_figures(chat, root, Period(today, today))
    assert _publicity(report_after) == _publicity(report_before)
    assert report_before.total.deliveries > 0  # not vacuous
    # Its "read" button and its link are the article's.
    markup: Any = sent[FAR[1]].reply_markup
    read_data = markup.inline_keyboard[0][0].callback_data
    link = markup.inline_keyboard[1][0].url
    parsed = parse_link_token(link.rsplit("/r/", 1)[1])
    assert parsed is not None
    article_id, participant_id, signature = parsed
    assert article_id == everyone.id
    assert verify_link_token(everyone.link_secret, article_id, participant_id, signature)
    before = (await _figures(site, everyone.id)).by_school[-1]
    await chat.press(FAR[1], read_data)
    await chat.press(FAR[1], read_data)  # pressed twice: one read
    after = (await _figures(site, everyone.id)).by_school[-1]
    assert (after.delivered, after.read) == (before.delivered, before.read + 1)
    # A reminder of an earlier day does not stand in the way; by then the reader is out.
    async with chat.session_factory() as session:
        await session.execute(update(ReadReminderRow).values(day=reminder.day - timedelta(days=1)))
        await session.commit()
    async with site.make_client() as client:
        await site.login(client, ADMIN)
        page = await (await client.get(f"/admin/articles/{everyone.id}")).text()
        assert "提醒未读的人（3 人）</button>" in page


async def test_a_coordinator_reminds_their_schools_only_and_no_other_schools_article(
    site: Site,
) -> None:
    everyone, far = await _world(site)
    chat = site.chat
    await add_people(
        chat.session_factory, [TEACHER], chat.world.classes["七年级1班"].id, "teacher"
    )
    async with site.make_client() as client:
        await site.login(client, COORDINATOR)
        token = await _token(site, client, everyone.id)
        refused = await client.post(f"/admin/articles/{far.id}/remind", data={"csrf_token": token})
        assert refused.status == 403
        done = await client.post(
            f"/admin/articles/{everyone.id}/remind",
            data={"csrf_token": token},
            allow_redirects=False,
        )
        assert done.status == 303, await done.text()
        await site.login(client, TEACHER)
        teacher_token = TOKEN.search(await (await client.get("/admin/")).text())
        form = {"csrf_token": teacher_token.group(1) if teacher_token else ""}
        assert (await client.post(f"/admin/articles/{everyone.id}/remind", data=form)).status == (
            403
        )
    (reminder,) = await _reminders(site)
    world = chat.world
    schools = sorted((world.schools["胡杨河市第一中学"].id, world.schools["一三一团中学"].id))
    assert reminder.reach == f"s:{schools[0]},{schools[1]}" and reminder.recipients == 2
    await _send_all(site, reminder)
    assert set(_reminder_messages(site)) == UNREAD_OF_COORDINATOR
    # The admin's reach is another: they may still remind everyone today.
    async with site.make_client() as client:
        await site.login(client, ADMIN)
        page = await (await client.get(f"/admin/articles/{everyone.id}")).text()
        assert "提醒未读的人（4 人）</button>" in page


async def test_two_tabs_pressing_at_once_send_one_reminder(site: Site) -> None:
    everyone, _far = await _world(site)
    async with site.make_client() as client:
        await site.login(client, ADMIN)
        form = {"csrf_token": await _token(site, client, everyone.id)}
        url = f"/admin/articles/{everyone.id}/remind"
        answers = await asyncio.gather(
            *(client.post(url, data=form, allow_redirects=False) for _ in range(2))
        )
        statuses = sorted(answer.status for answer in answers)
    assert statuses == [303, 409]
    assert len(await _reminders(site)) == 1
    async with site.chat.session_factory() as session:
        broadcasts = await session.scalar(
            select(func.count())
            .select_from(BroadcastRow)
            .join(ArticleRow, ArticleRow.id == BroadcastRow.article_id)
            .where(ArticleRow.reminder_of == everyone.id)
        )
    assert broadcasts == 2  # one per language, once


async def test_the_button_under_stats_article_reminds_through_the_same_use_case(
    site: Site,
) -> None:
    everyone, _far = await _world(site)
    chat = site.chat
    figures = await chat.say(ADMIN, f"/stats article {everyone.id}")
    assert TITLE in figures
    (data,) = chat.bot.last_markup_data()
    first = await chat.press(ADMIN, data)
    assert first.text is not None and "已向 4 位" in first.text
    again = await chat.press(ADMIN, data)
    assert again.text is not None and "今天" in again.text and "提醒过 4 人" in again.text
    (reminder,) = await _reminders(site)
    assert (reminder.reach, reminder.recipients) == ("all", 4)
    # The dashboard's button knows: the same reach was reminded today.
    async with site.make_client() as client:
        await site.login(client, ADMIN)
        page = await (await client.get(f"/admin/articles/{everyone.id}")).text()
        assert "提醒 4 人阅读" in page and "提醒未读的人（" not in page
