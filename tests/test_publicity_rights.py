"""Rights in chat: /revoke as README and the bot's usage give it, and what a revoked
coordinator may still do with the broadcasts and lectures they created (nothing)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.i18n import Translator
from bot.lectures import schedule_lecture
from bot.views.publicity import BroadcastCb
from handlers.lectures import CancelLectureCb
from quizzes.publicity import Audience, BroadcastAction, BroadcastState
from storage.publicity import PublicityRepository
from tests.publicity_chat import ADMIN, COORDINATOR, Chat, chat
from tests.publicity_factories import make_article

__all__ = ["chat"]  # the fixture

SHANGHAI = ZoneInfo("Asia/Shanghai")


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
