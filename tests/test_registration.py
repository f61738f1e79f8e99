"""Registration in chat, in-process: update in, rows in the database, message out."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from aiogram import Dispatcher
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.types import Chat, Message, MessageEntity, Update, User
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.factory import create_dispatcher
from bot.views.registration import NameCb, ProfileCb, RoleCb, UnitCb
from quizzes.participants import Role
from quizzes.roster import RosterRow
from quizzes.units import UnitKind
from storage.models import InviteCodeRow, ParticipantRow
from storage.repositories import Repositories
from storage.roster_import import import_roster
from tests.factories import World, build_world
from tests.mocked_bot import MockedBot, callback_update, text_update, user

ADMIN_ID = 9000


@pytest.fixture
async def world(session_factory: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(session_factory)


@pytest.fixture
def dp(session_factory: async_sessionmaker[AsyncSession]) -> Dispatcher:
    settings = Settings(bot_token="42:TEST-token", admin_ids=frozenset({ADMIN_ID}))
    return create_dispatcher(
        settings,
        session_factory,
        storage=MemoryStorage(),
        events_isolation=SimpleEventIsolation(),
    )


@pytest.fixture
def bot() -> MockedBot:
    return MockedBot()


async def participant_row(
    session_factory: async_sessionmaker[AsyncSession], telegram_id: int
) -> ParticipantRow | None:
    async with session_factory() as session:
        query = select(ParticipantRow).where(ParticipantRow.telegram_id == telegram_id)
        return (await session.execute(query)).scalar_one_or_none()


async def test_invite_link_joins_class_and_asks_only_the_name(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    student = user(101, first_name="李华")
    code = world.codes[("七年级1班", Role.STUDENT)]

    await dp.feed_update(bot, text_update(student, f"/start {code}"))

    texts = bot.sent_texts(101)
    assert "你已加入：129团 · 胡杨河市第一中学 · 七年级1班" in texts[0]
    assert "请输入你的称呼" in texts[1]
    row = await participant_row(session_factory, 101)
    assert row is not None and row.unit_id == world.classes["七年级1班"].id
    assert row.role == "student" and row.joined_at is None

    await dp.feed_update(bot, text_update(student, "李同学"))

    assert "注册完成" in bot.sent_texts(101)[-1]
    assert "李同学" in bot.sent_texts(101)[-1]
    row = await participant_row(session_factory, 101)
    assert row is not None and row.display_name == "李同学" and row.joined_at is not None


async def test_telegram_name_button_completes_registration(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    teacher = user(102, first_name="王老师")
    await dp.feed_update(
        bot, text_update(teacher, f"/start {world.codes[('一三一团中学', Role.TEACHER)]}")
    )
    assert bot.last_markup_data() == [NameCb().pack()]

    await dp.feed_update(bot, callback_update(teacher, NameCb().pack()))

    row = await participant_row(session_factory, 102)
    assert row is not None and row.display_name == "王老师" and row.role == "teacher"
    assert row.joined_at is not None


async def test_second_tap_on_the_link_changes_nothing(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    student = user(103)
    code = world.codes[("七年级2班", Role.STUDENT)]
    await dp.feed_update(bot, text_update(student, f"/start {code}"))
    await dp.feed_update(bot, text_update(student, "小明"))
    first = await participant_row(session_factory, 103)

    await dp.feed_update(bot, text_update(student, f"/start {code}"))

    assert "无需重复加入" in bot.sent_texts(103)[-2]
    second = await participant_row(session_factory, 103)
    assert first is not None and second is not None
    assert second.joined_at == first.joined_at and second.unit_id == first.unit_id
    async with session_factory() as session:
        count = await session.scalar(select(func.count()).select_from(ParticipantRow))
    assert count == 1


@pytest.mark.parametrize("payload", ["garbled-code-xyz", "bad!chars"])
async def test_unknown_code_explains_and_offers_the_walk(
    dp: Dispatcher, bot: MockedBot, world: World, payload: str
) -> None:
    await dp.feed_update(bot, text_update(user(104), f"/start {payload}"))
    texts = bot.sent_texts(104)
    assert "邀请链接无效" in texts[0]
    assert "请选择你所在的团场" in texts[1]


async def test_revoked_code_is_refused(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    code = world.codes[("七年级1班", Role.STUDENT)]
    async with session_factory() as session:
        await Repositories.over(session).invites.revoke(code)
        await session.commit()
    await dp.feed_update(bot, text_update(user(105), f"/start {code}"))
    assert "已经停用" in bot.sent_texts(105)[0]
    row = await participant_row(session_factory, 105)
    assert row is not None and row.unit_id is None


async def test_walk_regiment_school_class_role_name(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    parent = user(106, first_name="家长", language_code="en")
    await dp.feed_update(bot, text_update(parent, "/start"))
    assert "Choose your regiment" in bot.sent_texts(106)[-1]
    school = world.schools["胡杨河市第一中学"]
    regiment_id = school.parent_id
    assert regiment_id is not None

    await dp.feed_update(bot, callback_update(parent, UnitCb(id=regiment_id).pack()))
    assert UnitCb(id=school.id).pack() in bot.last_markup_data()
    await dp.feed_update(bot, callback_update(parent, UnitCb(id=school.id).pack()))
    klass = world.classes["七年级2班"]
    assert UnitCb(id=klass.id).pack() in bot.last_markup_data()
    await dp.feed_update(bot, callback_update(parent, UnitCb(id=klass.id).pack()))
    assert "Are you a student, a teacher or a parent?" in bot.sent_texts(106)[-1]
    await dp.feed_update(bot, callback_update(parent, RoleCb(role=Role.PARENT).pack()))
    await dp.feed_update(bot, text_update(parent, "Mrs Li"))

    row = await participant_row(session_factory, 106)
    assert row is not None
    assert (row.unit_id, row.role, row.display_name) == (klass.id, "parent", "Mrs Li")
    assert row.locale == "en" and row.joined_at is not None
    assert "You are registered" in bot.sent_texts(106)[-1]


async def test_stale_and_forged_buttons_get_a_toast_and_change_nothing(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    someone = user(107)
    # A role button pressed with no registration in progress, and data nobody ever sent.
    await dp.feed_update(bot, callback_update(someone, RoleCb(role=Role.TEACHER).pack()))
    await dp.feed_update(bot, callback_update(someone, "u:999999:0"))
    await dp.feed_update(bot, callback_update(someone, "zz:forged"))
    answers = [m for m in bot.recorder.requests if type(m).__name__ == "AnswerCallbackQuery"]
    assert len(answers) == 3
    assert all("过期" in (a.text or "") for a in answers)  # type: ignore[attr-defined]
    row = await participant_row(session_factory, 107)
    assert row is not None and row.role is None and row.unit_id is None


async def test_free_text_unknown_command_and_buttons_expected(
    dp: Dispatcher, bot: MockedBot, world: World
) -> None:
    someone = user(108)
    await dp.feed_update(bot, text_update(someone, "/nonsense"))
    assert "没有这个命令" in bot.sent_texts(108)[-1]
    await dp.feed_update(bot, text_update(someone, "/start"))
    await dp.feed_update(bot, text_update(someone, "129团"))
    assert "请点击上面的按钮" in bot.sent_texts(108)[-1]


async def test_name_too_long_or_command_is_refused(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    student = user(109)
    await dp.feed_update(
        bot, text_update(student, f"/start {world.codes[('七年级1班', Role.STUDENT)]}")
    )
    await dp.feed_update(bot, text_update(student, "名" * 40))
    assert "这个称呼不能用" in bot.sent_texts(109)[-1]
    row = await participant_row(session_factory, 109)
    assert row is not None and row.display_name is None


async def test_html_in_a_name_is_escaped(dp: Dispatcher, bot: MockedBot, world: World) -> None:
    student = user(110)
    await dp.feed_update(
        bot, text_update(student, f"/start {world.codes[('七年级1班', Role.STUDENT)]}")
    )
    await dp.feed_update(bot, text_update(student, "<b>x</b>"))
    assert "&lt;b&gt;x&lt;/b&gt;" in bot.sent_texts(110)[-1]


async def test_stop_subscribe_language_and_me(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    student = user(111)
    await dp.feed_update(bot, text_update(student, "/stop"))
    row = await participant_row(session_factory, 111)
    assert row is not None and row.subscribed is False
    await dp.feed_update(bot, text_update(student, "/subscribe"))
    row = await participant_row(session_factory, 111)
    assert row is not None and row.subscribed is True
    await dp.feed_update(bot, callback_update(student, "l:en"))
    row = await participant_row(session_factory, 111)
    assert row is not None and row.locale == "en"
    await dp.feed_update(bot, text_update(student, "/me"))
    assert "My profile" in bot.sent_texts(111)[-1]
    await dp.feed_update(bot, text_update(student, "/help"))
    assert "/grant" not in bot.sent_texts(111)[-1]


async def test_grant_coordinator_and_admin(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    admin, teacher = user(ADMIN_ID), user(112)
    await dp.feed_update(bot, text_update(teacher, "/start"))
    await dp.feed_update(bot, text_update(teacher, "/grant admin 1"))
    assert "只有管理员" in bot.sent_texts(112)[-1]

    await dp.feed_update(bot, text_update(admin, "/grant coordinator 112 胡杨河市第一中学"))
    assert "学校联络员" in bot.sent_texts(ADMIN_ID)[-1]
    await dp.feed_update(bot, text_update(admin, "/grant coordinator 112 胡杨河市第一中学"))
    assert "已经拥有" in bot.sent_texts(ADMIN_ID)[-1]
    await dp.feed_update(bot, text_update(admin, "/grant admin 112"))
    await dp.feed_update(bot, text_update(admin, "/grant admin 112"))
    await dp.feed_update(bot, text_update(admin, "/grant coordinator 112 不存在的学校"))
    assert "找不到学校" in bot.sent_texts(ADMIN_ID)[-1]
    await dp.feed_update(bot, text_update(admin, "/grant nonsense"))
    assert "用法" in bot.sent_texts(ADMIN_ID)[-1]

    await dp.feed_update(bot, text_update(teacher, "/help"))
    assert "/grant" in bot.sent_texts(112)[-1]
    async with session_factory() as session:
        repo = Repositories.over(session)
        target = await repo.participants.by_telegram_id(112)
        assert target is not None
        kinds = sorted(g.kind.value for g in await repo.grants.of(target.id))
    assert kinds == ["admin", "coordinator"]

    await dp.feed_update(bot, text_update(admin, "/revoke admin 112"))
    await dp.feed_update(bot, text_update(teacher, "/help"))
    assert "/grant" not in bot.sent_texts(112)[-1]


async def test_message_flood_is_cut_with_one_warning(dp: Dispatcher, bot: MockedBot) -> None:
    spammer = user(113)
    for _ in range(25):
        await dp.feed_update(bot, text_update(spammer, "hello"))
    texts = bot.sent_texts(113)
    assert sum("太快" in t for t in texts) == 1
    assert len(texts) == 11  # ten answered, one warning, the rest dropped


def group_update(from_user: User, text: str, chat_id: int = -100500) -> Update:
    command = text.split()[0]
    message = Message(
        message_id=next(_group_message_ids),
        date=datetime.now(UTC),
        chat=Chat(id=chat_id, type="group", title="七年级1班"),
        from_user=from_user,
        text=text,
        entities=[MessageEntity(type="bot_command", offset=0, length=len(command))],
    )
    return Update(update_id=next(_group_message_ids), message=message)


_group_message_ids = itertools.count(900_000)


async def register(dp: Dispatcher, bot: MockedBot, who: User, code: str, name: str) -> None:
    await dp.feed_update(bot, text_update(who, f"/start {code}"))
    await dp.feed_update(bot, text_update(who, name))


@pytest.mark.parametrize(
    "name", ['=HYPERLINK("http://x.example","点击领取证书")', "-1+2", "+8613900000000", "@all"]
)
async def test_formula_like_name_is_refused_with_the_reason(
    dp: Dispatcher,
    bot: MockedBot,
    world: World,
    session_factory: async_sessionmaker[AsyncSession],
    name: str,
) -> None:
    student = user(120)
    await register(dp, bot, student, world.codes[("七年级1班", Role.STUDENT)], name)
    assert "不能以 =、+、-、@ 开头" in bot.sent_texts(120)[-1]
    row = await participant_row(session_factory, 120)
    assert row is not None and row.display_name is None and row.joined_at is None

    # The same rule when the name is changed later from /me.
    await dp.feed_update(bot, text_update(student, "李华"))
    await dp.feed_update(bot, callback_update(student, ProfileCb(field="name").pack()))
    await dp.feed_update(bot, text_update(student, "\t" + name))
    assert "不能以 =、+、-、@ 开头" in bot.sent_texts(120)[-1]
    row = await participant_row(session_factory, 120)
    assert row is not None and row.display_name == "李华"


async def test_formula_like_telegram_name_is_not_taken_by_the_button(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    student = user(121, first_name="=1+1")
    await dp.feed_update(
        bot, text_update(student, f"/start {world.codes[('七年级1班', Role.STUDENT)]}")
    )
    await dp.feed_update(bot, callback_update(student, NameCb().pack()))
    assert "不能以 =、+、-、@ 开头" in bot.sent_texts(121)[-1]
    row = await participant_row(session_factory, 121)
    assert row is not None and row.display_name is None


async def test_changing_only_the_name_in_me_says_updated_not_registered(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    student = user(122)
    await register(dp, bot, student, world.codes[("七年级1班", Role.STUDENT)], "小明")
    assert "注册完成" in bot.sent_texts(122)[-1]
    first = await participant_row(session_factory, 122)

    await dp.feed_update(bot, text_update(student, "/me"))
    await dp.feed_update(bot, callback_update(student, ProfileCb(field="name").pack()))
    await dp.feed_update(bot, text_update(student, "李小明"))

    reply = bot.sent_texts(122)[-1]
    assert "注册完成" not in reply
    assert "资料已更新" in reply and "李小明" in reply
    second = await participant_row(session_factory, 122)
    assert first is not None and second is not None
    assert second.display_name == "李小明" and second.joined_at == first.joined_at

    await dp.feed_update(bot, callback_update(student, ProfileCb(field="role").pack()))
    await dp.feed_update(bot, callback_update(student, RoleCb(role=Role.PARENT).pack()))
    assert "资料已更新" in bot.sent_texts(122)[-1]


@pytest.mark.parametrize(
    ("role", "example", "not_shown"),
    [(Role.TEACHER, "张老师", "张同学"), (Role.STUDENT, "张同学", "张老师")],
)
async def test_name_prompt_example_fits_the_role(
    dp: Dispatcher, bot: MockedBot, world: World, role: Role, example: str, not_shown: str
) -> None:
    unit = "胡杨河市第一中学" if role is Role.TEACHER else "七年级1班"
    await dp.feed_update(bot, text_update(user(123), f"/start {world.codes[(unit, role)]}"))
    prompt = bot.sent_texts(123)[-1]
    assert example in prompt and not_shown not in prompt

    # /me → change name asks the same way.
    await dp.feed_update(bot, text_update(user(123), "王芳"))
    await dp.feed_update(bot, callback_update(user(123), ProfileCb(field="name").pack()))
    prompt = bot.sent_texts(123)[-1]
    assert example in prompt and not_shown not in prompt


async def test_stop_in_a_group_never_touches_anyones_subscription(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    teacher = user(124, first_name="王老师")
    await register(dp, bot, teacher, world.codes[("胡杨河市第一中学", Role.TEACHER)], "王老师")

    await dp.feed_update(bot, group_update(teacher, "/stop"))
    await dp.feed_update(bot, group_update(teacher, "/stop@pufa_test_bot"))

    row = await participant_row(session_factory, 124)
    assert row is not None and row.subscribed is True
    assert "私聊" in bot.sent_texts(-100500)[-1]

    await dp.feed_update(bot, text_update(teacher, "/stop"))
    await dp.feed_update(bot, group_update(teacher, "/subscribe"))
    row = await participant_row(session_factory, 124)
    assert row is not None and row.subscribed is False


@pytest.mark.parametrize(
    "typed",
    [
        lambda code: code.lower(),
        lambda code: code.translate({ord(c): ord(c) + 0xFEE0 for c in code}),  # full-width
        lambda code: f"{code[:4]} {code[4:8]}-{code[8:]}",
    ],
    ids=["lower case", "full-width", "grouped"],
)
async def test_printed_code_is_accepted_as_a_person_types_it(
    dp: Dispatcher,
    bot: MockedBot,
    world: World,
    session_factory: async_sessionmaker[AsyncSession],
    typed: Callable[[str], str],
) -> None:
    code = world.codes[("七年级2班", Role.STUDENT)]
    await dp.feed_update(bot, text_update(user(125), f"/start {typed(code)}"))
    assert "你已加入：129团 · 胡杨河市第一中学 · 七年级2班" in bot.sent_texts(125)[0]
    async with session_factory() as session:
        uses = await session.scalar(select(InviteCodeRow.uses).where(InviteCodeRow.code == code))
    assert uses == 1


@pytest.mark.parametrize("typed", ["K0M1PQRS7TV1", "kOmIpqrs7tvl", "KOMLPQRS7TVI"])
async def test_letters_read_as_digits_are_taken_as_the_digits(
    dp: Dispatcher,
    bot: MockedBot,
    world: World,
    session_factory: async_sessionmaker[AsyncSession],
    typed: str,
) -> None:
    klass = world.classes["七年级2班"]
    async with session_factory() as session:
        session.add(InviteCodeRow(code="K0M1PQRS7TV1", unit_id=klass.id, role="student"))
        await session.commit()
    await dp.feed_update(bot, text_update(user(129), f"/start {typed}"))
    assert "你已加入：129团 · 胡杨河市第一中学 · 七年级2班" in bot.sent_texts(129)[0]


@pytest.mark.parametrize("typed", ["-Vy_IIoo9DA5", "'-Vy_IIoo9DA5", "－Ｖｙ＿ＩＩｏｏ９ＤＡ５"])
async def test_codes_handed_out_before_keep_working(
    dp: Dispatcher,
    bot: MockedBot,
    world: World,
    session_factory: async_sessionmaker[AsyncSession],
    typed: str,
) -> None:
    klass = world.classes["七年级1班"]
    async with session_factory() as session:
        session.add(InviteCodeRow(code="-Vy_IIoo9DA5", unit_id=klass.id, role="student"))
        await session.commit()
    await dp.feed_update(bot, text_update(user(126), f"/start {typed}"))
    assert "你已加入：129团 · 胡杨河市第一中学 · 七年级1班" in bot.sent_texts(126)[0]


async def test_two_schools_of_one_name_are_shown_with_their_regiment(
    dp: Dispatcher, bot: MockedBot, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    rows = [
        RosterRow(2, "129团", "中心小学", "一年级1班", 30, 2),
        RosterRow(3, "131团", "中心小学", "一年级1班", 28, 2),
    ]
    async with session_factory() as session:
        await import_roster(session, rows, "第七师")
        repo = Repositories.over(session)
        regiment = next(
            r for r in await repo.units.of_kind(UnitKind.REGIMENT) if r.name == "131团"
        )
        [school] = await repo.units.children(regiment.id)
        [klass] = await repo.units.children(school.id)
        await session.commit()
    parent = user(127)
    await dp.feed_update(bot, text_update(parent, "/start"))
    await dp.feed_update(bot, callback_update(parent, UnitCb(id=regiment.id).pack()))
    await dp.feed_update(bot, callback_update(parent, UnitCb(id=school.id).pack()))
    assert bot.sent_texts(127)[-1].startswith("131团 · 中心小学：请选择班级")
    await dp.feed_update(bot, callback_update(parent, UnitCb(id=klass.id).pack()))
    assert "131团 · 中心小学 · 一年级1班" in bot.sent_texts(127)[-2]


async def test_a_retired_class_is_not_offered_and_its_old_button_is_stale(
    dp: Dispatcher, bot: MockedBot, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    klass, school = world.classes["七年级2班"], world.schools["胡杨河市第一中学"]
    async with session_factory() as session:
        await Repositories.over(session).units.retire([klass], datetime.now(UTC))
        await session.commit()
    student = user(128)
    await dp.feed_update(bot, text_update(student, "/start"))
    assert school.parent_id is not None
    await dp.feed_update(bot, callback_update(student, UnitCb(id=school.parent_id).pack()))
    await dp.feed_update(bot, callback_update(student, UnitCb(id=school.id).pack()))
    assert UnitCb(id=klass.id).pack() not in bot.last_markup_data()
    assert UnitCb(id=world.classes["七年级1班"].id).pack() in bot.last_markup_data()

    await dp.feed_update(bot, callback_update(student, UnitCb(id=klass.id).pack()))
    answers = [m for m in bot.recorder.requests if type(m).__name__ == "AnswerCallbackQuery"]
    assert "过期" in (answers[-1].text or "")  # type: ignore[attr-defined]
    row = await participant_row(session_factory, 128)
    assert row is not None and row.unit_id is None
