"""A question's page and an answer's form on PostgreSQL: the chat's driver path, no session.

A web round trip is two requests, each finding the participant behind the cookie and
reading the attempt; through SQLAlchemy's session each read cost a BEGIN, a COMMIT and
the session's own bookkeeping, about as much of the bot's CPU as the rest of the page
(docs/PERFORMANCE.md). Like a quiz press in chat, they run on the driver outside a
transaction."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.presses import DirectPresses
from tests.quiz_world import open_campaign
from tests.test_quiz_answer_path import driver_queries, round_trips
from tests.test_web_participants import CLASS, CSRF, SEQ, SIG, Site, chat, site

__all__ = ["chat", "site"]  # the fixtures


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_question_page_and_an_answer_run_on_the_driver_not_the_session(
    site: Site, engine: AsyncEngine, presses: DirectPresses | None
) -> None:
    assert presses is not None
    campaign = await open_campaign(
        site.chat.session_factory, unit_ids=(site.chat.world.classes[CLASS].id,)
    )
    phone = site.make_client()
    await phone.start_server()
    await site.join(phone)
    csrf = CSRF.search(await (await phone.get("/m/")).text())
    assert csrf is not None
    started = await phone.post(
        f"/m/campaigns/{campaign.id}/start",
        data={"csrf_token": csrf.group(1)},
        allow_redirects=False,
    )
    here = started.headers["Location"]
    for seq in (1, 2, 3):
        await presses.pool.execute("SELECT 1")  # a connection exists, so it is watched
        with round_trips(engine) as through_session, driver_queries(presses) as on_driver:
            page = await phone.get(here)
            text = await page.text()
        assert page.status == 200 and f"第 {seq}/5 题" in text
        assert through_session == [] and on_driver == ["SELECT", "SELECT"]  # who, where
        sig, shown = SIG.search(text), SEQ.search(text)
        assert sig is not None and shown is not None and shown.group(1) == str(seq)
        form = {"csrf_token": csrf.group(1), "seq": str(seq), "sig": sig.group(1), "option": "0"}
        with round_trips(engine) as through_session, driver_queries(presses) as on_driver:
            answered = await phone.post(here, data=form, allow_redirects=False)
        assert answered.status == 303 and answered.headers["Location"] == here
        # who, the snapshot, the answer recorded and the attempt moved on in one statement
        assert through_session == [] and on_driver == ["SELECT", "SELECT", "WITH"]
