"""Publicity's use cases: articles composed for an audience their poster may reach,
published now or scheduled, read, reopened, sent late when missed, and their figures.

The chat's /post dialogue, /articles, the "read" button and ``/stats article ID`` call
these; so can the staff dashboard. Who may address whom (admins anyone, a coordinator
the units inside their schools) is decided here, from :mod:`quizzes.publicity`'s rules,
not by the door. Sending itself is the broadcaster's: a use case that publishes writes
the article and returns, and the door hands the article to the broadcaster or the
scheduler.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from quizzes.ordering import by_name
from quizzes.permissions import Permissions
from quizzes.publicity import (
    Article,
    ArticleStatus,
    Audience,
    AudienceError,
    AudienceProblem,
    SchoolFigures,
    check_audience,
    may_send_missed,
)
from quizzes.themes import Theme
from quizzes.units import Unit, UnitKind
from storage.unit_of_work import UnitOfWork

# ---------------------------------------------------------------------- who may


def may_compose(viewer: Permissions) -> bool:
    """Staff compose articles (for the audience :func:`audience_problem` allows)."""
    return viewer.is_staff


def may_address_everyone(viewer: Permissions) -> bool:
    """Everyone, and the regiments, are the bureau's to address."""
    return viewer.is_admin


def may_see_figures(viewer: Permissions) -> bool:
    """An article's or a lecture's figures are the bureau's."""
    return viewer.is_admin


def may_use_channel(viewer: Permissions, channel: str | None) -> bool:
    """The channel speaks for the bureau: admins may post there, when there is one."""
    return viewer.is_admin and channel is not None


# ---------------------------------------------------------------------- reading


class Reading(StrEnum):
    """What pressing "read" did."""

    UNKNOWN = "unknown"  # no such article (any more)
    FIRST = "first"
    AGAIN = "again"


async def mark_read(
    uow: UnitOfWork, article_id: int, participant_id: int, *, now: datetime
) -> Reading:
    """Count a participant's reading of an article, once."""
    if await uow.publicity.article(article_id) is None:
        return Reading.UNKNOWN
    first = await uow.publicity.mark_read(article_id, participant_id, now)
    await uow.commit()
    return Reading.FIRST if first else Reading.AGAIN


async def articles_of(uow: UnitOfWork, participant_id: int) -> list[Article]:
    """The latest articles a participant was sent, newest first (/articles)."""
    return await uow.publicity.recent_for(participant_id)


async def article_for(uow: UnitOfWork, article_id: int, participant_id: int) -> Article | None:
    """An article to show a participant again: only one of the latest they were sent."""
    mine = {a.id: a for a in await uow.publicity.recent_for(participant_id, limit=50)}
    return mine.get(article_id)


# ---------------------------------------------------------------------- missed


class MissedRefusal(StrEnum):
    GONE = "gone"  # not missed (any more): sent, or no such article
    NOT_ALLOWED = "not_allowed"


async def missed_article_to_send(
    uow: UnitOfWork, article_id: int, *, telegram_id: int, viewer: Permissions
) -> Article | MissedRefusal:
    """A missed article that this person may send late now (its author while they may
    still address its audience, or an admin). The read is over when it returns, so no
    transaction is held while the broadcast is written and sent."""
    article = await uow.publicity.article(article_id)
    if article is None or article.status is not ArticleStatus.MISSED:
        return MissedRefusal.GONE
    units = await uow.units.by_ids(article.audience.unit_ids)
    await uow.commit()
    if not may_send_missed(article, telegram_id, viewer, units):
        return MissedRefusal.NOT_ALLOWED
    return article


# ---------------------------------------------------------------------- figures


class FiguresRefusal(StrEnum):
    NOT_ALLOWED = "not_allowed"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class ArticleFigures:
    """An article's reach per school (and in total), and its channel post's clicks
    (``None``: it was not posted to the channel)."""

    article: Article
    by_school: list[SchoolFigures]
    channel_clicks: int | None


async def article_figures(
    uow: UnitOfWork, article_id: int, *, viewer: Permissions
) -> ArticleFigures | FiguresRefusal:
    if not may_see_figures(viewer):
        return FiguresRefusal.NOT_ALLOWED
    article = await uow.publicity.article(article_id)
    if article is None:
        return FiguresRefusal.UNKNOWN
    by_school = await uow.publicity.figures_by_school(article.id)
    return ArticleFigures(article, by_school, await uow.publicity.channel_clicks(article.id))


# ---------------------------------------------------------------------- the audience


@dataclass(frozen=True, slots=True)
class AudienceOffer:
    """What the first audience question offers: everyone and regiments (admins), and
    for a coordinator of exactly one school that school whole, by its label."""

    everyone: bool
    own_school: Unit | None
    own_label: str | None


async def schools_on_offer(uow: UnitOfWork, viewer: Permissions) -> list[Unit]:
    """The schools these permissions may address (every one for an admin), by name."""
    schools = await uow.units.of_kind(UnitKind.SCHOOL)
    return by_name(s for s in schools if viewer.may_manage(s))


async def regiments_on_offer(uow: UnitOfWork, viewer: Permissions) -> list[Unit]:
    """Regiments are the bureau's to address: none for anyone else."""
    if not may_address_everyone(viewer):
        return []
    return by_name(await uow.units.of_kind(UnitKind.REGIMENT))


async def classes_on_offer(uow: UnitOfWork, viewer: Permissions, school_id: object) -> list[Unit]:
    """The classes of a school these permissions may address; none for any other."""
    if not isinstance(school_id, int):
        return []
    school = await uow.units.get(school_id)
    if school is None or school.kind is not UnitKind.SCHOOL or not viewer.may_manage(school):
        return []
    children = await uow.units.children(school.id)
    return by_name(u for u in children if u.kind is UnitKind.CLASS)


async def own_school(uow: UnitOfWork, viewer: Permissions) -> Unit | None:
    """The school of a coordinator who coordinates exactly one (None for admins)."""
    if viewer.is_admin:
        return None
    schools = await schools_on_offer(uow, viewer)
    return schools[0] if len(schools) == 1 else None


async def audience_offer(uow: UnitOfWork, viewer: Permissions) -> AudienceOffer:
    own = await own_school(uow, viewer)
    label = await uow.units.display_label(own) if own else None
    return AudienceOffer(may_address_everyone(viewer), own, label)


class UnitRefusal(StrEnum):
    """Why a unit pressed is not on offer."""

    OUTSIDE = "outside"  # someone else's school (a forged button)
    STALE = "stale"  # gone, or no longer among the choices


async def unit_refusal(uow: UnitOfWork, unit_id: int, viewer: Permissions) -> UnitRefusal:
    unit = await uow.units.get(unit_id)
    if unit is not None and not viewer.may_manage(unit):
        return UnitRefusal.OUTSIDE
    return UnitRefusal.STALE


async def unit_labels(uow: UnitOfWork, units: Iterable[Unit]) -> dict[int, str]:
    """Units' names told apart (two 中心小学 after their regiments), to show them."""
    return await uow.units.display_labels(units)


async def unit_label(uow: UnitOfWork, unit_id: int) -> str:
    """A unit's name told apart; empty when there is no such unit."""
    unit = await uow.units.get(unit_id)
    return await uow.units.display_label(unit) if unit else ""


async def audience_labels(uow: UnitOfWork, audience: Audience) -> list[str]:
    """The labels of an audience's units, by id (units gone since are left out)."""
    labels = []
    for unit_id in sorted(audience.unit_ids):
        unit = await uow.units.get(unit_id)
        if unit is not None:
            labels.append(await uow.units.display_label(unit))
    return labels


async def audience_problem(
    uow: UnitOfWork, audience: Audience, viewer: Permissions
) -> AudienceProblem | None:
    """Why these permissions may not address ``audience``, or ``None`` when they may."""
    units: dict[int, Unit] = {}
    for unit_id in audience.unit_ids:
        unit = await uow.units.get(unit_id)
        if unit is not None:
            units[unit_id] = unit
    try:
        check_audience(viewer, audience, units)
    except AudienceError as error:
        return error.problem
    return None


@dataclass(frozen=True, slots=True)
class AudienceSummary:
    """Who an article or a lecture would reach: how many people, in which units."""

    count: int
    labels: list[str]


async def audience_summary(
    uow: UnitOfWork, audience: Audience, *, viewer: Permissions
) -> AudienceSummary | AudienceProblem:
    """The audience to confirm, once these permissions are known to reach it."""
    problem = await audience_problem(uow, audience, viewer)
    if problem is not None:
        return problem
    count = await uow.publicity.count_audience(audience)
    return AudienceSummary(count, await audience_labels(uow, audience))


# ---------------------------------------------------------------------- composing


async def create_draft(
    uow: UnitOfWork,
    *,
    title: str,
    body: str,
    link: str | None,
    photo_file_id: str | None,
    photo_bytes: bytes | None,
    author_id: int,
    viewer: Permissions,
    theme: Theme | None = None,
) -> Article | None:
    """Store a post as a draft to preview (``None``: these permissions may not post);
    ``theme``: what it is about (default 其他), as the report counts it."""
    if not may_compose(viewer):
        return None
    article = await uow.publicity.create_article(
        title=title,
        body=body,
        author_id=author_id,
        link=link,
        photo_file_id=photo_file_id,
        photo_bytes=photo_bytes,
        theme=theme or Theme.OTHER,
    )
    await uow.commit()
    return article


async def keep_photo_file_id(uow: UnitOfWork, article_id: int, file_id: str) -> None:
    """The id Telegram gave the picture uploaded with the preview: recipients get it by
    that id (a first one is kept)."""
    await uow.publicity.set_photo_file_id(article_id, file_id)
    await uow.commit()


async def draft_exists(uow: UnitOfWork, article_id: int) -> bool:
    """Whether there is (still) an article to send a test of."""
    return await uow.publicity.article(article_id) is not None


class PublishRefusal(StrEnum):
    ALREADY = "already"  # not a draft any more: published, scheduled, or gone
    PAST_TIME = "past_time"  # the time chosen passed while the poster confirmed


@dataclass(frozen=True, slots=True)
class Publication:
    """An article ready to go: to the broadcaster now (``when`` None), or scheduled."""

    article_id: int
    when: datetime | None
    to_channel: bool


async def publish_draft(
    uow: UnitOfWork,
    article_id: int,
    audience: Audience,
    *,
    viewer: Permissions,
    when: datetime | None,
    to_channel: bool,
    channel: str | None,
    now: datetime,
) -> Publication | PublishRefusal | AudienceProblem:
    """Give a draft its audience and time (the channel too, when these permissions may
    use the configured ``channel``); the caller starts its broadcast or its job."""
    problem = await audience_problem(uow, audience, viewer)
    if problem is not None:
        return problem
    article = await uow.publicity.article(article_id)
    if article is None or article.status is not ArticleStatus.DRAFT:
        return PublishRefusal.ALREADY
    to_channel = to_channel and may_use_channel(viewer, channel)
    if when is not None and when <= now:
        return PublishRefusal.PAST_TIME
    if when is not None:
        await uow.publicity.update_article(
            article_id,
            audience=audience,
            publish_at=when,
            status=ArticleStatus.SCHEDULED,
            to_channel=to_channel,
        )
    else:
        await uow.publicity.update_article(article_id, audience=audience, to_channel=to_channel)
    await uow.commit()
    return Publication(article_id, when, to_channel)
