"""Pressing a lecture's check-in button in chat half-way through registration: the
person is asked to finish registering, in their language, and nothing is counted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from bot.i18n import Translator
from bot.lectures import schedule_lecture
from bot.views.publicity import CheckinCb
from quizzes.publicity import Audience
from storage.models import ParticipantRow
from storage.models_publicity import LectureCheckinRow
from tests.publicity_factories import add_people
from tests.test_lecture_chat import ADMIN, SHANGHAI, Chat, chat

__all__ = ["chat"]

HALF, ENGLISH = 3500, 3501  # unit saved, role and name not yet


async def test_a_half_registered_person_is_asked_to_finish_registering_before_checking_in(
    chat: Chat,
) -> None:
    now = datetime.now(UTC)
    await add_people(chat.session_factory, [HALF], chat.world.classes["七年级1班"].id)
    await add_people(
        chat.session_factory, [ENGLISH], chat.world.classes["七年级1班"].id, locale="en"
    )
    async with chat.session_factory() as session:
        await session.execute(
            update(ParticipantRow)
            .where(ParticipantRow.telegram_id.in_([HALF, ENGLISH]))
            .values(role=None, display_name=None)
        )
        scheduled = await schedule_lecture(
            session,
            title="宪法与我们",
            speaker="李老师",
            starts_at=now + timedelta(minutes=1),  # check-in is open from 10 minutes before
            minutes=60,
            link=None,
            audience=Audience(),
            created_by=ADMIN,
            zone=SHANGHAI,
            now=now,
            _=Translator.load().bind("zh-CN"),
        )
        await session.commit()
    button = CheckinCb(lecture=scheduled.lecture.id).pack()

    answer = await chat.press(HALF, button)
    assert answer.text == "请先完成注册（发送 /start），再签到。"
    answer = await chat.press(ENGLISH, button)
    assert answer.text == "Please finish registering first (send /start), then check in."
    async with chat.session_factory() as session:
        counted = await session.scalar(select(func.count()).select_from(LectureCheckinRow))
    assert counted == 0
