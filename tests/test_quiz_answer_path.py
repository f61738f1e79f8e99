"""The answer path stays lean (statements per press) and shows what it stored."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiogram import Dispatcher
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.methods import AnswerCallbackQuery, EditMessageText
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.factory import create_dispatcher
from bot.views.quiz import AnswerCb, CampaignCb, SubmitCb
from quizzes.participants import GrantKind
from storage.models_quiz import AttemptQuestionRow, AttemptRow
from storage.presses import DirectPresses
from storage.repositories import Repositories
from tests.factories import World, build_world
from tests.mocked_bot import MockedBot, callback_update, text_update, user
from tests.quiz_world import open_campaign, registered, right_positions

SETTINGS = Settings(bot_token="42:TEST-token")


# Record the answer, move the attempt on, stamp the next question: three conditional
# UPDATEs, or on PostgreSQL one statement of data-modifying CTEs.
WRITES = {"sqlite": ["UPDATE", "UPDATE", "UPDATE"], "postgresql": ["WITH"]}


@contextmanager
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """The kind (SELECT, UPDATE...) of every statement sent while the block runs."""
    seen: list[str] = []

    def record(conn: object, cursor: object, sql: str, *args: object) -> None:
        seen.append(sql.split()[0].upper())

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


@contextmanager
def round_trips(engine: AsyncEngine) -> Iterator[list[str]]:
    """Every statement sent while the block runs, with asyncpg's own BEGIN and COMMIT
    (which its query logger sees; prepared statements it does not, SQLAlchemy does)."""
    seen: list[str] = []
    watched: set[int] = set()

    def log(query: Any) -> None:
        seen.append(query.query.split()[0].upper().rstrip(";"))

    def record(conn: object, cursor: object, sql: str, *args: object) -> None:
        seen.append(sql.split()[0].upper())

    def checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        driver = record.driver_connection
        if id(driver) not in watched:
            watched.add(id(driver))
            driver.add_query_logger(log)

    event.listen(engine.sync_engine, "checkout", checkout)
    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "checkout", checkout)
        event.remove(engine.sync_engine, "before_cursor_execute", record)


@pytest.fixture
async def world(session_factory: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(session_factory)


@pytest.fixture
def dp(session_factory: async_sessionmaker[AsyncSession]) -> Dispatcher:
    return create_dispatcher(
        SETTINGS, session_factory, storage=MemoryStorage(), events_isolation=SimpleEventIsolation()
    )


async def started(
    dp: Dispatcher,
    bot: MockedBot,
    session_factory: async_sessionmaker[AsyncSession],
    telegram_id: int,
    campaign_id: int,
    participant_id: int,
) -> AttemptRow:
    await dp.feed_update(bot, text_update(user(telegram_id), "/quiz"))
    await dp.feed_update(
        bot, callback_update(user(telegram_id), CampaignCb(campaign=campaign_id).pack())
    )
    async with session_factory() as session:
        attempt = await session.scalar(
            select(AttemptRow).where(AttemptRow.participant_id == participant_id)
        )
    assert attempt is not None
    return attempt


async def ticked_answer(
    dp: Dispatcher,
    bot: MockedBot,
    session_factory: async_sessionmaker[AsyncSession],
    telegram_id: int,
    attempt_id: int,
    seq: int,
) -> str:
    """The press that answers question ``seq`` rightly, after ticking the options of a
    multiple-choice question (those ticks are sent here)."""
    right = await right_positions(session_factory, attempt_id, seq)
    if len(right) == 1:
        return AnswerCb(attempt=attempt_id, seq=seq, option=right[0]).pack()
    for position in right:
        tick = AnswerCb(attempt=attempt_id, seq=seq, option=position).pack()
        await dp.feed_update(bot, callback_update(user(telegram_id), tick))
    return SubmitCb(attempt=attempt_id, seq=seq).pack()


async def test_an_answer_is_one_read_and_three_conditional_writes(
    dp: Dispatcher,
    engine: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    world: World,
) -> None:
    """Attempt + campaign + owner + this and the next question in one query; then
    record, move on, show the next question. No participant look-up, no grants, no
    read-back."""
    bot = MockedBot()
    campaign = await open_campaign(session_factory, questions=5)
    student = await registered(session_factory, 401, world.classes["七年级1班"].id)
    attempt = await started(dp, bot, session_factory, 401, campaign.id, student.id)
    for seq in range(1, 5):
        right = await right_positions(session_factory, attempt.id, seq)
        if len(right) > 1:  # multiple choice: the ticks first, then submit
            for position in right:
                tick = AnswerCb(attempt=attempt.id, seq=seq, option=position).pack()
                with statements(engine) as seen:
                    await dp.feed_update(bot, callback_update(user(401), tick))
                assert seen == ["SELECT", "UPDATE"]
            press = SubmitCb(attempt=attempt.id, seq=seq).pack()
        else:
            press = AnswerCb(attempt=attempt.id, seq=seq, option=right[0]).pack()
        with statements(engine) as seen:
            await dp.feed_update(bot, callback_update(user(401), press))
        assert seen == ["SELECT", *WRITES[engine.dialect.name]]
        edit = bot.recorder.requests[-1]
        assert isinstance(edit, EditMessageText) and f"第 {seq + 1}/5 题" in edit.text

    # A second press of an answered question reads, writes nothing and says so.
    again = AnswerCb(attempt=attempt.id, seq=1, option=0).pack()
    with statements(engine) as seen:
        await dp.feed_update(bot, callback_update(user(401), again))
    assert seen == ["SELECT"]
    toast = bot.recorder.requests[-1]
    assert isinstance(toast, AnswerCallbackQuery) and "过去了" in (toast.text or "")


async def test_the_next_question_shows_the_deadline_it_was_given(
    dp: Dispatcher, session_factory: async_sessionmaker[AsyncSession], world: World
) -> None:
    bot = MockedBot()
    campaign = await open_campaign(session_factory, questions=3, seconds_per_question=120)
    student = await registered(session_factory, 402, world.classes["七年级1班"].id)
    attempt = await started(dp, bot, session_factory, 402, campaign.id, student.id)
    press = await ticked_answer(dp, bot, session_factory, 402, attempt.id, 1)

    await dp.feed_update(bot, callback_update(user(402), press))

    async with session_factory() as session:
        rows = {
            row.seq: row
            for row in await session.scalars(
                select(AttemptQuestionRow).where(AttemptQuestionRow.attempt_id == attempt.id)
            )
        }
        moved = await session.get(AttemptRow, attempt.id)
    assert moved is not None and moved.current_seq == 2 and moved.points == 1.0
    assert rows[1].answered_at is not None and rows[1].points == 1.0
    second = rows[2]
    assert second.shown_at == rows[1].answered_at and second.deadline is not None
    assert (second.deadline - second.shown_at).total_seconds() == 120
    shown = second.deadline.astimezone(SETTINGS.zone).strftime("%H:%M:%S")
    edit = bot.recorder.requests[-1]
    assert isinstance(edit, EditMessageText) and "第 2/3 题" in edit.text and shown in edit.text
    assert rows[3].shown_at is None and rows[3].answered_at is None


async def test_permissions_are_loaded_for_the_handlers_that_take_them(
    dp: Dispatcher, session_factory: async_sessionmaker[AsyncSession], world: World
) -> None:
    admin = await registered(session_factory, 403, world.classes["七年级1班"].id, name="管理员")
    async with session_factory() as session:
        await Repositories.over(session).grants.grant(admin.id, GrantKind.ADMIN, None, admin.id)
        await session.commit()
    bot = MockedBot()

    await dp.feed_update(bot, text_update(user(404), "/grant admin 999999"))
    assert "管理员" in bot.sent_texts(404)[-1]  # errors.admins_only: no grant, no go

    # The admin's grant is read for /grant, which goes ahead (and finds nobody with that id).
    await dp.feed_update(bot, text_update(user(403), "/grant admin 999999"))
    assert "999999" in bot.sent_texts(403)[-1]


async def test_reply_models_survive_garbage_collection() -> None:
    """aiogram's Response[T] classes are built once per process, not after every GC."""
    import gc

    from aiogram.methods import AnswerCallbackQuery as Answer
    from aiogram.methods import Response

    from bot.factory import KeepResponseModels

    calls: list[object] = []

    async def make_request(bot: object, method: object) -> object:
        calls.append(method)
        return "sent"

    method = Answer(callback_query_id="1")
    keeper = KeepResponseModels()
    assert await keeper(make_request, None, method) == "sent"  # type: ignore[arg-type]
    kept = KeepResponseModels.kept[method.__returning__]
    gc.collect()
    assert Response[method.__returning__] is kept  # type: ignore[name-defined]
    assert calls == [method]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_an_answer_on_postgresql_is_two_round_trips(
    dp: Dispatcher,
    engine: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    world: World,
) -> None:
    """No participant look-up, no BEGIN or COMMIT: the snapshot, then the writes as one
    statement (whole on its own)."""
    bot = MockedBot()
    campaign = await open_campaign(session_factory, questions=3)
    student = await registered(session_factory, 403, world.classes["七年级1班"].id)
    attempt = await started(dp, bot, session_factory, 403, campaign.id, student.id)
    press = await ticked_answer(dp, bot, session_factory, 403, attempt.id, 1)
    await engine.dispose()  # every connection is new, so every one is watched
    with round_trips(engine) as seen:
        await dp.feed_update(bot, callback_update(user(403), press))
    # Two round trips (nine before the answer path was trimmed).
    assert seen == ["SELECT", "WITH"]


async def test_a_press_speaks_the_owners_language_and_refuses_strangers(
    dp: Dispatcher, session_factory: async_sessionmaker[AsyncSession], world: World
) -> None:
    """The answer handlers read no participant: the snapshot names the attempt's owner
    and their chosen language; a press by anyone else is refused in their own."""
    bot = MockedBot()
    campaign = await open_campaign(session_factory, questions=3)
    student = await registered(session_factory, 405, world.classes["七年级1班"].id)
    attempt = await started(dp, bot, session_factory, 405, campaign.id, student.id)
    async with session_factory() as session:  # chose English, though Telegram says Chinese
        repo = Repositories.over(session)
        await repo.participants.update(student, locale="en")
        await session.commit()

    # A stranger Telegram calls English forges a press on the attempt.
    stranger = user(406, language_code="en")
    forged = AnswerCb(attempt=attempt.id, seq=1, option=0).pack()
    await dp.feed_update(bot, callback_update(stranger, forged))
    toast = bot.recorder.requests[-1]
    assert (
        isinstance(toast, AnswerCallbackQuery)
        and toast.text == "This is not your quiz; you can't answer it."
    )
    async with session_factory() as session:  # nobody was enrolled by a forged press
        assert await Repositories.over(session).participants.by_telegram_id(406) is None
        unchanged = await session.get(AttemptRow, attempt.id)
    assert unchanged is not None and unchanged.current_seq == 1

    # A classmate who chose English, on a Chinese Telegram, is refused in English.
    classmate = await registered(session_factory, 409, world.classes["七年级1班"].id)
    async with session_factory() as session:
        await Repositories.over(session).participants.update(classmate, locale="en")
        await session.commit()
    await dp.feed_update(bot, callback_update(user(409), forged))
    toast = bot.recorder.requests[-1]
    assert isinstance(toast, AnswerCallbackQuery)
    assert toast.text == "This is not your quiz; you can't answer it."

    press = await ticked_answer(dp, bot, session_factory, 405, attempt.id, 1)
    await dp.feed_update(bot, callback_update(user(405), press))
    edit = bot.recorder.requests[-1]
    assert isinstance(edit, EditMessageText) and "Question 2/3" in edit.text


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_the_last_answer_and_the_finish_share_one_transaction(
    dp: Dispatcher,
    engine: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    world: World,
) -> None:
    """Only single statements run outside a transaction: recording the last answer and
    finishing the attempt are written together or not at all."""
    bot = MockedBot()
    campaign = await open_campaign(session_factory, questions=1)
    student = await registered(session_factory, 407, world.classes["七年级1班"].id)
    attempt = await started(dp, bot, session_factory, 407, campaign.id, student.id)
    press = await ticked_answer(dp, bot, session_factory, 407, attempt.id, 1)
    await engine.dispose()
    with round_trips(engine) as seen:
        await dp.feed_update(bot, callback_update(user(407), press))
    # The snapshot alone; then BEGIN (which asyncpg logs once the first write it went
    # ahead of has been sent), the answer, the finish and COMMIT; then the result's reads.
    commit = seen.index("COMMIT")
    assert seen[:3] == ["SELECT", "UPDATE", "BEGIN"]
    assert seen[1:commit].count("UPDATE") >= 2 and seen[:commit].count("BEGIN") == 1
    async with session_factory() as session:
        finished = await session.get(AttemptRow, attempt.id)
    assert finished is not None and finished.finished_at is not None


async def test_an_apology_for_a_failed_answer_speaks_the_chosen_language(
    dp: Dispatcher,
    session_factory: async_sessionmaker[AsyncSession],
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The answer handlers load no participant, so the error handler reads the language
    itself: an English speaker whose Telegram is in Chinese is told in English."""
    bot = MockedBot()
    campaign = await open_campaign(session_factory, questions=3)
    student = await registered(session_factory, 408, world.classes["七年级1班"].id)
    attempt = await started(dp, bot, session_factory, 408, campaign.id, student.id)
    async with session_factory() as session:
        await Repositories.over(session).participants.update(student, locale="en")
        await session.commit()

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("rendering failed")

    monkeypatch.setattr("handlers.quiz.show_step", broken)
    press = AnswerCb(attempt=attempt.id, seq=1, option=0).pack()
    await dp.feed_update(bot, callback_update(user(408), press))
    alert = bot.recorder.requests[-1]
    assert isinstance(alert, AnswerCallbackQuery) and alert.show_alert
    assert alert.text == "Something went wrong on our side; please try again later."


# ---------------------------------------------------------------- the driver path (PostgreSQL)


@contextmanager
def driver_queries(presses: DirectPresses) -> Iterator[list[str]]:
    """The kind of every statement the driver path's connections run in the block."""
    seen: list[str] = []

    def log(query: Any) -> None:
        seen.append(query.query.split()[0].upper().rstrip(";"))

    watched = [holder._con for holder in presses.pool._holders if holder._con is not None]
    for connection in watched:
        connection.add_query_logger(log)
    try:
        yield seen
    finally:
        for connection in watched:
            connection.remove_query_logger(log)


@pytest.fixture
def direct_dp(
    session_factory: async_sessionmaker[AsyncSession], presses: DirectPresses | None
) -> Dispatcher:
    """The dispatcher as the bot builds it: on PostgreSQL with the driver path."""
    return create_dispatcher(
        SETTINGS,
        session_factory,
        storage=MemoryStorage(),
        events_isolation=SimpleEventIsolation(),
        presses=presses,
    )


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_press_on_postgresql_runs_on_the_driver_not_the_session(
    direct_dp: Dispatcher,
    engine: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    presses: DirectPresses | None,
    world: World,
) -> None:
    """The snapshot and the one-statement write go to the driver's pool, ticks too; the
    session sends nothing and begins nothing. (All five questions of the bank are asked,
    so a multiple-choice question's ticks are among them.)"""
    assert presses is not None
    bot = MockedBot()
    campaign = await open_campaign(session_factory, questions=5)
    student = await registered(session_factory, 410, world.classes["七年级1班"].id)
    attempt = await started(direct_dp, bot, session_factory, 410, campaign.id, student.id)
    ticks = 0
    for seq in range(1, 6):
        right = await right_positions(session_factory, attempt.id, seq)
        if len(right) > 1:
            for position in right:
                tick = AnswerCb(attempt=attempt.id, seq=seq, option=position).pack()
                await presses.pool.execute("SELECT 1")  # a connection exists, so it is watched
                with round_trips(engine) as through_session, driver_queries(presses) as on_driver:
                    await direct_dp.feed_update(bot, callback_update(user(410), tick))
                assert through_session == [] and on_driver == ["SELECT", "UPDATE"]
                ticks += 1
            press = SubmitCb(attempt=attempt.id, seq=seq).pack()
        else:
            press = AnswerCb(attempt=attempt.id, seq=seq, option=right[0]).pack()
        await presses.pool.execute("SELECT 1")
        with round_trips(engine) as through_session, driver_queries(presses) as on_driver:
            await direct_dp.feed_update(bot, callback_update(user(410), press))
        if seq < 5:
            assert through_session == [] and on_driver == ["SELECT", "WITH"]
            edit = bot.recorder.requests[-1]
            assert isinstance(edit, EditMessageText) and f"第 {seq + 1}/5 题" in edit.text
        else:  # the last answer and the finish: the session's, in one transaction
            assert on_driver == ["SELECT"] and "UPDATE" in through_session
    assert ticks >= 2
    async with session_factory() as session:
        stored = await session.get(AttemptRow, attempt.id)
    assert stored is not None and stored.finished_at is not None and stored.points == 5.0


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_the_driver_path_reads_and_writes_what_the_session_does(
    session_factory: async_sessionmaker[AsyncSession],
    presses: DirectPresses | None,
    world: World,
    direct_dp: Dispatcher,
) -> None:
    """Same snapshot from both paths; a write by either reads back the same, times in
    UTC and JSON lists intact; a second write of the same answer changes nothing."""
    assert presses is not None
    bot = MockedBot()
    campaign = await open_campaign(session_factory, questions=4, seconds_per_question=90)
    student = await registered(session_factory, 411, world.classes["七年级1班"].id)
    attempt = await started(direct_dp, bot, session_factory, 411, campaign.id, student.id)
    shanghai = datetime(2026, 11, 30, 20, 15, 7, 123456, tzinfo=ZoneInfo("Asia/Shanghai"))
    async with session_factory() as session:
        through_session = Repositories.over(session).attempts
        on_driver = Repositories.over(session, presses).attempts
        before = await on_driver.snapshot(attempt.id, 1)
        assert not session.in_transaction()  # the driver's read: the session began nothing
        assert before is not None and await through_session.snapshot(attempt.id, 1) == before
        await session.commit()
        moved = await on_driver.record_and_advance(
            attempt.id,
            1,
            chosen=frozenset({2, 0}),
            answered_at=shanghai,
            points=0.5,
            too_fast=True,
            next_deadline=shanghai + timedelta(seconds=90),
        )
        again = await on_driver.record_and_advance(
            attempt.id,
            1,
            chosen=frozenset({1}),
            answered_at=shanghai,
            points=1.0,
            too_fast=False,
            next_deadline=None,
        )
        assert await on_driver.set_draft(attempt.id, 2, frozenset({3, 1}))
        assert not await on_driver.set_draft(attempt.id, 1, frozenset({1}))  # answered
        after = await on_driver.snapshot(attempt.id, 2)
        assert not session.in_transaction()
        assert after is not None and await through_session.snapshot(attempt.id, 2) == after
        await session.commit()
        async with on_driver.together():  # inside, even the first statement is the session's
            assert await on_driver.set_draft(attempt.id, 2, frozenset({3, 1}))
            assert session.in_transaction()
        answered = await through_session.question(attempt.id, 1)
        await session.commit()
    assert again is None
    assert moved is not None and moved.current_seq == 2 and moved.points == 0.5
    assert moved.flagged == 1 and moved == after.attempt
    assert answered is not None and answered.chosen == frozenset({0, 2})
    assert answered.answered_at == shanghai and answered.answered_at.tzinfo == UTC
    assert answered.points == 0.5 and answered.too_fast and not answered.timed_out
    shown = after.question
    assert shown is not None and shown.draft == frozenset({1, 3})
    assert shown.shown_at == shanghai and shown.deadline == shanghai + timedelta(seconds=90)
    assert after.owner.telegram_id == 411 and after.campaign == before.campaign


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_with_the_driver_path_the_last_answer_still_shares_one_transaction(
    direct_dp: Dispatcher,
    engine: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    presses: DirectPresses | None,
    world: World,
) -> None:
    """The snapshot is the driver's; the answer and the finish are the session's, in one
    transaction."""
    assert presses is not None
    bot = MockedBot()
    campaign = await open_campaign(session_factory, questions=1)
    student = await registered(session_factory, 412, world.classes["七年级1班"].id)
    attempt = await started(direct_dp, bot, session_factory, 412, campaign.id, student.id)
    press = await ticked_answer(direct_dp, bot, session_factory, 412, attempt.id, 1)
    await engine.dispose()
    await presses.pool.execute("SELECT 1")
    with round_trips(engine) as through_session, driver_queries(presses) as on_driver:
        await direct_dp.feed_update(bot, callback_update(user(412), press))
    assert on_driver == ["SELECT"]
    commit = through_session.index("COMMIT")
    assert through_session[:2] == ["UPDATE", "BEGIN"]
    assert through_session[:commit].count("UPDATE") >= 2
    async with session_factory() as session:
        finished = await session.get(AttemptRow, attempt.id)
    assert finished is not None and finished.finished_at is not None


def test_a_driver_statement_wants_every_value_the_session_would() -> None:
    """A value left out is an error, as it is in the session, not a NULL; a value the
    statement binds itself (``timed_out = false``) is filled in."""
    from sqlalchemy.dialects.postgresql.asyncpg import dialect

    from storage.presses import DriverStatement
    from storage.quiz import _answer_statements

    write = DriverStatement.of(_answer_statements().record_advance_show, dialect())
    values = {name: 1 for name in write.names if name.startswith("p_")}
    assert False in write.arguments(values)  # timed_out
    del values["p_chosen"]
    with pytest.raises(KeyError, match="p_chosen"):
        write.arguments(values)
