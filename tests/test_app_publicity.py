"""Publicity's use cases on both databases: whom a poster may address, publishing a draft
now or later, reading, figures and missed articles, with their refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.application import UnitOfWork
from bot.application.publicity import (
    ArticleFigures,
    AudienceSummary,
    FiguresRefusal,
    MissedRefusal,
    Publication,
    PublishRefusal,
    Reading,
    UnitRefusal,
    article_figures,
    article_for,
    articles_of,
    audience_offer,
    audience_summary,
    classes_on_offer,
    create_draft,
    mark_read,
    missed_article_to_send,
    own_school,
    publish_draft,
    regiments_on_offer,
    schools_on_offer,
    unit_refusal,
)
from quizzes.participants import Role
from quizzes.permissions import Permissions
from quizzes.publicity import Article, ArticleStatus, Audience, AudienceProblem
from storage.models_publicity import DeliveryRow
from storage.publicity import PublicityRepository
from tests.factories import World, build_world
from tests.publicity_factories import add_people, make_article

NOW = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)
ADMIN = Permissions(is_admin=True)
NOBODY = Permissions()
FIRST = "胡杨河市第一中学"
OTHER = "一三一团中学"
CHANNEL = "@pufa"


@pytest.fixture
async def world(session_factory: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(session_factory)


@pytest.fixture
async def uow(
    session_factory: async_sessionmaker[AsyncSession], world: World
) -> AsyncIterator[UnitOfWork]:
    async with session_factory() as session:
        yield UnitOfWork.over(session)


def coordinator(world: World, school: str = FIRST) -> Permissions:
    return Permissions(coordinator_of=frozenset({world.schools[school].id}))


async def stored(session_factory: async_sessionmaker[AsyncSession], article_id: int) -> Article:
    """The article as committed (read in a session of its own)."""
    async with session_factory() as session:
        article = await PublicityRepository(session).article(article_id)
    assert article is not None
    return article


# ---------------------------------------------------------------------- the audience


async def test_a_coordinator_is_offered_only_their_own_school_and_its_classes(
    uow: UnitOfWork, world: World
) -> None:
    mine = coordinator(world)
    first, other = world.schools[FIRST], world.schools[OTHER]
    assert [s.id for s in await schools_on_offer(uow, mine)] == [first.id]
    assert await regiments_on_offer(uow, mine) == []
    assert {c.name for c in await classes_on_offer(uow, mine, first.id)} == {
        "七年级1班",
        "七年级2班",
    }
    assert await classes_on_offer(uow, mine, other.id) == []
    assert await classes_on_offer(uow, mine, str(first.id)) == []  # not an id: nothing
    assert (await own_school(uow, mine)) == first
    offer = await audience_offer(uow, mine)
    assert not offer.everyone
    assert offer.own_school == first
    assert offer.own_label


async def test_an_admin_is_offered_everyone_every_regiment_and_every_school(
    uow: UnitOfWork, world: World
) -> None:
    assert len(await schools_on_offer(uow, ADMIN)) == len(world.schools)
    assert len(await regiments_on_offer(uow, ADMIN)) == 3
    assert await own_school(uow, ADMIN) is None
    offer = await audience_offer(uow, ADMIN)
    assert offer.everyone and offer.own_school is None and offer.own_label is None


async def test_a_unit_not_on_offer_is_someone_elses_or_stale(
    uow: UnitOfWork, world: World
) -> None:
    mine = coordinator(world)
    assert await unit_refusal(uow, world.schools[OTHER].id, mine) is UnitRefusal.OUTSIDE
    assert await unit_refusal(uow, 999_999, mine) is UnitRefusal.STALE
    assert await unit_refusal(uow, world.classes["七年级1班"].id, mine) is UnitRefusal.STALE


async def test_the_audience_summary_refuses_what_the_poster_may_not_reach(
    uow: UnitOfWork, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    first = world.schools[FIRST]
    await add_people(session_factory, [101, 102], world.classes["七年级1班"].id)
    await add_people(session_factory, [103], world.schools[OTHER].id, "teacher")
    mine = coordinator(world)
    own = Audience(frozenset({first.id}))
    summary = await audience_summary(uow, own, viewer=mine)
    assert isinstance(summary, AudienceSummary)
    assert summary.count == 2 and len(summary.labels) == 1
    everyone = await audience_summary(uow, Audience(), viewer=ADMIN)
    assert isinstance(everyone, AudienceSummary) and everyone.count == 3
    assert everyone.labels == []
    other = Audience(frozenset({world.schools[OTHER].id}))
    assert await audience_summary(uow, other, viewer=mine) is AudienceProblem.OUTSIDE_SCHOOL
    assert (
        await audience_summary(uow, Audience(), viewer=mine) is AudienceProblem.EVERYONE_ADMIN_ONLY
    )
    assert await audience_summary(uow, own, viewer=NOBODY) is AudienceProblem.NOT_STAFF
    gone = Audience(frozenset({999_999}))
    assert await audience_summary(uow, gone, viewer=ADMIN) is AudienceProblem.UNKNOWN_UNIT


# ---------------------------------------------------------------------- composing


async def draft(uow: UnitOfWork, viewer: Permissions = ADMIN) -> Article:
    article = await create_draft(
        uow,
        title="宪法宣传周",
        body="学习宪法",
        link=None,
        photo_file_id=None,
        photo_bytes=None,
        author_id=7,
        viewer=viewer,
    )
    assert article is not None
    return article


async def test_only_staff_write_drafts(
    uow: UnitOfWork, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    refused = await create_draft(
        uow,
        title="t",
        body="b",
        link=None,
        photo_file_id=None,
        photo_bytes=None,
        author_id=7,
        viewer=NOBODY,
    )
    assert refused is None
    article = await draft(uow, coordinator(world))
    assert (await stored(session_factory, article.id)).status is ArticleStatus.DRAFT


async def test_publishing_now_gives_the_draft_its_audience_and_the_channel_only_for_admins(
    uow: UnitOfWork, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    own = Audience(frozenset({world.schools[FIRST].id}), frozenset({Role.TEACHER}))
    mine = await draft(uow, coordinator(world))
    published = await publish_draft(
        uow,
        mine.id,
        own,
        viewer=coordinator(world),
        when=None,
        to_channel=True,
        channel=CHANNEL,
        now=NOW,
    )
    assert published == Publication(mine.id, None, False)  # the channel is the bureau's
    saved = await stored(session_factory, mine.id)
    assert saved.audience == own and not saved.to_channel
    ours = await draft(uow)
    published = await publish_draft(
        uow,
        ours.id,
        Audience(),
        viewer=ADMIN,
        when=None,
        to_channel=True,
        channel=CHANNEL,
        now=NOW,
    )
    assert published == Publication(ours.id, None, True)
    assert (await stored(session_factory, ours.id)).to_channel
    no_channel = await draft(uow)
    published = await publish_draft(
        uow,
        no_channel.id,
        Audience(),
        viewer=ADMIN,
        when=None,
        to_channel=True,
        channel=None,
        now=NOW,
    )
    assert published == Publication(no_channel.id, None, False)


async def test_publishing_later_schedules_it_unless_the_time_has_passed(
    uow: UnitOfWork, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    article = await draft(uow)
    past = await publish_draft(
        uow,
        article.id,
        Audience(),
        viewer=ADMIN,
        when=NOW,
        to_channel=False,
        channel=None,
        now=NOW,
    )
    assert past is PublishRefusal.PAST_TIME
    assert (await stored(session_factory, article.id)).status is ArticleStatus.DRAFT
    later = NOW + timedelta(hours=2)
    published = await publish_draft(
        uow,
        article.id,
        Audience(),
        viewer=ADMIN,
        when=later,
        to_channel=False,
        channel=None,
        now=NOW,
    )
    assert published == Publication(article.id, later, False)
    saved = await stored(session_factory, article.id)
    assert saved.status is ArticleStatus.SCHEDULED and saved.publish_at == later
    again = await publish_draft(
        uow,
        article.id,
        Audience(),
        viewer=ADMIN,
        when=None,
        to_channel=False,
        channel=None,
        now=NOW,
    )
    assert again is PublishRefusal.ALREADY


async def test_a_coordinator_may_not_publish_outside_their_school(
    uow: UnitOfWork, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    article = await draft(uow, coordinator(world))
    outside = Audience(frozenset({world.schools[OTHER].id}))
    refused = await publish_draft(
        uow,
        article.id,
        outside,
        viewer=coordinator(world),
        when=None,
        to_channel=False,
        channel=None,
        now=NOW,
    )
    assert refused is AudienceProblem.OUTSIDE_SCHOOL
    assert (await stored(session_factory, article.id)).audience == Audience()


# ---------------------------------------------------------------------- reading


async def participant_id(uow: UnitOfWork, telegram_id: int) -> int:
    participant = await uow.participants.by_telegram_id(telegram_id)
    assert participant is not None
    return participant.id


async def test_reading_counts_once_and_a_gone_article_is_stale(
    uow: UnitOfWork, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await add_people(session_factory, [201], world.classes["七年级1班"].id)
    reader = await participant_id(uow, 201)
    article = await make_article(session_factory)
    assert await mark_read(uow, 999_999, reader, now=NOW) is Reading.UNKNOWN
    assert await mark_read(uow, article.id, reader, now=NOW) is Reading.FIRST
    assert await mark_read(uow, article.id, reader, now=NOW) is Reading.AGAIN


async def test_an_article_is_shown_again_only_to_whom_it_was_sent(
    uow: UnitOfWork, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await add_people(session_factory, [301], world.classes["七年级1班"].id)
    await add_people(session_factory, [302], world.schools[OTHER].id, "teacher")
    sent_to, left_out = await participant_id(uow, 301), await participant_id(uow, 302)
    article = await make_article(
        session_factory, audience=Audience(frozenset({world.schools[FIRST].id}))
    )
    async with session_factory() as session:
        publicity = PublicityRepository(session)
        await publicity.start_broadcast(
            article.id, created_by=1, locale="zh-CN", progress_chat_id=None
        )
        await session.execute(update(DeliveryRow).values(status="sent", sent_at=NOW))
        await session.commit()
    assert [a.id for a in await articles_of(uow, sent_to)] == [article.id]
    shown = await article_for(uow, article.id, sent_to)
    assert shown is not None and shown.id == article.id
    assert await articles_of(uow, left_out) == []
    assert await article_for(uow, article.id, left_out) is None


# ---------------------------------------------------------------------- figures, missed


async def test_an_articles_figures_are_the_bureaus(
    uow: UnitOfWork, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    article = await make_article(session_factory)
    refused = await article_figures(uow, article.id, viewer=coordinator(world))
    assert refused is FiguresRefusal.NOT_ALLOWED
    assert await article_figures(uow, 999_999, viewer=ADMIN) is FiguresRefusal.UNKNOWN
    figures = await article_figures(uow, article.id, viewer=ADMIN)
    assert isinstance(figures, ArticleFigures)
    assert figures.article.id == article.id and figures.channel_clicks is None


async def missed(
    session_factory: async_sessionmaker[AsyncSession], audience: Audience, author_id: int
) -> Article:
    article = await make_article(session_factory, audience=audience, author_id=author_id)
    async with session_factory() as session:
        await PublicityRepository(session).update_article(article.id, status=ArticleStatus.MISSED)
        await session.commit()
    return article


async def test_a_missed_article_is_sent_late_by_its_author_or_an_admin(
    uow: UnitOfWork, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    author, stranger = 41, 42
    own = Audience(frozenset({world.schools[FIRST].id}))
    article = await missed(session_factory, own, author)
    mine = coordinator(world)
    found = await missed_article_to_send(uow, article.id, telegram_id=author, viewer=mine)
    assert isinstance(found, Article) and found.id == article.id
    refused = await missed_article_to_send(uow, article.id, telegram_id=stranger, viewer=mine)
    assert refused is MissedRefusal.NOT_ALLOWED
    elsewhere = coordinator(world, OTHER)  # the author, no longer reaching the audience
    revoked = await missed_article_to_send(uow, article.id, telegram_id=author, viewer=elsewhere)
    assert revoked is MissedRefusal.NOT_ALLOWED
    admin = await missed_article_to_send(uow, article.id, telegram_id=stranger, viewer=ADMIN)
    assert isinstance(admin, Article)
    not_missed = await make_article(session_factory, author_id=author)
    gone = await missed_article_to_send(uow, not_missed.id, telegram_id=author, viewer=ADMIN)
    assert gone is MissedRefusal.GONE
