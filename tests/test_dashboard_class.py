"""The class teacher's page of the dashboard through aiohttp's test client: the report's
figures for the class, who has not started or finished (display names only), the reminder
button (CSRF, once a day, a race between two tabs, a closed campaign), the broadcaster
delivering it to exactly the unfinished students, and the class's results as XLSX."""

from __future__ import annotations

import asyncio
import html as markup
import io
import re
from datetime import UTC, datetime, timedelta

from openpyxl import load_workbook
from sqlalchemy import func, select, update

from quizzes.statistics import Period, percent_text
from storage.models import ParticipantRow
from storage.models_class_reminders import ClassReminderArticleRow, ClassReminderRow
from storage.models_publicity import BroadcastRow
from storage.models_quiz import AttemptRow
from storage.repositories import Repositories
from storage.unit_of_work import UnitOfWork
from tests.publicity_chat import ADMIN, COORDINATOR, chat
from tests.publicity_factories import add_people
from tests.quiz_world import open_campaign
from tests.test_dashboard import Site, answered, report_figures, site

__all__ = ["chat", "site"]  # the fixtures

TEACHER = 4000  # 班主任 of 七年级1班
OTHER_TEACHER = 4100  # of 七年级2班
FINISHED, UNFINISHED, NOT_STARTED, ENGLISH, BLOCKED = 3000, 3001, 3002, 3003, 3004
OTHER_CLASS_STUDENT = 3100
NAMES = {
    FINISHED: "小明",
    UNFINISHED: "小红",
    NOT_STARTED: '=HYPERLINK("http://x","领奖")',  # a display name is not a formula
    ENGLISH: "Lily",
    BLOCKED: "小刚",
}
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


async def _class_world(site: Site) -> tuple[int, int]:
    """Students of 七年级1班 at every stage, its teacher, and another class's teacher and
    student; the open campaign's id and the class's id."""
    chat = site.chat
    own = chat.world.classes["七年级1班"]
    other = chat.world.classes["七年级2班"]
    await add_people(chat.session_factory, [NOT_STARTED], own.id)
    await add_people(chat.session_factory, [BLOCKED], own.id, blocked=True)
    await add_people(chat.session_factory, [ENGLISH], own.id, locale="en")
    await add_people(chat.session_factory, [TEACHER], own.id, "teacher")
    await add_people(chat.session_factory, [OTHER_TEACHER], other.id, "teacher")
    await add_people(chat.session_factory, [OTHER_CLASS_STUDENT], other.id)
    async with chat.session_factory() as session:
        for telegram_id, name in NAMES.items():
            await session.execute(
                update(ParticipantRow)
                .where(ParticipantRow.telegram_id == telegram_id)
                .values(display_name=name)
            )
        await session.commit()
    campaign = await open_campaign(chat.session_factory, closes_in=timedelta(days=3))
    await answered(chat.session_factory, campaign.id, FINISHED, passed=True)
    await answered(chat.session_factory, campaign.id, OTHER_CLASS_STUDENT, passed=False)
    await _started(site, campaign.id, UNFINISHED)
    return campaign.id, own.id


async def _started(site: Site, campaign_id: int, telegram_id: int) -> None:
    """An attempt begun and left unfinished: a finished one taken back to running."""
    await answered(site.chat.session_factory, campaign_id, telegram_id, passed=False)
    async with site.chat.session_factory() as session:
        person = await Repositories.over(session).participants.by_telegram_id(telegram_id)
        assert person is not None
        await session.execute(
            update(AttemptRow)
            .where(AttemptRow.participant_id == person.id)
            .values(status="active", finished_at=None, passed=None, total_ms=None)
        )
        await session.commit()


def _list(html: str, name: str) -> list[str]:
    found = re.search(rf'data-list="{name}">(.*?)</ul>', html, re.S)
    if found is None:
        return []
    items = re.findall(r"<li.*?</li>", found.group(1))
    return [markup.unescape(re.sub(r"<[^>]+>", "", item)) for item in items]


def _field(html: str, name: str) -> str:
    found = re.search(rf'data-field="{name}">([^<]*)<', html)
    assert found is not None, name
    return found.group(1)


async def _reminders(site: Site) -> list[ClassReminderRow]:
    async with site.chat.session_factory() as session:
        return list(await session.scalars(select(ClassReminderRow)))


async def test_a_teacher_lands_on_the_class_page_with_the_reports_figures(site: Site) -> None:
    campaign_id, class_id = await _class_world(site)
    chat = site.chat
    async with site.make_client() as client:
        await site.login(client, TEACHER)
        page = await client.get("/admin/")  # a teacher's page is their class
        html = await page.text()
    assert page.status == 200 and str(page.url.path) == f"/admin/classes/{class_id}"
    assert "七年级1班" in html and "宪法卫士测试" in html
    assert _list(html, "unfinished") == ["小红"]
    assert sorted(_list(html, "not_started")) == sorted(
        ['=HYPERLINK("http://x","领奖")', "Lily", "小刚"]
    )
    assert "提醒未完成的同学" in html
    for telegram_id in (FINISHED, UNFINISHED, NOT_STARTED, ENGLISH, BLOCKED):
        assert str(telegram_id) not in html  # display names only, never a Telegram id
    # The figures are the report's for the class over the campaign's days.
    today = datetime.now(UTC).astimezone(chat.context.settings.zone).date()
    report = await report_figures(chat, chat.world.classes["七年级1班"], Period(today, today))
    (row,) = report.schools
    (line,) = report.campaigns
    shown = {
        name: _field(html, name)
        for name in ("enrolled", "registered", "took_part", "completed", "passed", "rate")
    }
    assert shown == {
        "enrolled": str(row.enrolled),
        "registered": str(row.registered.total),
        "took_part": str(line.took_part.total),
        "completed": str(line.completed),
        "passed": str(line.passed),
        "rate": percent_text(line.participation_rate),
    }
    assert (line.took_part.total, line.completed, line.passed) == (2, 1, 1)  # not vacuous
    assert campaign_id == line.campaign_id
    async with site.make_client() as client:  # English is complete
        await site.login(client, TEACHER)
        english = await (await client.get(f"/admin/classes/{class_id}?lang=en")).text()
    assert "Remind students who have not finished" in english
    assert "Started, not finished (1)" in english


async def test_only_those_whose_rights_reach_the_class_may_view_press_or_download(
    site: Site,
) -> None:
    campaign_id, class_id = await _class_world(site)
    school = site.chat.world.schools["胡杨河市第一中学"]
    async with site.make_client() as client:
        await site.login(client, OTHER_TEACHER)
        own_page = await (await client.get("/admin/")).text()
        token = TOKEN.search(own_page)
        assert token is not None
        assert (await client.get(f"/admin/classes/{class_id}")).status == 403
        xlsx = await client.get(f"/admin/classes/{class_id}/results.xlsx")
        assert xlsx.status == 403 and "spreadsheet" not in xlsx.headers["Content-Type"]
        pressed = await client.post(
            f"/admin/classes/{class_id}/remind",
            data={"csrf_token": token.group(1), "campaign": str(campaign_id)},
            allow_redirects=False,
        )
        assert pressed.status == 403
        assert (await client.get(f"/admin/classes/{school.id}")).status == 404  # not a class
        assert (await client.get("/admin/classes/999999")).status == 404
    assert await _reminders(site) == []
    for staff in (COORDINATOR, ADMIN):  # the school's coordinator, the bureau
        async with site.make_client() as client:
            await site.login(client, staff)
            assert (await client.get(f"/admin/classes/{class_id}")).status == 200
            download = await client.get(f"/admin/classes/{class_id}/results.xlsx")
            assert download.status == 200
    # A student gets no login link, and without a session nothing is shown.
    assert "/admin/login/" not in await site.chat.say(UNFINISHED, "/web")
    async with site.make_client() as client:
        assert (await client.get(f"/admin/classes/{class_id}")).status == 401
        assert (await client.get(f"/admin/classes/{class_id}/results.xlsx")).status == 401


async def test_the_reminder_needs_the_forms_token_goes_once_a_day_and_is_recorded(
    site: Site,
) -> None:
    campaign_id, class_id = await _class_world(site)
    chat = site.chat
    url = f"/admin/classes/{class_id}/remind"
    async with site.make_client() as client:
        await site.login(client, TEACHER)
        html = await (await client.get(f"/admin/classes/{class_id}")).text()
        token = TOKEN.search(html)
        assert token is not None
        for forged in ({}, {"csrf_token": "x" * 43}):
            response = await client.post(url, data={**forged, "campaign": str(campaign_id)})
            assert response.status == 403
        assert await _reminders(site) == []
        form = {"csrf_token": token.group(1), "campaign": str(campaign_id)}
        first = await client.post(url, data=form, allow_redirects=False)
        assert first.status == 303
        page = await client.get(first.headers["Location"])
        html = await page.text()
        assert "提醒已发出" in html and "提醒 3 名同学" in html
        assert "提醒未完成的同学</button>" not in html  # the button is gone for today
        second = await client.post(url, data=form)
        again = await second.text()
        assert second.status == 409 and "已经提醒过" in again and "提醒 3 名同学" in again
    async with chat.session_factory() as session:
        teacher = await Repositories.over(session).participants.by_telegram_id(TEACHER)
    (reminder,) = await _reminders(site)
    assert teacher is not None
    assert (reminder.sent_by, reminder.recipients, reminder.campaign_id) == (
        teacher.id,
        3,
        campaign_id,
    )
    # The broadcaster sends it: exactly the registered, reachable students who have not
    # finished, each in their language.
    async with chat.session_factory() as session:
        broadcast_ids = list(
            await session.scalars(
                select(BroadcastRow.id)
                .join(
                    ClassReminderArticleRow,
                    ClassReminderArticleRow.article_id == BroadcastRow.article_id,
                )
                .where(ClassReminderArticleRow.reminder_id == reminder.id)
            )
        )
    assert len(broadcast_ids) == 2  # zh-CN and en
    await chat.broadcaster.start()
    try:
        for broadcast_id in broadcast_ids:
            await chat.broadcaster.wait_until_finished(broadcast_id, timeout=30)
    finally:
        await chat.broadcaster.stop()
    reached = {
        telegram_id
        for telegram_id in (*NAMES, TEACHER, OTHER_CLASS_STUDENT, ADMIN)
        if any("宪法卫士测试" in text for text in chat.bot.sent_texts(telegram_id))
    }
    assert reached == {UNFINISHED, NOT_STARTED, ENGLISH}
    assert "宪法卫士测试" in chat.bot.sent_texts(UNFINISHED)[-1]
    assert "/quiz" in chat.bot.sent_texts(UNFINISHED)[-1]
    assert "Send /quiz" in chat.bot.sent_texts(ENGLISH)[-1]
    # A class's reminder is no publicity article in the report.
    today = datetime.now(UTC).astimezone(chat.context.settings.zone).date()
    report = await report_figures(chat, chat.world.classes["七年级1班"], Period(today, today))
    assert (report.total.articles_published, report.total.deliveries) == (0, 0)
    # Nor an article the participant pages list for reading.
    async with chat.session_factory() as session:
        listed = await UnitOfWork.over(session).publicity.published_since(
            datetime.now(UTC) - timedelta(days=1)
        )
    assert listed == []
    # A reminder of an earlier day (Asia/Shanghai) does not stand in the way.
    async with chat.session_factory() as session:
        await session.execute(
            update(ClassReminderRow).values(day=reminder.day - timedelta(days=1))
        )
        await session.commit()
    async with site.make_client() as client:
        await site.login(client, TEACHER)
        html = await (await client.get(f"/admin/classes/{class_id}")).text()
        token = TOKEN.search(html)
        assert token is not None and "提醒未完成的同学</button>" in html
        response = await client.post(
            url,
            data={"csrf_token": token.group(1), "campaign": str(campaign_id)},
            allow_redirects=False,
        )
        assert response.status == 303
    assert len(await _reminders(site)) == 2


async def test_two_tabs_pressing_at_once_send_one_reminder(site: Site) -> None:
    campaign_id, class_id = await _class_world(site)
    async with site.make_client() as client:
        await site.login(client, TEACHER)
        html = await (await client.get(f"/admin/classes/{class_id}")).text()
        token = TOKEN.search(html)
        assert token is not None
        form = {"csrf_token": token.group(1), "campaign": str(campaign_id)}
        url = f"/admin/classes/{class_id}/remind"
        answers = await asyncio.gather(
            *(client.post(url, data=form, allow_redirects=False) for _ in range(2))
        )
        statuses = sorted(answer.status for answer in answers)
    assert statuses == [303, 409]
    assert len(await _reminders(site)) == 1
    async with site.chat.session_factory() as session:
        broadcasts = await session.scalar(select(func.count()).select_from(BroadcastRow))
    assert broadcasts == 2  # one per language, once


async def test_a_closed_campaign_cannot_be_reminded(site: Site) -> None:
    chat = site.chat
    _campaign, class_id = await _class_world(site)
    # Closed a moment ago: still on the page (recent), no longer to remind.
    closed = await open_campaign(
        chat.session_factory, closes_in=timedelta(seconds=-1), name="已结束"
    )
    async with site.make_client() as client:
        await site.login(client, TEACHER)
        page = await client.get(f"/admin/classes/{class_id}?campaign={closed.id}")
        html = await page.text()
        assert page.status == 200 and "已结束（或尚未开始），不能再发送提醒" in html
        assert "提醒未完成的同学</button>" not in html
        token = TOKEN.search(html)
        assert token is not None
        response = await client.post(
            f"/admin/classes/{class_id}/remind",
            data={"csrf_token": token.group(1), "campaign": str(closed.id)},
        )
        assert response.status == 409 and "不能再发送提醒" in await response.text()
    assert await _reminders(site) == []


async def test_the_class_results_download_as_a_formula_safe_spreadsheet(site: Site) -> None:
    campaign_id, class_id = await _class_world(site)
    async with site.make_client() as client:
        await site.login(client, TEACHER)
        response = await client.get(
            f"/admin/classes/{class_id}/results.xlsx?campaign={campaign_id}"
        )
        assert response.status == 200
        assert "attachment" in response.headers["Content-Disposition"]
        body = await response.read()
    sheet = load_workbook(io.BytesIO(body)).active
    assert sheet is not None
    rows = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2)]
    assert rows[0] == ["昵称", "已开始", "已完成", "得分", "是否合格", "用时（秒）"]
    by_name = {row[0]: row for row in rows[1:]}
    assert by_name["小明"] == ["小明", "是", "是", 5, "是", 60]
    assert by_name["小红"][:3] == ["小红", "是", "否"]
    assert by_name["Lily"][:3] == ["Lily", "否", "否"]
    assert len(rows) - 1 == 5  # the class's registered students, no teacher
    formula = next(
        cell
        for row in sheet.iter_rows(min_row=3)
        for cell in row
        if cell.column == 1 and str(cell.value).startswith("=")
    )
    assert formula.data_type == "s" and formula.quotePrefix  # text, never a formula


async def test_a_coordinator_reaches_a_class_page_from_the_schools_overview(site: Site) -> None:
    _campaign, class_id = await _class_world(site)
    chat = site.chat
    school = chat.world.schools["胡杨河市第一中学"]
    elsewhere = chat.world.schools["一三七团第一小学"]  # not the coordinator's
    async with site.make_client() as client:
        await site.login(client, COORDINATOR)
        overview = await (await client.get(f"/admin/units/{school.id}")).text()
        assert f'href="/admin/units/{school.id}/classes"' in overview
        classes = await (await client.get(f"/admin/units/{school.id}/classes")).text()
        assert f'<a href="/admin/classes/{class_id}">七年级1班</a>' in classes
        assert "七年级2班" in classes and "三年级1班" not in classes
        assert (await client.get(f"/admin/units/{elsewhere.id}/classes")).status == 403
    async with site.make_client() as client:  # a teacher's own class row leads there too
        await site.login(client, TEACHER)
        overview = await (await client.get(f"/admin/units/{class_id}")).text()
        assert f'<a href="/admin/classes/{class_id}">七年级1班</a>' in overview


async def test_the_unique_key_decides_between_two_claims_of_one_day(site: Site) -> None:
    """What two tabs racing past the page's check meet: the second claim gets nothing."""
    campaign_id, class_id = await _class_world(site)
    today = datetime.now(UTC).date()
    claims = []
    for _tab in range(2):
        async with site.chat.session_factory() as session:
            uow = UnitOfWork.over(session)
            teacher = await uow.participants.by_telegram_id(TEACHER)
            assert teacher is not None
            claims.append(
                await uow.class_progress.claim_reminder(
                    campaign_id, class_id, today, teacher.id, datetime.now(UTC)
                )
            )
            await uow.commit()
    assert claims[0] is not None and claims[1] is None
    assert len(await _reminders(site)) == 1
