"""/activity and /activities in chat, from the update to the database and back: a
coordinator records an event with an album of photos, the bureau confirms it; a teacher
records for their own class only; stale and forged presses change nothing."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from aiogram.types import Chat as TelegramChat
from aiogram.types import Message, PhotoSize, Update

from bot.views.activities import ActivityCb, ReviewCb
from bot.views.audience import LevelCb, UnitCb
from bot.views.themes import ThemeCb
from handlers.dialogue import StepBackCb
from quizzes.activities import ActivityStatus, Headcount
from storage.unit_of_work import UnitOfWork
from tests.mocked_bot import user
from tests.publicity_chat import ADMIN, COORDINATOR, FILE_BYTES, Chat, chat
from tests.publicity_factories import add_people

__all__ = ["chat"]  # the fixture

TEACHER = 4000
_ids = itertools.count(700_000)


def photo_update(telegram_id: int, album: str | None) -> Update:
    number = next(_ids)
    message = Message(
        message_id=number,
        date=datetime.now(UTC),
        chat=TelegramChat(id=telegram_id, type="private"),
        from_user=user(telegram_id),
        media_group_id=album,
        photo=[
            PhotoSize(file_id=f"small-{number}", file_unique_id=f"s{number}", width=90, height=60),
            PhotoSize(
                file_id=f"big-{number}", file_unique_id=f"b{number}", width=1280, height=960
            ),
        ],
    )
    return Update(update_id=number, message=message)


def press(action: str, value: str = "") -> str:
    return ActivityCb(action=action, value=value).pack()


def yesterday() -> str:
    return (datetime.now(ZoneInfo("Asia/Shanghai")).date() - timedelta(days=1)).isoformat()


async def test_a_coordinator_records_with_photos_and_the_bureau_confirms(chat: Chat) -> None:
    school = chat.world.schools["胡杨河市第一中学"]
    asked = await chat.say(COORDINATOR, "/activity")
    assert "请选择活动类型" in asked
    await chat.press(COORDINATOR, press("kind", "vice_principal_lecture"))
    # A coordinator of two schools chooses one of them; a unit of neither is refused.
    assert "请选择举办活动的学校或班级" in chat.bot.sent_texts(COORDINATOR)[-1]
    # 一三七团第一小学 is no school of theirs.
    other = chat.world.schools["一三七团第一小学"]
    await chat.press(COORDINATOR, LevelCb(level="schools").pack())
    forged = await chat.press(COORDINATOR, UnitCb(unit=other.id).pack())
    assert "只能选择自己负责的学校" in (forged.text or "")
    assert "过期" in (await chat.press(COORDINATOR, press("unit", str(other.id)))).text
    await chat.press(COORDINATOR, UnitCb(unit=school.id).pack())
    assert "哪一天" in chat.bot.sent_texts(COORDINATOR)[-1]
    # 返回 goes back to the schools, and a school chosen again goes on.
    await chat.press(COORDINATOR, StepBackCb().pack())
    assert "请选择一所学校" in chat.bot.sent_texts(COORDINATOR)[-1]
    await chat.press(COORDINATOR, UnitCb(unit=school.id).pack())
    await chat.press(COORDINATOR, press("day", yesterday()))
    assert "请输入活动名称" in chat.bot.sent_texts(COORDINATOR)[-1]
    await chat.say(COORDINATOR, "宪法与未成年人保护")
    stale = await chat.press(COORDINATOR, press("save"))  # a step ahead: nothing happens
    assert "过期" in (stale.text or "")
    await chat.press(COORDINATOR, ThemeCb(theme="minors").pack())
    assert "没有看懂" in await chat.say(COORDINATOR, "很多人")
    assert "主讲人" in await chat.say(COORDINATOR, "学生420 教职工30")
    assert "照片" in await chat.say(COORDINATOR, "王某某 第七师中级人民法院")
    before = len(chat.bot.sent_texts(COORDINATOR))
    for _ in range(3):  # one album of three: one answer, not three
        await chat.feed(photo_update(COORDINATOR, "album-1"))
    assert len(chat.bot.sent_texts(COORDINATOR)) == before + 1
    await chat.press(COORDINATOR, press("photos_done"))
    check = chat.bot.sent_texts(COORDINATOR)[-1]
    assert "人数：学生 420，教职工 30，家长 0" in check and "照片：3 张" in check
    await chat.press(COORDINATOR, press("save"))
    assert "教育局确认后计入年度报告" in chat.bot.sent_texts(COORDINATOR)[-1]

    async with chat.session_factory() as session:
        uow = UnitOfWork.over(session)
        [entry] = await uow.activities.within(school)
        photos = await uow.activities.photos(entry.id)
    assert entry.status is ActivityStatus.PENDING
    assert (entry.kind, entry.speaker, entry.speaker_organisation) == (
        "vice_principal_lecture",
        "王某某",
        "第七师中级人民法院",
    )
    assert entry.headcount == Headcount(420, 30, 0)
    assert [(file_id or "").startswith("big-") for file_id, _ in photos] == [True] * 3
    assert {content for _, content in photos} == {FILE_BYTES}

    # The coordinator may not confirm their own entry; the bureau may.
    refused = await chat.press(COORDINATOR, ReviewCb(activity_id=entry.id, confirm=True).pack())
    assert "只有教育局管理员" in (refused.text or "")
    listed = await chat.say(ADMIN, "/activities")
    assert "宪法与未成年人保护" in listed and "待确认" in listed
    assert ReviewCb(activity_id=entry.id, confirm=True).pack() in chat.bot.last_markup_data()
    await chat.press(ADMIN, ReviewCb(activity_id=entry.id, confirm=True).pack())
    async with chat.session_factory() as session:
        confirmed = await UnitOfWork.over(session).activities.get(entry.id)
    assert confirmed is not None and confirmed.status is ActivityStatus.CONFIRMED
    assert "没有待确认的活动" in await chat.say(ADMIN, "/activities")


async def test_a_teacher_records_for_their_own_class_and_students_may_not(chat: Chat) -> None:
    own = chat.world.classes["七年级2班"]
    await add_people(chat.session_factory, [TEACHER], own.id, "teacher")
    assert "只有教职工" in await chat.say(3000, "/activity")  # a student

    await chat.say(TEACHER, "/activity")
    await chat.press(TEACHER, press("kind", "class_meeting"))
    # Their one class is chosen for them: the next question is the day.
    assert "哪一天" in chat.bot.sent_texts(TEACHER)[-1]
    # 返回 from the day: the kind again (there was no unit to choose).
    await chat.press(TEACHER, StepBackCb().pack())
    assert "请选择活动类型" in chat.bot.sent_texts(TEACHER)[-1]
    await chat.press(TEACHER, press("kind", "class_meeting"))
    forged = await chat.press(TEACHER, press("unit", str(chat.world.classes["七年级1班"].id)))
    assert "过期" in (forged.text or "")
    assert "还没到" in await chat.say(TEACHER, "2099-01-01")
    assert "请输入活动名称" in await chat.say(TEACHER, yesterday())
    await chat.say(TEACHER, "拒绝校园欺凌")
    await chat.press(TEACHER, ThemeCb(theme="anti_bullying").pack())
    assert "照片" in await chat.say(TEACHER, "44 1 0")
    await chat.press(TEACHER, press("photos_done"))
    assert "照片：0 张" in chat.bot.sent_texts(TEACHER)[-1]
    await chat.press(TEACHER, press("save"))
    assert "已保存" in chat.bot.sent_texts(TEACHER)[-1]
    listed = await chat.say(TEACHER, "/activities")
    assert "拒绝校园欺凌" in listed and "七年级2班" in listed


async def test_cancel_leaves_without_saving(chat: Chat) -> None:
    await chat.say(COORDINATOR, "/activity")
    await chat.press(COORDINATOR, press("kind", "morning_reading"))
    assert "没有保存" in await chat.say(COORDINATOR, "/cancel")
    stale = await chat.press(
        COORDINATOR, press("unit", str(chat.world.schools["胡杨河市第一中学"].id))
    )
    assert "过期" in (stale.text or "")
    async with chat.session_factory() as session:
        uow = UnitOfWork.over(session)
        root = (await uow.units.roots())[0]
        assert await uow.activities.within(root) == []


async def test_help_tells_staff_and_teachers_how_to_record_and_log_in(chat: Chat) -> None:
    await add_people(
        chat.session_factory, [TEACHER], chat.world.classes["七年级2班"].id, "teacher"
    )
    teacher = await chat.say(TEACHER, "/help")
    assert "/activity" in teacher and "/web" in teacher
    student = await chat.say(3000, "/help")
    assert "/activity" not in student and "/web" not in student
    assert "/activities — 审核学校录入的线下活动" in await chat.say(ADMIN, "/help")


async def test_only_the_bureau_may_type_a_schools_name(chat: Chat) -> None:
    await chat.say(COORDINATOR, "/activity")
    await chat.press(COORDINATOR, press("kind", "morning_reading"))
    assert "请点上面的按钮" in await chat.say(COORDINATOR, "一三七团第一小学")
    await chat.say(ADMIN, "/activity")
    await chat.press(ADMIN, press("kind", "morning_reading"))
    assert "或直接输入学校名称" in chat.bot.sent_texts(ADMIN)[-1]
    # An event is a school's or a class's: no regiments on offer, nor everyone.
    assert chat.bot.last_buttons() == ["按学校选择", "按班级选择", "« 返回", "取消"]
    assert "哪一天" in await chat.say(ADMIN, "一三七团第一小学")
