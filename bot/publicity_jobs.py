"""Scheduled articles go out on time: jobs planned from the articles table.

The planner schedules one job per scheduled article at its ``publish_at``; the job flips
the article to published and writes its deliveries in one transaction, so a job that runs
twice, late, or in two processes publishes once. The broadcaster (in whichever process)
picks the new broadcast up within a second. Should a job be lost (a crash during the run),
the broadcaster's own loop publishes the article a minute late instead of never.

One rule for an article found overdue, whichever path finds it (the planner at start-up
or on a re-plan, the job, the broadcaster's loop): within ``PUFA_SCHEDULER_GRACE_S`` it
is sent; beyond it, it is not sent but marked missed, its author is told in chat (with a
button to send it now) and ``pufa jobs`` lists it; ``pufa article send ID`` sends it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.i18n import Translator
from bot.scheduler import Scheduler
from bot.services import ServiceContext
from bot.views.publicity import missed_keyboard
from quizzes.publicity import TIME_FORMAT, Article, Broadcast
from storage.models import utcnow
from storage.publicity import PublicityRepository
from storage.repositories import ParticipantRepository

log = logging.getLogger(__name__)


def job_id(article_id: int) -> str:
    return f"article-{article_id}-publish"


def grace_of(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.scheduler_grace_s)


async def plan_articles(scheduler: Scheduler) -> None:
    context = scheduler.context
    now = scheduler.now()
    if scheduler.running:  # not when only listing the plan (`pufa jobs`)
        await publish_or_miss(
            context.session_factory,
            context.bot,
            context.translator,
            context.settings,
            now,
            grace=scheduler.grace,
            publish=False,  # the jobs planned below publish the rest on time
        )
    async with scheduler.session_factory() as session:
        articles = await PublicityRepository(session).scheduled_articles()
    for article in articles:
        if article.publish_at is not None and now - article.publish_at <= scheduler.grace:
            scheduler.at(
                job_id(article.id), article.publish_at, publish_article, article_id=article.id
            )


async def publish_article(context: ServiceContext, article_id: int) -> None:
    started = await publish_or_miss(
        context.session_factory,
        context.bot,
        context.translator,
        context.settings,
        utcnow(),
        grace=grace_of(context.settings),
        article_id=article_id,
    )
    for broadcast in started:
        log.info("article %s published: broadcast %s", article_id, broadcast.id)


async def publish_or_miss(
    session_factory: async_sessionmaker[AsyncSession],
    bot: Bot,
    translator: Translator,
    settings: Settings,
    now: datetime,
    *,
    grace: timedelta,
    due_before: datetime | None = None,
    article_id: int | None = None,
    publish: bool = True,
) -> list[Broadcast]:
    """The rule for due articles: those due by ``due_before`` (``now``) within ``grace``
    are published (unless ``publish`` is false); those beyond it are marked missed and
    their authors told. Returns the broadcasts started."""
    started: list[Broadcast] = []
    async with session_factory() as session:
        repo = PublicityRepository(session)
        missed = await repo.miss_overdue(now, grace, article_id=article_id)
        if publish:
            started = await repo.publish_due(
                now,
                settings.default_locale,
                grace=grace,
                due_before=due_before,
                article_id=article_id,
                channel=settings.publicity_channel,
            )
        await repo.commit()
    if missed:
        await tell_missed(session_factory, bot, translator, settings, missed, now, grace)
    return started


async def tell_missed(
    session_factory: async_sessionmaker[AsyncSession],
    bot: Bot,
    translator: Translator,
    settings: Settings,
    articles: Sequence[Article],
    now: datetime,
    grace: timedelta,
) -> None:
    """Tell each missed article's author, in their language, with a "send now" button."""
    for article in articles:
        due = article.publish_at or now
        log.warning(
            "article %d was due %s, beyond the grace of %s: not sent (missed)",
            article.id,
            due,
            grace,
        )
        if not article.author_id:
            continue  # from the command line without --author: `pufa jobs` lists it
        async with session_factory() as session:
            author = await ParticipantRepository(session).by_telegram_id(article.author_id)
        _ = translator.bind(author.locale if author else settings.default_locale)
        text = _(
            "publicity.missed.notice",
            title=article.title,
            when=due.astimezone(settings.zone).strftime(TIME_FORMAT),
            hours=f"{grace.total_seconds() / 3600:g}",
            id=article.id,
        )
        try:
            await bot.send_message(
                article.author_id, text, reply_markup=missed_keyboard(article.id, _)
            )
        except TelegramAPIError as error:
            log.warning("article %d: could not tell its author: %s", article.id, error)
