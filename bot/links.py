"""Tracked links: ``GET /r/<token>`` records who clicked an article's link, then redirects.

The token names the article and the participant and is signed with the article's own
secret (:func:`quizzes.publicity.link_token`), so a guessed or edited token is a 404 and
no token table is needed. The first click per participant counts as a unique click,
later ones only raise ``clicks``. The link of a channel post names no participant (its
readers are not known to the bot): its clicks are only counted, per article. A click
that cannot be recorded still redirects.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Hashable

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.log_limits import LogLimit, left_out_note
from quizzes.publicity import CHANNEL_PARTICIPANT, parse_link_token, verify_link_token
from storage.models import utcnow
from storage.publicity import PublicityRepository

log = logging.getLogger(__name__)

SESSION_FACTORY = web.AppKey("publicity_session_factory", async_sessionmaker[AsyncSession])
LINK_ROUTE = "/r/{token}"
# What link_token() writes, in ASCII only: ``str.isdigit`` and ``int`` also take "²" and
# other scripts' digits, and a signature that is not ASCII cannot even be compared.
TOKEN_PATTERN = re.compile(r"[0-9]{1,18}\.[0-9]{1,18}\.[A-Za-z0-9_-]{16}", re.ASCII)

# One line a minute per kind of bad request (or failure), however many arrive.
LOG_LIMIT = web.AppKey("publicity_log_limit", LogLimit)


def _note(
    request: web.Request,
    kind: Hashable,
    level: int,
    message: str,
    *args: object,
    exc_info: bool = False,
) -> None:
    if (left_out := request.app[LOG_LIMIT].allow(kind)) is not None:
        log.log(level, message + left_out_note(left_out), *args, exc_info=exc_info)


async def follow_link(request: web.Request) -> web.StreamResponse:
    token = request.match_info["token"]
    parsed = parse_link_token(token) if TOKEN_PATTERN.fullmatch(token) else None
    if parsed is None:
        _note(request, "malformed", logging.INFO, "tracked link: malformed token refused")
        raise web.HTTPNotFound(text="unknown link")
    article_id, participant_id, signature = parsed
    session_factory = request.app[SESSION_FACTORY]
    async with session_factory() as session:
        repo = PublicityRepository(session)
        try:
            article = await repo.article(article_id)
        except Exception as error:  # the database is down: say so, once a minute
            _note(
                request,
                ("database", type(error)),
                logging.ERROR,
                "tracked link: database not readable",
                exc_info=True,
            )
            raise web.HTTPServiceUnavailable(text="try again later") from None
        if (
            article is None
            or not article.link
            or not verify_link_token(article.link_secret, article_id, participant_id, signature)
        ):
            _note(
                request, "unknown", logging.INFO, "tracked link: unknown or wrongly signed token"
            )
            raise web.HTTPNotFound(text="unknown link")
        if request.method == "GET":
            try:
                if participant_id == CHANNEL_PARTICIPANT:
                    await repo.record_channel_click(article_id)
                elif await repo.participant_exists(participant_id):
                    await repo.record_click(article_id, participant_id, token, utcnow())
                await repo.commit()
            except Exception as error:
                _note(
                    request,
                    ("click", type(error)),
                    logging.ERROR,
                    "click on article %s not recorded",
                    article_id,
                    exc_info=True,
                )
                with contextlib.suppress(Exception):  # the database may be gone
                    await session.rollback()
    raise web.HTTPFound(article.link)


def add_publicity_routes(
    app: web.Application, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    app[SESSION_FACTORY] = session_factory
    app[LOG_LIMIT] = LogLimit()
    app.router.add_get(LINK_ROUTE, follow_link)
