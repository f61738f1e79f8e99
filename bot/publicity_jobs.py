"""Scheduled articles go out on time: jobs planned from the articles table.

The planner schedules one job per scheduled article at its ``publish_at``; the job flips
the article to published and writes its deliveries in one transaction, so a job that runs
twice, late, or in two processes publishes once. The broadcaster (in whichever process)
picks the new broadcast up within a second. Should a job be lost (a crash during the run),
the broadcaster's own loop publishes the article a minute late instead of never.
"""

from __future__ import annotations

import logging

from bot.scheduler import Scheduler
from bot.services import ServiceContext
from storage.models import utcnow
from storage.publicity import PublicityRepository

log = logging.getLogger(__name__)


def job_id(article_id: int) -> str:
    return f"article-{article_id}-publish"


async def plan_articles(scheduler: Scheduler) -> None:
    async with scheduler.session_factory() as session:
        articles = await PublicityRepository(session).scheduled_articles()
    for article in articles:
        if article.publish_at is not None:
            scheduler.at(
                job_id(article.id), article.publish_at, publish_article, article_id=article.id
            )


async def publish_article(context: ServiceContext, article_id: int) -> None:
    async with context.session_factory() as session:
        repo = PublicityRepository(session)
        now = utcnow()
        started = await repo.publish_due(
            now,
            context.settings.default_locale,
            article_id=article_id,
            channel=context.settings.publicity_channel,
        )
        await repo.commit()
    for broadcast in started:
        log.info("article %s published: broadcast %s", article_id, broadcast.id)
