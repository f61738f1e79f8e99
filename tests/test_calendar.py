"""Key-date reminders: planned from the clock alone (a restart plans the same), sent to
the bureau's admins seven days ahead, once; their buttons start /post or /newcampaign."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from aiogram.methods import SendMessage
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.calendar_jobs import plan_calendar, remind_key_date
from bot.config import Settings
from bot.i18n import Translator
from bot.scheduler import Scheduler
from bot.services import ServiceContext
from bot.views.calendar import CalendarCb
from quizzes.calendar import KEY_DATES, next_reminders
from tests.mocked_bot import MockedBot
from tests.publicity_chat import ADMIN, COORDINATOR, Chat, chat

__all__ = ["chat"]  # the fixture

SHANGHAI = ZoneInfo("Asia/Shanghai")
GRACE = timedelta(hours=6)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def test_each_date_is_reminded_seven_days_ahead_at_nine() -> None:
    plan = next_reminders(at("2026-12-07 10:00"), SHANGHAI, grace=GRACE)
    assert [(r.job_id, r.remind_at) for r in plan] == [
        ("calendar-consumer_rights_day-2027", at("2027-03-08 09:00")),
        ("calendar-national_security_day-2027", at("2027-04-08 09:00")),
        ("calendar-anti_drug_day-2027", at("2027-06-19 09:00")),
        ("calendar-first_lesson-2027", at("2027-08-25 09:00")),
        ("calendar-constitution_day-2027", at("2027-11-27 09:00")),
    ]
    assert len(plan) == len(KEY_DATES)


def test_a_reminder_missed_while_down_is_kept_within_the_grace_only() -> None:
    late = next_reminders(at("2026-04-08 14:00"), SHANGHAI, grace=GRACE)
    assert "calendar-national_security_day-2026" in [r.job_id for r in late]
    too_late = next_reminders(at("2026-04-08 15:01"), SHANGHAI, grace=GRACE)
    assert "calendar-national_security_day-2027" in [r.job_id for r in too_late]


async def test_the_planner_arms_every_date_and_a_restart_plans_the_same(
    session_factory: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    settings = Settings(bot_token="42:TEST-token", database_url=database_url)
    context = ServiceContext(settings, session_factory, MockedBot(), Translator.load())
    plans = []
    for _ in range(2):  # two starts of the bot
        scheduler = Scheduler(context, clock=lambda: at("2027-04-01 08:00"))
        scheduler.add_planner(plan_calendar)
        assert await scheduler.plan()
        plans.append(scheduler.upcoming())
    assert plans[0] == plans[1]
    assert plans[0][0] == ("calendar-national_security_day-2027", at("2027-04-08 09:00"))


async def test_the_reminder_goes_to_the_admins_with_two_buttons(chat: Chat) -> None:
    context = ServiceContext(
        chat.context.settings, chat.session_factory, chat.bot, Translator.load()
    )
    await remind_key_date(context, code="national_security_day", year=2027)
    [sent] = [
        m for m in chat.bot.recorder.requests if isinstance(m, SendMessage) and m.chat_id == ADMIN
    ]
    assert "7天后（2027年4月15日）是全民国家安全教育日（主题：国家安全）" in sent.text
    buttons = [b.callback_data for row in sent.reply_markup.inline_keyboard for b in row]  # type: ignore[union-attr]
    assert buttons == [
        CalendarCb(action="post", code="national_security_day", year=2027).pack(),
        CalendarCb(action="campaign", code="national_security_day", year=2027).pack(),
    ]
    # A date no longer in the calendar (an old button's job) sends nothing.
    before = len(chat.bot.recorder.requests)
    await remind_key_date(context, code="no_such_day", year=2027)
    assert len(chat.bot.recorder.requests) == before


async def test_the_post_button_starts_post_with_the_suggested_title(chat: Chat) -> None:
    post = CalendarCb(action="post", code="anti_drug_day", year=2027).pack()
    refused = await chat.press(COORDINATOR, post)  # a coordinator is not the bureau
    assert "只有教育局管理员" in (refused.text or "")
    await chat.press(ADMIN, post)
    suggestion, prompt = chat.bot.sent_texts(ADMIN)[-2:]
    assert "6·26国际禁毒日｜珍爱生命，远离毒品" in suggestion
    # /post's first step: the article itself; what the admin sends next becomes the draft.
    assert prompt == (await chat.say(ADMIN, "/post"))
    stale = await chat.press(
        ADMIN, CalendarCb(action="other", code="anti_drug_day", year=2027).pack()
    )
    assert "过期" in (stale.text or "")


def test_every_key_date_has_its_words_in_both_languages() -> None:
    translator = Translator.load()
    for locale in ("zh-CN", "en"):
        for key in KEY_DATES:
            for part in ("name", "article", "campaign_name"):
                assert translator.get(locale, f"calendar.{part}.{key.code}", year=2027)


def test_reminders_are_due_in_the_future_of_a_fresh_start() -> None:
    now = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)
    assert all(r.remind_at > now for r in next_reminders(now, SHANGHAI, grace=timedelta(0)))
