"""The dashboard's articles and activities pages and a campaign's participation by day,
through aiohttp's test client: the funnel equal to ``/stats article`` and the report, the
rights read on every request (rows, pages, photos, the review buttons), and the chart's
days equal to the report's."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.application.dashboard import campaign_days
from storage.repositories import Repositories
from tests.publicity_chat import ADMIN, COORDINATOR, chat
from tests.publicity_factories import add_people
from tests.test_dashboard import Site, report_figures, site
from tests.test_dashboard_campaign import Cells, played, right, world

__all__ = ["chat", "site"]  # the fixtures

OTHER_TEACHER = 3100  # 一三一团中学
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
