"""/activity end to end, as the demo's teacher records a 法治副校长's lecture through the
sandbox: their one school is taken without asking, every step's keyboard (返回 and 取消
included) is what Telegram accepts, and the entry waits for the bureau."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import running_bot
from bot.demo_activities import _record_in_chat
from bot.sandbox.server import RunningSandbox
from quizzes.activities import ActivityStatus
from storage.unit_of_work import UnitOfWork
from tests.factories import World
from tests.publicity_factories import add_people
from tests.test_publicity_chat import sandbox, settings_for, world

__all__ = ["sandbox", "world"]  # fixtures

TEACHER = 4100


async def test_a_teacher_records_the_demos_lecture_in_chat(
    sandbox: RunningSandbox,
    database_url: str,
    world: World,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    school = world.schools["一三一团中学"]
    await add_people(session_factory, [TEACHER], school.id, "teacher")
    sandbox.sandbox.register_user(TEACHER, started=True)
    async with running_bot(settings_for(sandbox, database_url), migrate=False):
        last = await _record_in_chat(sandbox.client, TEACHER)
    assert "教育局确认后计入年度报告" in last
    async with session_factory() as session:
        uow = UnitOfWork.over(session)
        [entry] = await uow.activities.within(school)
        photos = await uow.activities.photos(entry.id)
    assert entry.status is ActivityStatus.PENDING and entry.kind == "vice_principal_lecture"
    assert entry.speaker == "李明" and len(photos) == 2
