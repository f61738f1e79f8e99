"""Tracked links: ``GET /r/<token>`` records who clicked an article's link, then redirects.

The token names the article and the participant and is signed with the article's own
secret (:func:`quizzes.publicity.link_token`), so a guessed or edited token is a 404 and
no token table is needed. The first click per participant counts as a unique click,
later ones only raise ``clicks``. The link of a channel post names no participant (its
readers are not known to the bot): its clicks are only counted, per article. A click
that cannot be recorded still redirects.
"""

from __future__ import annotations

import logging

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from quizzes.publicity import CHANNEL_PARTICIPANT, parse_link_token, verify_link_token
from storage.models import utcnow
from storage.publicity import PublicityRepository

log = logging.getLogger(__name__)

SESSION_FACTORY = web.AppKey("publicity_session_factory", async_sessionmaker[AsyncSession])
LINK_ROUTE = "/r/{token}"


async def follow_link(request: web.Request) -> web.StreamResponse:
    token = request.match_info["token"]
    parsed = parse_link_token(token)
    if parsed is None:
        raise web.HTTPNotFound(text="unknown link")
    article_id, participant_id, signature = parsed
    session_factory = request.app[SESSION_FACTORY]
    async with session_factory() as session:
        repo = PublicityRepository(session)
        article = await repo.article(article_id)
        if (
            article is None
            or not article.link
            or not verify_link_token(article.link_secret, article_id, participant_id, signature)
        ):
            raise web.HTTPNotFound(text="unknown link")
        if request.method == "GET":
            try:
                if participant_id == CHANNEL_PARTICIPANT:
                    await repo.record_channel_click(article_id)
                elif await repo.participant_exists(participant_id):
                    await repo.record_click(article_id, participant_id, token, utcnow())
                await repo.commit()
            except Exception:
                log.exception("click on article %s not recorded", article_id)
                await session.rollback()
    raise web.HTTPFound(article.link)


def add_publicity_routes(
    app: web.Application, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    app[SESSION_FACTORY] = session_factory
    app.router.add_get(LINK_ROUTE, follow_link)
