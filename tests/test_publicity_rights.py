"""Rights in chat: /revoke as README and the bot's usage give it, and what a revoked
coordinator may still do with the broadcasts and lectures they created (nothing)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiogram import Dispatcher
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.methods import AnswerCallbackQuery
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.broadcaster import Broadcaster
from bot.config import Settings
from bot.factory import create_dispatcher
from bot.i18n import Translator
from bot.lectures import schedule_lecture
from bot.scheduler import Scheduler
from bot.services import ServiceContext
from handlers.lectures import CancelLectureCb
from handlers.publicity_keyboards import BroadcastCb
from quizzes.participants import GrantKind
from quizzes.publicity import Audience, BroadcastAction, BroadcastState
from storage.publicity import PublicityRepository
from storage.repositories import Repositories
from tests.factories import World, build_world
from tests.mocked_bot import MockedBot, callback_update, text_update, user
from tests.publicity_factories import add_people, make_article

ADMIN = 1
COORDINATOR = 2
SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass
class Chat:
    dp: Dispatcher
    bot: MockedBot
    broadcaster: Broadcaster
    world: World
    session_factory: async_sessionmaker[AsyncSession]

    async def say(self, telegram_id: int, text: str) -> str:
        await self.dp.feed_update(self.bot, text_update(user(telegram_id), text))
        return self.bot.sent_texts(telegram_id)[-1]

    async def press(self, telegram_id: int, data: str) -> AnswerCallbackQuery:
        await self.dp.feed_update(self.bot, callback_update(user(telegram_id), data))
        answers = [m for m in self.bot.recorder.requests if isinstance(m, AnswerCallbackQuery)]
        return answers[-1]

    async def grants_of(self, telegram_id: int) -> list[tuple[str, int | None]]:
        async with self.session_factory() as session:
            repo = Repositories.over(session)
            person = await repo.participants.by_telegram_id(telegram_id)
            assert person is not None
            return sorted((g.kind.value, g.unit_id) for g in await repo.grants.of(person.id))


@pytest.fixture
async def chat(
    session_factory: async_sessionmaker[AsyncSession], database_url: str
) -> AsyncIterator[Chat]:
    world = await build_world(session_factory)
    first, other = world.schools["胡杨河市第一中学"], world.schools["一三一团中学"]
    await add_people(session_factory, [3000, 3001], world.classes["七年级1班"].id)
    await add_people(session_factory, [ADMIN, COORDINATOR], first.id, "teacher")
    async with session_factory() as session:
        repo = Repositories.over(session)
        coordinator = await repo.participants.by_telegram_id(COORDINATOR)
        assert coordinator is not None
        for school in (first, other):
            await repo.grants.grant(coordinator.id, GrantKind.COORDINATOR, school.id, ADMIN)
        await session.commit()
    settings = Settings(
        bot_token="42:TEST-token", database_url=database_url, admin_ids=frozenset({ADMIN})
    )
    dp = create_dispatcher(
        settings, session_factory, storage=MemoryStorage(), events_isolation=SimpleEventIsolation()
    )
    bot = MockedBot()
    context = ServiceContext(settings, session_factory, bot, Translator.load())
    broadcaster = Broadcaster(context, bot=bot)  # not started: nothing is sent
    scheduler = Scheduler(context, replan_every=timedelta(0))
    dp["broadcaster"] = broadcaster
    dp["scheduler"] = scheduler
    yield Chat(dp, bot, broadcaster, world, session_factory)
    await scheduler.stop()


async def test_revoke_coordinator_without_a_school_takes_every_school(chat: Chat) -> None:
    first = chat.world.schools["胡杨河市第一中学"]
    other = chat.world.schools["一三一团中学"]
    assert await chat.grants_of(COORDINATOR) == [
        ("coordinator", min(first.id, other.id)),
        ("coordinator", max(first.id, other.id)),
    ]
    usage = await chat.say(ADMIN, "/revoke")
    assert "/revoke coordinator" in usage and "学校" in usage

    reply = await chat.say(ADMIN, "/revoke coordinator 2 一三一团中学")
    assert "已收回" in reply and "一三一团中学" in reply
    assert await chat.grants_of(COORDINATOR) == [("coordinator", first.id)]
    reply = await chat.say(ADMIN, "/revoke coordinator 2 一三一团中学")
    assert "没有" in reply

    reply = await chat.say(ADMIN, f"/revoke coordinator {COORDINATOR}")
    assert "已收回" in reply and "学校联络员" in reply
    assert await chat.grants_of(COORDINATOR) == []
    assert "只有管理员和学校联络员" in await chat.say(COORDINATOR, "/post")
    assert "没有" in await chat.say(ADMIN, f"/revoke coordinator {COORDINATOR}")


async def test_a_revoked_coordinator_loses_control_of_their_broadcast(chat: Chat) -> None:
    first = chat.world.schools["胡杨河市第一中学"]
    article = await make_article(
        chat.session_factory, audience=Audience(frozenset({first.id})), author_id=COORDINATOR
    )
    broadcast = await chat.broadcaster.start_broadcast(
        article.id, created_by=COORDINATOR, locale="zh-CN", progress_chat_id=COORDINATOR
    )

    def button(action: BroadcastAction) -> str:
        return BroadcastCb(id=broadcast.id, action=action).pack()

    answer = await chat.press(COORDINATOR, button(BroadcastAction.PAUSE))
    assert answer.text == "已暂停"

    # Their other school is taken away: this broadcast's school is still theirs.
    await chat.say(ADMIN, "/revoke coordinator 2 一三一团中学")
    answer = await chat.press(COORDINATOR, button(BroadcastAction.RESUME))
    assert answer.text == "已继续推送"
    await chat.press(COORDINATOR, button(BroadcastAction.PAUSE))

    await chat.say(ADMIN, "/revoke coordinator 2 胡杨河市第一中学")
    for action in BroadcastAction:
        answer = await chat.press(COORDINATOR, button(action))
        assert answer.show_alert and answer.text is not None and "管理员" in answer.text
    async with chat.session_factory() as session:
        still = await PublicityRepository(session).broadcast(broadcast.id)
    assert still is not None and still.state is BroadcastState.PAUSED

    # Admins keep control.
    answer = await chat.press(ADMIN, button(BroadcastAction.CANCEL))
    assert answer.text == "已取消推送"


async def test_a_coordinator_revoked_for_a_lectures_school_may_not_cancel_it(chat: Chat) -> None:
    first = chat.world.schools["胡杨河市第一中学"]
    async with chat.session_factory() as session:
        scheduled = await schedule_lecture(
            session,
            title="民法典",
            speaker="王老师",
            starts_at=datetime.now(UTC) + timedelta(days=1),
            minutes=60,
            link=None,
            audience=Audience(frozenset({first.id})),
            created_by=COORDINATOR,
            zone=SHANGHAI,
            now=datetime.now(UTC),
            _=Translator.load().bind("zh-CN"),
        )
        await session.commit()
    ask = CancelLectureCb(lecture=scheduled.lecture.id, action="ask").pack()
    yes = CancelLectureCb(lecture=scheduled.lecture.id, action="yes").pack()
    await chat.say(COORDINATOR, "/lectures")
    assert ask in chat.bot.last_markup_data()

    # Still a coordinator (of another school), but no longer of the lecture's school.
    await chat.say(ADMIN, "/revoke coordinator 2 胡杨河市第一中学")
    await chat.say(COORDINATOR, "/lectures")
    assert ask not in chat.bot.last_markup_data()
    answer = await chat.press(COORDINATOR, yes)
    assert answer.show_alert
    await chat.say(ADMIN, "/lectures")
    assert ask in chat.bot.last_markup_data()
