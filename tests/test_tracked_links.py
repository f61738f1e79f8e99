"""``GET /r/<token>``: only the tokens the bot wrote open; anything else is a quiet 404.

Regression: a non-ASCII signature or a Unicode digit ("²") gave a 500 with a traceback,
and Arabic-Indic digits were taken as a second spelling of a valid token.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.links import add_publicity_routes
from quizzes.publicity import Article, link_token
from storage.database import create_engine, create_session_factory
from storage.models import ParticipantRow
from storage.models_publicity import LinkClickRow
from tests.publicity_factories import add_people, make_article
from tests.test_end_to_end import free_port

LINK = "https://www.moe.gov.cn/"
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@pytest.fixture
async def http(
    session_factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = web.Application()
    add_publicity_routes(app, session_factory)
    async with TestClient(TestServer(app)) as client:
        yield client


async def article_and_person(
    session_factory: async_sessionmaker[AsyncSession],
) -> tuple[Article, int]:
    await add_people(session_factory, [4242], None)
    article = await make_article(session_factory, link=LINK)
    async with session_factory() as session:
        person = await session.scalar(
            select(ParticipantRow.id).where(ParticipantRow.telegram_id == 4242)
        )
    assert person is not None
    return article, person


async def status(http: TestClient[web.Request, web.Application], token: str) -> int:
    async with http.get(f"/r/{token}", allow_redirects=False) as response:
        return response.status


async def test_only_the_ascii_token_the_bot_wrote_opens_the_link(
    http: TestClient[web.Request, web.Application],
    session_factory: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
) -> None:
    article, person = await article_and_person(session_factory)
    token = link_token(article.link_secret, article.id, person)
    article_part, person_part, signature = token.split(".")

    caplog.set_level(logging.INFO, logger="bot.links")
    bad = [
        f"{article_part}.{person_part}.{signature[:-1]}é",  # a signature that is not ASCII
        f"{article_part}.{person_part}.{signature[:-1]}中",
        f"{article_part}².{person_part}.{signature}",  # a superscript digit
        f"²{article_part}.{person_part}.{signature}",
        f"{article_part}.{person_part}.{signature}=",
        f"{article_part}.{person_part}",
        f"{article_part}.{person_part}.{signature}.x",
        f"{'9' * 19}.{person_part}.{signature}",
        "",
    ]
    for token_ in bad:
        assert await status(http, token_) == 404, token_
    # Another script's digits are not a second spelling of the same token.
    arabic = f"{article_part.translate(ARABIC_INDIC)}.{person_part}.{signature}"
    assert await status(http, arabic) == 404
    fullwidth = f"{article_part}.{person_part.translate(str.maketrans('0123456789', '０１２３４５６７８９'))}.{signature}"  # noqa: E501
    assert await status(http, fullwidth) == 404
    assert await status(http, f"{article_part}.{person_part}.{signature[::-1]}") == 404
    # No click was counted by any of them.
    async with session_factory() as session:
        assert list(await session.scalars(select(LinkClickRow))) == []

    # The token itself opens the link and counts the click.
    assert await status(http, token) == 302
    async with session_factory() as session:
        clicks = list(await session.scalars(select(LinkClickRow)))
    assert [(c.article_id, c.participant_id) for c in clicks] == [(article.id, person)]

    # Many bad requests, a line per kind of them, never a traceback.
    for _ in range(50):
        assert await status(http, f"{article_part}².{person_part}.{signature}") == 404
        assert await status(http, f"{article_part}.{person_part}.{signature[::-1]}") == 404
    records = [r for r in caplog.records if r.name == "bot.links"]
    assert not [r for r in records if r.exc_info]
    assert len(records) <= 2


async def test_a_database_outage_is_a_503_and_a_line_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = create_engine(f"postgresql+asyncpg://pufa@127.0.0.1:{free_port()}/pufa")
    app = web.Application()
    add_publicity_routes(app, create_session_factory(engine))
    caplog.set_level(logging.INFO, logger="bot.links")
    try:
        async with TestClient(TestServer(app)) as client:
            for _ in range(20):
                assert await status(client, "1.2.AAAAAAAAAAAAAAAA") == 503
    finally:
        await engine.dispose()
    records = [r for r in caplog.records if r.name == "bot.links"]
    assert len(records) == 1 and records[0].exc_info
