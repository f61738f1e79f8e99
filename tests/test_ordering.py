"""Natural order of unit names, and the pickers of the dialogues that show it."""

from __future__ import annotations

from bot.views.audience import BackCb, LevelCb, OpenCb, UnitCb
from bot.views.themes import ThemeCb
from quizzes.ordering import by_name, chinese_number, natural_key
from quizzes.units import Unit, UnitKind
from storage.repositories import Repositories
from tests.publicity_chat import ADMIN, Chat, chat

__all__ = ["chat"]  # the fixture


def ordered(names: list[str]) -> list[str]:
    return sorted(names, key=natural_key)


def test_chinese_numerals_are_read_as_numbers() -> None:
    assert [chinese_number(n) for n in ("二", "十", "十二", "二十", "二十三")] == [
        2,
        10,
        12,
        20,
        23,
    ]
    assert [chinese_number(n) for n in ("一百零五", "一千零一十", "一三一", "一二九")] == [
        105,
        1010,
        131,
        129,
    ]


def test_names_sort_naturally() -> None:
    assert ordered(["131团", "129团", "1团", "20团"]) == ["1团", "20团", "129团", "131团"]
    assert ordered(["第三中学", "第十中学", "第二中学", "第十一中学"]) == [
        "第二中学",
        "第三中学",
        "第十中学",
        "第十一中学",
    ]
    assert ordered(["一三一团中学", "一二九团中学"]) == ["一二九团中学", "一三一团中学"]
    assert ordered(["七年级10班", "七年级2班", "八年级1班", "七年级1班"]) == [
        "七年级1班",
        "七年级2班",
        "七年级10班",
        "八年级1班",
    ]
    # Code-point order would put 三 (U+4E09) before 二 (U+4E8C).
    assert sorted(["第三小学", "第二小学"]) == ["第三小学", "第二小学"]
    assert ordered(["第三小学", "第二小学"]) == ["第二小学", "第三小学"]
    assert ordered(["实验中学", "2中", "第1中学"]) == ["2中", "实验中学", "第1中学"]


def test_units_of_the_same_name_keep_their_roster_order() -> None:
    units = [
        Unit(3, UnitKind.SCHOOL, "第一中学", 1, "/1/3/"),
        Unit(2, UnitKind.SCHOOL, "第一中学", 9, "/9/2/"),
    ]
    assert [u.id for u in by_name(units)] == [2, 3]


async def add_schools(chat: Chat, names: list[str]) -> None:
    async with chat.session_factory() as session:
        repo = Repositories.over(session)
        regiment = next(
            u for u in await repo.units.of_kind(UnitKind.REGIMENT) if u.name == "129团"
        )
        school = next(u for u in await repo.units.children(regiment.id))
        for name in names:
            await repo.units.ensure(regiment, UnitKind.SCHOOL, name)
        for name in ("七年级10班", "七年级3班"):
            await repo.units.ensure(school, UnitKind.CLASS, name)
        await session.commit()


def button_texts(chat: Chat) -> list[str]:
    return chat.bot.last_buttons()


async def test_the_post_and_lecture_pickers_show_schools_and_classes_in_natural_order(
    chat: Chat,
) -> None:
    await add_schools(chat, ["第三中学", "第十中学", "第二中学"])
    await chat.say(ADMIN, "/post")
    await chat.say(ADMIN, "宪法宣传周\n学习宪法。")
    await chat.press(ADMIN, ThemeCb(theme="constitution").pack())
    await chat.press(ADMIN, LevelCb(level="schools").pack())
    schools = [t for t in button_texts(chat) if "中学" in t or "小学" in t]
    assert schools == [
        "一三一团中学",
        "一三七团第一小学",
        "第二中学",
        "第三中学",
        "第十中学",
        "胡杨河市第一中学",
    ]
    await chat.press(ADMIN, BackCb().pack())
    await chat.press(ADMIN, LevelCb(level="classes").pack())
    first = chat.world.schools["胡杨河市第一中学"]
    await chat.press(ADMIN, OpenCb(school=first.id).pack())
    classes = [t for t in button_texts(chat) if t.endswith("班")]
    assert classes == ["七年级1班", "七年级2班", "七年级3班", "七年级10班"]
    await chat.say(ADMIN, "/cancel")

    await chat.say(ADMIN, "/newlecture")
    for answer in ("宪法与生活", "李老师", "2099-01-01 09:00", "90", "-"):
        await chat.say(ADMIN, answer)
    await chat.press(ADMIN, LevelCb(level="schools").pack())
    shown = [t for t in button_texts(chat) if "中学" in t or "小学" in t]
    assert shown == schools


async def test_two_schools_of_one_name_are_told_apart_in_pickers_and_grants(
    chat: Chat,
) -> None:
    """Two 中心小学 in two regiments: every picker shows each after its regiment, and
    /grant takes the school written with its regiment."""
    async with chat.session_factory() as session:
        repo = Repositories.over(session)
        regiments = {u.name: u for u in await repo.units.of_kind(UnitKind.REGIMENT)}
        first, _ = await repo.units.ensure(regiments["129团"], UnitKind.SCHOOL, "中心小学")
        second, _ = await repo.units.ensure(regiments["131团"], UnitKind.SCHOOL, "中心小学")
        await session.commit()
    await chat.say(ADMIN, "/post")
    await chat.say(ADMIN, "宪法宣传周\n学习宪法。")
    await chat.press(ADMIN, ThemeCb(theme="constitution").pack())
    await chat.press(ADMIN, LevelCb(level="schools").pack())
    shown = [t for t in button_texts(chat) if "中心小学" in t]
    assert shown == ["129团 · 中心小学", "131团 · 中心小学"]
    await chat.press(ADMIN, UnitCb(unit=second.id).pack())
    assert "✅ 131团 · 中心小学" in button_texts(chat)
    await chat.say(ADMIN, "/cancel")

    await chat.say(ADMIN, "/newlecture")
    for answer in ("宪法与生活", "李老师", "2099-01-01 09:00", "90", "-"):
        await chat.say(ADMIN, answer)
    await chat.press(ADMIN, LevelCb(level="schools").pack())
    assert [t for t in button_texts(chat) if "中心小学" in t] == shown
    await chat.say(ADMIN, "/cancel")

    ambiguous = await chat.say(ADMIN, f"/grant coordinator {ADMIN} 中心小学")
    assert "129团 · 中心小学" in ambiguous and "131团 · 中心小学" in ambiguous
    assert "131团" in ambiguous or "129团" in ambiguous
    granted = await chat.say(ADMIN, f"/grant coordinator {ADMIN} 131团 中心小学")
    assert "131团 · 中心小学" in granted
    assert ("coordinator", second.id) in await chat.grants_of(ADMIN)
    assert ("coordinator", first.id) not in await chat.grants_of(ADMIN)
