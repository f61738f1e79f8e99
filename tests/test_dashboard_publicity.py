"""The dashboard's articles and activities pages and a campaign's participation by day,
through aiohttp's test client: the funnel equal to ``/stats article`` and the report, the
rights read on every request (rows, pages, photos, the review buttons), and the chart's
days equal to the report's."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import update

from bot.application.dashboard import campaign_days
from bot.application.publicity import ArticleFigures, article_figures
from quizzes.activities import ActivityDraft, ActivityStatus, Headcount, Source
from quizzes.permissions import Permissions
from quizzes.publicity import Article, Audience
from quizzes.statistics import Period
from quizzes.themes import Theme
from storage.models import ParticipantRow
from storage.models_publicity import DeliveryRow
from storage.publicity import PublicityRepository
from storage.repositories import Repositories
from storage.unit_of_work import UnitOfWork
from tests.publicity_chat import ADMIN, COORDINATOR, chat
from tests.publicity_factories import add_people, make_article
from tests.test_dashboard import Site, report_figures, site
from tests.test_dashboard_campaign import Cells, played, right, world

__all__ = ["chat", "site"]  # the fixtures

OTHER_TEACHER = 3100  # 一三一团中学
TEACHER = 5000  # 班主任 of 七年级1班
ROWS = ("data-day", "data-school", "data-article", "data-activity")


class Marked(Cells):
    """The campaign page's cells, and this page's rows (days, schools, articles,
    activities)."""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        super().handle_starttag(tag, attrs)
        attributes = dict(attrs)
        for key in ROWS:
            if key in attributes and "data-field" not in attributes:
                self.row = attributes[key] or ""

    def handle_endtag(self, tag: str) -> None:
        super().handle_endtag(tag)
        if tag == "span":
            self.cell = None


def cells(html: str) -> dict[tuple[str, str, str], str]:
    parser = Marked()
    parser.feed(html)
    return {key: " ".join(value.split()) for key, value in parser.found.items()}


async def test_the_campaign_page_draws_took_part_per_day_as_the_report_counts_it(
    site: Site,
) -> None:
    campaign, _ids = await world(site)
    other = site.chat.world.schools["一三一团中学"]  # the coordinator's second school
    await add_people(site.chat.session_factory, [OTHER_TEACHER], other.id, "teacher")
    await played(site.chat.session_factory, campaign, OTHER_TEACHER, right)
    zone = site.chat.context.settings.zone
    period = campaign_days(campaign, zone, datetime.now(UTC).astimezone(zone).date())
    async with site.make_client() as client:
        await site.login(client, ADMIN)
        page = await client.get(f"/admin/campaigns/{campaign.id}")
        html = await page.text()
        assert page.status == 200, html
        await site.login(client, COORDINATOR)
        theirs = cells(await (await client.get(f"/admin/campaigns/{campaign.id}")).text())
    async with site.chat.session_factory() as session:
        (root,) = await Repositories.over(session).units.roots()
    report = await report_figures(site.chat, root, period)
    assert sum(count for _day, count in report.daily) == 5  # not vacuous
    found = cells(html)
    drawn = {key[1]: value for key, value in found.items() if key[0] == "days"}
    assert drawn == {day.isoformat(): str(count) for day, count in report.daily}
    # A coordinator of two schools sees their schools' days added up (3 of the 5 people).
    expected: dict[str, int] = {}
    for name in ("胡杨河市第一中学", "一三一团中学"):
        part = await report_figures(site.chat, site.chat.world.schools[name], period)
        for day, count in part.daily:
            expected[day.isoformat()] = expected.get(day.isoformat(), 0) + count
    assert sum(expected.values()) == 3
    assert {key[1]: int(value) for key, value in theirs.items() if key[0] == "days"} == expected


# ---------------------------------------------------------------------- articles

FAR = (4000, 4001)  # 一三七团第一小学: no school of the coordinator's
BLOCKER = 3002  # 七年级1班, blocked the bot before the article went out
QUIT = 3003  # 七年级1班, said /stop
NEIGHBOUR = 3100  # 一三一团中学 (the coordinator's other school)


async def published(
    site: Site, audience: Audience, *, title: str, reads: tuple[int, ...], clicks: tuple[int, ...]
) -> Article:
    """An article sent to ``audience`` (delivered to all but the blocker, whose delivery
    ended blocked), read and clicked by some."""
    factory = site.chat.session_factory
    article = await make_article(factory, title=title, audience=audience, link="https://x.cn/a")
    now = datetime.now(UTC)
    async with factory() as session:
        repo = Repositories.over(session)
        publicity = PublicityRepository(session)
        await publicity.update_article(article.id, audience=audience)
        broadcast = await publicity.start_broadcast(
            article.id, created_by=ADMIN, locale="zh-CN", progress_chat_id=None, now=now
        )
        await session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.broadcast_id == broadcast.id)
            .values(status="sent", sent_at=now)
        )
        blocker = await repo.participants.by_telegram_id(BLOCKER)
        assert blocker is not None
        await session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.broadcast_id == broadcast.id)
            .where(DeliveryRow.participant_id == blocker.id)
            .values(status="blocked")
        )
        for telegram_id in reads:
            person = await repo.participants.by_telegram_id(telegram_id)
            assert person is not None
            await publicity.mark_read(article.id, person.id, now)
        for telegram_id in clicks:
            person = await repo.participants.by_telegram_id(telegram_id)
            assert person is not None
            await publicity.record_click(article.id, person.id, "t", now)
        await session.commit()
    return article


async def articles_world(site: Site) -> tuple[Article, Article]:
    """One article to everyone, one to the far school only."""
    chat = site.chat
    factory = chat.session_factory
    seventh = chat.world.classes["七年级1班"].id
    await add_people(factory, [BLOCKER, QUIT], seventh)
    await add_people(factory, FAR, chat.world.classes["三年级1班"].id)
    await add_people(factory, [NEIGHBOUR], chat.world.schools["一三一团中学"].id, "teacher")
    everyone = await published(
        site, Audience(), title="宪法宣传周", reads=(3000, 3001, 4000, NEIGHBOUR), clicks=(3000,)
    )
    far = await published(
        site,
        Audience(frozenset({chat.world.schools["一三七团第一小学"].id})),
        title="一三七团第一小学的通知",
        reads=(4000,),
        clicks=(),
    )
    async with factory() as session:  # after both went out: they quit, the blocker blocked
        await session.execute(
            update(ParticipantRow)
            .where(ParticipantRow.telegram_id == QUIT)
            .values(subscribed=False)
        )
        await session.commit()
    return everyone, far


def reach_of(found: dict[tuple[str, str, str], str], row: str) -> tuple[str, ...]:
    keys = ("delivered", "read", "read_rate", "clicked", "click_rate", "blocked", "unsubscribed")
    return tuple(found[("schools", row, key)] for key in keys)


async def test_an_articles_funnel_is_stats_article_and_the_reports_per_school(
    site: Site,
) -> None:
    everyone, _far = await articles_world(site)
    async with site.make_client() as client:
        await site.login(client, ADMIN)
        listed = await client.get("/admin/articles")
        page = await client.get(f"/admin/articles/{everyone.id}")
        html = await page.text()
        assert listed.status == 200 and page.status == 200, html
        list_html = await listed.text()
    assert f'href="/admin/articles/{everyone.id}"' in list_html
    assert "一三七团第一小学的通知" in list_html  # the admin sees every article
    found = cells(html)
    async with site.chat.session_factory() as session:
        stats = await article_figures(
            UnitOfWork.over(session), everyone.id, viewer=Permissions(is_admin=True)
        )
        (root,) = await Repositories.over(session).units.roots()
    assert isinstance(stats, ArticleFigures)
    today = datetime.now(UTC).astimezone(site.chat.context.settings.zone).date()
    report = await report_figures(site.chat, root, Period(today, today))
    schools = {s.unit_id: s for s in report.schools}
    shown = {key[1] for key in found if key[0] == "schools"}
    # Where this article is the only one, the report's publicity figures are its figures.
    world = site.chat.world
    only_everyone = {world.schools["胡杨河市第一中学"].id, world.schools["一三一团中学"].id}
    assert shown == {str(row.school_id) for row in stats.by_school if row.school_id} | {"total"}
    for row in stats.by_school:
        key = str(row.school_id) if row.school_id is not None else "total"
        delivered, read, _r, clicked, _c, _b, _u = reach_of(found, key)
        assert (delivered, read, clicked) == (str(row.delivered), str(row.read), str(row.clicked))
        if row.school_id in only_everyone:  # the report counts the same people
            figures = schools[row.school_id]
            assert (figures.people_reached, figures.reads, figures.clicks) == (
                row.delivered,
                row.read,
                row.clicked,
            )
    first = world.schools["胡杨河市第一中学"].id
    # 3000, 3001, QUIT and the admin and coordinator (teachers of the school) got it; the
    # blocker did not; two read, one clicked; QUIT has since unsubscribed.
    assert reach_of(found, str(first)) == ("5", "2", "40.0%", "1", "20.0%", "1", "1")
    assert stats.by_school[-1].delivered == 8  # not vacuous: everyone's total


async def test_a_coordinator_sees_their_schools_rows_and_no_other_schools_article(
    site: Site,
) -> None:
    everyone, far = await articles_world(site)
    world = site.chat.world
    async with site.make_client() as client:
        await site.login(client, COORDINATOR)
        listed = await (await client.get("/admin/articles")).text()
        page = await client.get(f"/admin/articles/{everyone.id}")
        html = await page.text()
        assert page.status == 200, html
        other = await client.get(f"/admin/articles/{far.id}")
        assert other.status == 403
        assert "一三七团第一小学" not in await other.text()
        assert (await client.get("/admin/articles/999999")).status == 404
        assert (await client.get("/admin/articles/1e3")).status == 404
    assert f'href="/admin/articles/{everyone.id}"' in listed
    assert "一三七团第一小学的通知" not in listed
    found = cells(html)
    first, neighbour = world.schools["胡杨河市第一中学"].id, world.schools["一三一团中学"].id
    assert {key[1] for key in found if key[0] == "schools"} == {
        str(first),
        str(neighbour),
        "total",
    }
    assert "一三七团第一小学" not in html
    assert reach_of(found, str(neighbour)) == ("1", "1", "100.0%", "0", "0.0%", "0", "0")
    # Their total is their two schools added up, not everyone's.
    assert reach_of(found, "total") == ("6", "3", "50.0%", "1", "16.7%", "1", "1")
    listed_found = cells(listed)
    assert listed_found[("articles", str(everyone.id), "delivered")] == "6"


async def test_teachers_and_strangers_see_no_articles(site: Site) -> None:
    everyone, _far = await articles_world(site)
    await add_people(
        site.chat.session_factory, [TEACHER], site.chat.world.classes["七年级1班"].id, "teacher"
    )
    async with site.make_client() as client:
        anonymous = await client.get(f"/admin/articles/{everyone.id}")
        assert anonymous.status == 401
        await site.login(client, TEACHER)
        for path in ("/admin/articles", f"/admin/articles/{everyone.id}"):
            page = await client.get(path)
            assert page.status == 403
            assert "宪法宣传周" not in await page.text()


# ---------------------------------------------------------------------- activities

PICTURE = b"\xff\xd8\xff\xe0 a JPEG, as far as these tests go"


async def recorded(site: Site, school: str, title: str) -> int:
    """A school's pending entry with one photo kept."""
    async with site.chat.session_factory() as session:
        uow = UnitOfWork.over(session)
        draft = ActivityDraft(
            "lecture",
            Theme.CONSTITUTION,
            datetime.now(UTC).date(),
            title,
            site.chat.world.schools[school].id,
            Headcount(students=120, teachers=8),
        )
        [activity_id] = await uow.activities.record(
            [draft],
            status=ActivityStatus.PENDING,
            source=Source.CHAT,
            recorded_by=None,
            now=datetime.now(UTC),
        )
        assert activity_id is not None
        await uow.activities.add_photo(activity_id, telegram_file_id="f", content=PICTURE)
        await session.commit()
    return activity_id


async def status_of(site: Site, activity_id: int) -> tuple[ActivityStatus, datetime | None]:
    async with site.chat.session_factory() as session:
        activity = await UnitOfWork.over(session).activities.get(activity_id)
    assert activity is not None
    return activity.status, activity.reviewed_at


async def test_an_admin_confirms_an_activity_once_with_the_forms_token(site: Site) -> None:
    ours = await recorded(site, "胡杨河市第一中学", "宪法进校园讲座")
    far = await recorded(site, "一三七团第一小学", "禁毒知识讲座")
    async with site.make_client() as client:
        await site.login(client, ADMIN)
        html = await (await client.get("/admin/activities")).text()
        token = re.search(r'name="csrf_token" value="([^"]+)"', html)
        assert token is not None
        found = cells(html)
        assert found[("activities", str(far), "unit")].endswith("一三七团第一小学")
        assert found[("activities", str(ours), "status")] == "待确认"
        assert f'src="/admin/activities/{far}/photos/0"' in html
        photo = await client.get(f"/admin/activities/{far}/photos/0")
        assert photo.status == 200 and photo.content_type == "image/jpeg"
        assert await photo.read() == PICTURE
        forged = await client.post(
            f"/admin/activities/{ours}/review", data={"decision": "confirm", "csrf_token": "x"}
        )
        assert forged.status == 403
        assert (await status_of(site, ours))[0] is ActivityStatus.PENDING
        form = {"decision": "confirm", "csrf_token": token.group(1)}
        done = await client.post(
            f"/admin/activities/{ours}/review", data=form, allow_redirects=False
        )
        assert done.status == 303, await done.text()
        status, reviewed_at = await status_of(site, ours)
        assert status is ActivityStatus.CONFIRMED
        again = await client.post(f"/admin/activities/{ours}/review", data=form)
        assert again.status == 409
        assert await status_of(site, ours) == (status, reviewed_at)  # nothing rewritten
        after = cells(await (await client.get("/admin/activities")).text())
    assert after[("activities", str(ours), "status")] == "已确认"


async def test_a_coordinator_sees_their_schools_activities_and_cannot_review(
    site: Site,
) -> None:
    ours = await recorded(site, "胡杨河市第一中学", "宪法进校园讲座")
    far = await recorded(site, "一三七团第一小学", "禁毒知识讲座")
    async with site.make_client() as client:
        await site.login(client, COORDINATOR)
        html = await (await client.get("/admin/activities")).text()
        token = re.search(r'name="csrf_token" value="([^"]+)"', html)
        assert token is not None
        assert "禁毒知识讲座" not in html and f"/activities/{far}/" not in html
        assert f'action="/admin/activities/{ours}/review"' not in html  # no buttons
        assert (await client.get(f"/admin/activities/{ours}/photos/0")).status == 200
        out_of_reach = await client.get(f"/admin/activities/{far}/photos/0")
        assert out_of_reach.status == 403
        assert await out_of_reach.read() != PICTURE
        assert (await client.get(f"/admin/activities/{ours}/photos/5")).status == 404
        pressed = await client.post(
            f"/admin/activities/{ours}/review",
            data={"decision": "confirm", "csrf_token": token.group(1)},
        )
        assert pressed.status == 403
        assert (await status_of(site, ours))[0] is ActivityStatus.PENDING
    await add_people(
        site.chat.session_factory, [TEACHER], site.chat.world.classes["七年级1班"].id, "teacher"
    )
    async with site.make_client() as client:  # a class teacher: their class's only
        await site.login(client, TEACHER)
        assert (await client.get(f"/admin/activities/{ours}/photos/0")).status == 403
        assert "宪法进校园讲座" not in await (await client.get("/admin/activities")).text()
