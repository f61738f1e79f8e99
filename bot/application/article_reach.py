"""The dashboard's articles page: each recent publicity article's reach in the schools
the viewer may see, delivered → read → clicked, and who it did not reach (blocked the
bot, unsubscribed).

The funnel is ``/stats article``'s own figures (:meth:`PublicityRepository.figures_by_school`,
which the report's publicity figures count the same way), cut to the viewer's schools:
an admin sees every school and the total over everyone, a coordinator their schools and
their sum (a person belongs to one school, so the rows add up). Teachers see no
articles' figures. A coordinator sees the articles whose audience reaches one of their
schools; any other is refused as not in reach.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.application.dashboard import WebRights
from bot.application.publicity import schools_on_offer
from quizzes.publicity import Article
from quizzes.statistics import rate
from quizzes.units import Unit
from storage.unit_of_work import UnitOfWork

__all__ = [
    "ArticleReach",
    "ReachRefusal",
    "SchoolReach",
    "article_reach",
    "articles_in_reach",
    "publicity_in_reach",
]

SHOWN = 12  # articles on the list, latest first
LOOKED_AT = 60  # the latest articles a coordinator's are picked from


class ReachRefusal(StrEnum):
    NOT_STAFF = "not_staff"
    NOT_IN_REACH = "not_in_reach"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class SchoolReach:
    """An article's reach in one school (``school_id`` None: the total), people counted
    once each."""

    school_id: int | None
    name: str
    delivered: int
    read: int
    clicked: int
    blocked: int
    unsubscribed: int

    @property
    def read_rate(self) -> float | None:
        return rate(self.read, self.delivered)

    @property
    def click_rate(self) -> float | None:
        return rate(self.clicked, self.delivered)


@dataclass(frozen=True, slots=True)
class ArticleReach:
    article: Article
    schools: tuple[SchoolReach, ...]  # the viewer's schools the article reached, by name
    total: SchoolReach  # everyone (an admin), or the viewer's schools added up


def _reaches(article: Article, units: list[Unit], school: Unit) -> bool:
    """Whether the article's audience takes in some of ``school`` (everyone, the school's
    regiment, the school, or one of its classes)."""
    if not article.audience.unit_ids:
        return True
    return any(unit.contains(school) or school.contains(unit) for unit in units)


async def _audience(uow: UnitOfWork, article: Article) -> list[Unit]:
    return list((await uow.units.by_ids(article.audience.unit_ids)).values())


_FIGURES = ("delivered", "read", "clicked", "blocked", "unsubscribed")


async def _reach(
    uow: UnitOfWork, article: Article, schools: list[Unit], *, everyone: bool, total_name: str
) -> ArticleReach:
    """The article's figures in each of ``schools`` that its audience takes in or that it
    reached (people move), in the order given; the total over everyone for an admin."""
    figures = {
        figure.school_id: figure for figure in await uow.publicity.figures_by_school(article.id)
    }
    lost = await uow.article_reach.lost_by_school(article)
    audience = await _audience(uow, article)

    def row(school_id: int | None, name: str) -> SchoolReach:
        figure = figures.get(school_id)
        delivered, read, clicked = (
            (figure.delivered, figure.read, figure.clicked) if figure else (0, 0, 0)
        )
        return SchoolReach(school_id, name, delivered, read, clicked, *lost.get(school_id, (0, 0)))

    rows = tuple(
        row(school.id, school.name)
        for school in schools
        if school.id in figures or school.id in lost or _reaches(article, audience, school)
    )
    if everyone:
        total = row(None, total_name)  # /stats article's total over everyone
    else:
        sums = [sum(getattr(r, key) for r in rows) for key in _FIGURES]
        total = SchoolReach(None, total_name, *sums)
    return ArticleReach(article, rows, total)


def _in_reach(article: Article, audience: list[Unit], schools: list[Unit]) -> bool:
    return any(_reaches(article, audience, school) for school in schools)


async def _schools(uow: UnitOfWork, rights: WebRights) -> list[Unit] | ReachRefusal:
    if not rights.permissions.is_staff:
        return ReachRefusal.NOT_STAFF
    return await schools_on_offer(uow, rights.permissions)


async def articles_in_reach(
    uow: UnitOfWork, rights: WebRights, *, total_name: str
) -> list[ArticleReach] | ReachRefusal:
    """The latest publicity articles the viewer may see, each with its reach."""
    schools = await _schools(uow, rights)
    if isinstance(schools, ReachRefusal):
        await uow.commit()
        return schools
    everyone = rights.permissions.is_admin
    found: list[ArticleReach] = []
    for article in await uow.article_reach.recent(SHOWN if everyone else LOOKED_AT):
        if len(found) == SHOWN:
            break
        if everyone or _in_reach(article, await _audience(uow, article), schools):
            found.append(
                await _reach(uow, article, schools, everyone=everyone, total_name=total_name)
            )
    await uow.commit()
    return found


async def publicity_in_reach(
    uow: UnitOfWork, rights: WebRights, article_id: int
) -> tuple[Article, list[Unit]] | ReachRefusal:
    """The publicity article and the viewer's schools, or why the viewer may not see it
    (leaves the transaction open)."""
    schools = await _schools(uow, rights)
    if isinstance(schools, ReachRefusal):
        return schools
    article = await uow.article_reach.publicity(article_id)
    if article is None:
        return ReachRefusal.UNKNOWN
    everyone = rights.permissions.is_admin
    if not everyone and not _in_reach(article, await _audience(uow, article), schools):
        return ReachRefusal.NOT_IN_REACH
    return article, schools


async def article_reach(
    uow: UnitOfWork, rights: WebRights, article_id: int, *, total_name: str
) -> ArticleReach | ReachRefusal:
    """One article's reach per school of the viewer, or why not."""
    found = await publicity_in_reach(uow, rights, article_id)
    if isinstance(found, ReachRefusal):
        await uow.commit()
        return found
    article, schools = found
    everyone = rights.permissions.is_admin
    reach = await _reach(uow, article, schools, everyone=everyone, total_name=total_name)
    await uow.commit()
    return reach
