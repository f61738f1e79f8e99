"""The dashboard's page of one campaign (``{admin path}/campaigns/{id}``, and
``.../units/{unit id}`` for one school or class): progress, item analysis, score
distribution, the shortlist with its audit trail, too-fast flags.

Thin, like the other views: read who is asking, call
:func:`bot.application.campaign_page.campaign_page` (which checks the rights), render. The
dashboard's shared machinery is reached through :class:`Pages`, so that this module does
not import :mod:`bot.web.views` (which registers its routes).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.application import UnitOfWork
from bot.application.campaign_page import (
    CampaignPage,
    CampaignPageRefusal,
    QuestionStat,
    ScoreBand,
    ShortlistRule,
    campaign_page,
)
from bot.application.dashboard import OverviewRefusal, Viewer
from bot.application.live_figures import FigureSource
from bot.i18n import Gettext
from bot.shortlists import wrong_answer
from bot.web.charts import CHART, Bar, bars
from quizzes.statistics import percent_text, rounded_percent, score_percent

__all__ = ["Pages", "add_campaign_routes", "band_bars", "day_bars"]

_REFUSALS: dict[Any, tuple[str, int]] = {
    CampaignPageRefusal.UNKNOWN_CAMPAIGN: ("web.campaign.unknown", 404),
    OverviewRefusal.NOT_IN_REACH: ("web.not_in_reach", 403),
    OverviewRefusal.NO_UNITS: ("web.no_units", 200),
    OverviewRefusal.UNKNOWN: ("web.unknown_unit", 404),
}


class Pages(Protocol):
    """What the campaign page needs of :class:`bot.web.views.Dashboard`."""

    @property
    def path(self) -> str: ...

    @property
    def zone(self) -> ZoneInfo: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...

    @property
    def figures(self) -> FigureSource: ...

    def uow(self) -> contextlib.AbstractAsyncContextManager[UnitOfWork]: ...

    def gettext(self, request: web.Request, participant_locale: str | None) -> Gettext: ...

    def page(
        self, request: web.Request, template: str, _: Gettext, *, status: int = 200, **context: Any
    ) -> web.Response: ...

    def refusal(
        self, request: web.Request, _: Gettext, key: str, status: int, **context: Any
    ) -> web.Response: ...

    def refused(
        self, request: web.Request, _: Gettext, answer: tuple[str, int]
    ) -> web.Response: ...

    async def signed_in(
        self, request: web.Request, uow: UnitOfWork
    ) -> tuple[Viewer, Gettext] | web.Response: ...


def band_bars(bands: tuple[ScoreBand, ...], pass_mark: int) -> list[Bar]:
    """The score distribution: a bar per band, those below the pass mark told apart."""
    return bars(
        [
            (str(band.low), f"{band.low}–{band.high}", band.people, _tone(band, pass_mark))
            for band in bands
        ]
    )


def _tone(band: ScoreBand, pass_mark: int) -> str:
    return "fail" if band.high < pass_mark else "pass"


def day_bars(daily: tuple[tuple[date, int], ...]) -> list[Bar]:
    """Participation over the campaign's days: took part per day, as the report's chart
    of participation by day counts it (:attr:`Statistics.daily`)."""
    return bars([(day.isoformat(), f"{day:%m-%d}", count, "day") for day, count in daily])


def _id(raw: str | None) -> int | None:
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        return -1  # no unit or campaign has it
    return int(raw)


def _rule(rule: ShortlistRule, _: Gettext) -> str:
    roles = (
        _.join(_.plain(f"web.campaign.role_{role.value}") for role in rule.roles)
        if rule.roles
        else _.plain("web.campaign.roles_unknown")
    )
    return _.plain(
        "web.campaign.rule",
        top=rule.top_n,
        roles=roles,
        pass_mark=rule.pass_mark,
        scope=rule.scope or _.plain("web.campaign.every_school"),
    )


class CampaignPages:
    def __init__(self, dashboard: Pages) -> None:
        self.dashboard = dashboard

    async def show(self, request: web.Request) -> web.StreamResponse:
        dashboard = self.dashboard
        campaign_id = _id(request.match_info["campaign_id"])
        unit_id = _id(request.match_info.get("unit_id"))
        async with dashboard.uow() as uow:
            asked = await dashboard.signed_in(request, uow)
            if isinstance(asked, web.Response):
                return asked
            viewer, _ = asked
            found = await campaign_page(
                uow,
                viewer,
                campaign_id if campaign_id is not None else -1,
                unit_id,
                now=dashboard.clock(),
                zone=dashboard.zone,
                total_name=_.plain("web.total"),
                figures=dashboard.figures,
            )
        if not isinstance(found, CampaignPage):
            return dashboard.refused(request, _, _REFUSALS[found])
        zone = dashboard.zone

        def when(moment: datetime | None) -> str:
            return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else ""

        def wrong(stat: QuestionStat) -> str:
            return wrong_answer(stat, _.plain) or ""

        here = f"{dashboard.path}/campaigns/{found.campaign.id}"
        questions = found.campaign.rules.questions or 1
        shown = found.scope.id if found.scope is not None else None
        return dashboard.page(
            request,
            "campaign.html.j2",
            _,
            page=found,
            viewer=viewer,
            here=here,
            percent=percent_text,
            rate=lambda stat: f"{rounded_percent(stat.rate, 0)}%",
            wrong=wrong,
            when=when,
            rule=lambda drawn: _rule(drawn.rule, _),
            bars=band_bars(found.bands, found.campaign.rules.pass_mark),
            days=day_bars(found.progress.statistics.daily),
            reachable={
                row.unit_id
                for row in found.progress.rows
                if row.unit_id is not None and row.unit_id != shown
            },
            chart=CHART,
            seconds=lambda ms: f"{ms / 1000:.0f}",
            score=lambda points: score_percent(100.0 * points / questions),
            updated=dashboard.clock().astimezone(zone).strftime("%H:%M:%S"),
        )


def add_campaign_routes(app: web.Application, dashboard: Pages) -> None:
    pages = CampaignPages(dashboard)
    base = dashboard.path
    app.router.add_get(f"{base}/campaigns/{{campaign_id}}", pages.show)
    app.router.add_get(f"{base}/campaigns/{{campaign_id}}/units/{{unit_id}}", pages.show)
