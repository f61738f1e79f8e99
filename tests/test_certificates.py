"""Certificates: what is printed stays inside the frame, whatever name the bot accepted;
what a certificate says (合格 or 优秀, to whom, by whom), and that ``/verify CODE`` confirms it.
"""

from __future__ import annotations

import io
import re
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest
from aiogram import Dispatcher
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.methods import SendDocument
from aiogram.types import BufferedInputFile
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image, ImageChops
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.certificates import HEIGHT, WIDTH, CertificateText, render_certificate
from bot.config import Settings
from bot.factory import create_dispatcher
from bot.i18n import Translator
from bot.verification import add_verification_routes
from handlers.certificates import AgeCb, CertificateCb
from quizzes.campaigns import SpecError, parse_campaign_spec
from quizzes.certificates import VERIFY_CODE_LENGTH
from quizzes.participants import DISPLAY_NAME_MAX, Role, clean_display_name
from storage.models_certificates import CertificateRow
from storage.models_quiz import AttemptRow, CampaignRow
from storage.repositories import Repositories
from tests.factories import World, build_world
from tests.mocked_bot import MockedBot, callback_update, text_update, user
from tests.quiz_world import open_campaign, registered
from tests.test_quiz import answer_all, attempt_row, start

# Names of this length are common in the division: 阿卜杜热合曼·…·伊力哈木.
UYGHUR_NAME = "阿卜杜热合曼·买买提明·艾合买提江·阿卜杜克热木·伊力哈木·艾力"
LATIN_NAME = "Abdurehman Memet Ilham Abdukerim"
NO_SPACES = "W" * DISPLAY_NAME_MAX  # the widest letter, and nowhere to break a line
# The inner (red) frame is drawn 60 px in from each edge; ink must stay clear of it.
INSIDE = (80, 80, WIDTH - 80, HEIGHT - 80)
SERIAL = re.compile(r"证书编号：(\d{4}-\d{6})")
CODE = re.compile(r"查验码：([0-9A-Z]{5}-[0-9A-Z]{5})")
ADMIN = 9001
SHANGHAI = ZoneInfo("Asia/Shanghai")


def certificate_text(locale: str, name: str, **lines: str) -> CertificateText:
    _ = Translator.load().bind(locale)
    fields = {
        "title": _.plain("certificate.title_pass"),
        "name_line": _.plain("certificate.name_line", name=name) if name else "",
        "body": _.plain(
            "certificate.body_pass", campaign="2026年“宪法卫士”网络答题", percent="95"
        ),
        "issuer": "第七师教育局",
        "date_line": _.plain("certificate.date", year=2026, month=12, day=7),
        "serial_line": _.plain("certificate.serial", serial="2026-000123"),
        "verify_line": _.plain("certificate.verify_line", bot="pufa_bot", code="7KQ2M-X9PTA"),
    }
    fields.update(lines)
    return CertificateText(**fields)


def image(text: CertificateText) -> Image.Image:
    return Image.open(io.BytesIO(render_certificate(text))).convert("RGB")


def certificate(locale: str, name: str) -> Image.Image:
    return image(certificate_text(locale, name))


@pytest.mark.parametrize(
    ("locale", "name"),
    [("zh-CN", UYGHUR_NAME), ("en", UYGHUR_NAME), ("en", LATIN_NAME), ("en", NO_SPACES)],
)
def test_the_longest_accepted_name_stays_inside_the_certificate_frame(
    locale: str, name: str
) -> None:
    assert len(name) == DISPLAY_NAME_MAX and clean_display_name(name) == name
    with_name, without = certificate(locale, name), certificate(locale, "")

    # Everything the name changes (its own ink, and the text below if it moved down).
    box = ImageChops.difference(with_name, without).getbbox()
    assert box is not None, "the name was not drawn"
    left, top, right, bottom = box
    assert left >= INSIDE[0] and top >= INSIDE[1], box
    assert right <= INSIDE[2] and bottom <= INSIDE[3], box
    # And the issuer and the date, bottom right, are not overwritten.
    assert bottom < HEIGHT - 280, box


def test_a_short_name_is_printed_as_large_as_before() -> None:
    with_name, without = certificate("zh-CN", "李华"), certificate("zh-CN", "")
    box = ImageChops.difference(with_name, without).getbbox()
    assert box is not None
    # One line at the full size: about 64 px of ink around y = 400.
    assert 340 < box[1] < 400 < box[3] < 460 and box[3] - box[1] > 50, box


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_the_serial_number_and_the_verification_line_are_printed_clear_of_everything_else(
    locale: str,
) -> None:
    full = certificate_text(locale, UYGHUR_NAME)
    bare = certificate_text(locale, UYGHUR_NAME, serial_line="", verify_line="")
    no_footer = certificate_text(
        locale, UYGHUR_NAME, serial_line="", verify_line="", issuer="", date_line=""
    )
    notes = ImageChops.difference(image(full), image(bare)).getbbox()
    footer = ImageChops.difference(image(bare), image(no_footer)).getbbox()
    assert notes is not None and footer is not None, "nothing was drawn"
    left, top, right, bottom = notes
    assert left >= INSIDE[0] and right <= INSIDE[2] and bottom <= INSIDE[3], notes
    # Below the name and the body, which end above HEIGHT - 280 (see above).
    assert top > HEIGHT - 280, notes
    # The serial (bottom left) and the date (bottom right) do not touch.
    serial = ImageChops.difference(
        image(full), image(certificate_text(locale, UYGHUR_NAME, serial_line=""))
    ).getbbox()
    assert serial is not None and serial[2] < WIDTH / 2 < footer[0], (serial, footer)


def test_a_distinction_certificate_says_so_in_its_title() -> None:
    _ = Translator.load().bind("zh-CN")
    assert _.plain("certificate.title_pass") == "合格证书"
    assert _.plain("certificate.title_distinction") == "优秀证书"
    passed = image(certificate_text("zh-CN", "李华"))
    excellent = image(
        certificate_text("zh-CN", "李华", title=_.plain("certificate.title_distinction"))
    )
    box = ImageChops.difference(passed, excellent).getbbox()
    assert box is not None and box[3] < 300, box  # only the title differs


def test_a_campaign_may_set_a_distinction_mark_above_its_pass_mark() -> None:
    spec = """
name: 宪法卫士
banks: [宪法]
questions: 10
pass_mark: 60
distinction: 90
opens: 2026-12-01 08:00
closes: 2026-12-04 20:00
"""
    assert parse_campaign_spec(spec, SHANGHAI).rules.distinction == 90
    assert (
        parse_campaign_spec(spec.replace("distinction: 90\n", ""), SHANGHAI).rules.distinction
        is None
    )
    with pytest.raises(SpecError) as raised:
        parse_campaign_spec(spec.replace("distinction: 90", "distinction: 50"), SHANGHAI)
    assert [p.key for p in raised.value.problems] == ["distinction"]


@pytest.fixture
async def world(session_factory: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(session_factory)


def make_dp(
    session_factory: async_sessionmaker[AsyncSession],
    issuer: str | None = None,
    public_url: str | None = None,
) -> Dispatcher:
    settings = Settings(
        bot_token="42:TEST-token",
        admin_ids=frozenset({ADMIN}),
        issuer=issuer,
        public_url=public_url,
    )
    return create_dispatcher(
        settings, session_factory, storage=MemoryStorage(), events_isolation=SimpleEventIsolation()
    )


def documents(bot: MockedBot, chat_id: int) -> list[SendDocument]:
    return [
        m for m in bot.recorder.requests if isinstance(m, SendDocument) and m.chat_id == chat_id
    ]


def png_of(document: SendDocument) -> Image.Image:
    assert isinstance(document.document, BufferedInputFile)
    return Image.open(io.BytesIO(document.document.data)).convert("RGB")


async def passed(
    dp: Dispatcher,
    bot: MockedBot,
    session_factory: async_sessionmaker[AsyncSession],
    campaign_id: int,
    telegram_id: int,
    unit_id: int,
    *,
    role: Role = Role.STUDENT,
    name: str = "小华",
    wrong: frozenset[int] = frozenset(),
) -> int:
    participant = await registered(session_factory, telegram_id, unit_id, role=role, name=name)
    await start(dp, bot, telegram_id, campaign_id)
    attempt = await attempt_row(session_factory, participant.id)
    await answer_all(dp, bot, session_factory, telegram_id, attempt.id, 5, wrong=set(wrong))
    assert (await attempt_row(session_factory, participant.id)).passed
    return attempt.id


async def with_real_name(
    dp: Dispatcher, bot: MockedBot, telegram_id: int, attempt_id: int, real_name: str
) -> SendDocument:
    """The certificate of a student of 14 or older, asked for in chat."""
    await dp.feed_update(bot, text_update(user(telegram_id), "/certificate"))
    await dp.feed_update(
        bot, callback_update(user(telegram_id), CertificateCb(attempt=attempt_id).pack())
    )
    await dp.feed_update(
        bot, callback_update(user(telegram_id), AgeCb(attempt=attempt_id, under_14=False).pack())
    )
    await dp.feed_update(bot, text_update(user(telegram_id), real_name))
    return documents(bot, telegram_id)[-1]


def serial_and_code(document: SendDocument) -> tuple[str, str]:
    caption = document.caption or ""
    serial, code = SERIAL.search(caption), CODE.search(caption)
    assert serial is not None and code is not None, caption
    return serial.group(1), code.group(1)


async def test_verify_confirms_a_certificate_and_shows_the_real_name_only_to_staff(
    world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    dp, bot = make_dp(session_factory), MockedBot()
    campaign = await open_campaign(session_factory, questions=5)
    async with session_factory() as session:
        await session.execute(
            update(CampaignRow).where(CampaignRow.id == campaign.id).values(distinction=90)
        )
        await session.commit()
    class_1 = world.classes["七年级1班"].id
    good = await passed(dp, bot, session_factory, campaign.id, 401, class_1, wrong=frozenset({3}))
    best = await passed(dp, bot, session_factory, campaign.id, 402, class_1, name="小红")

    first = await with_real_name(dp, bot, 401, good, "李小华")
    assert "合格证书" in (first.caption or "")
    serial, code = serial_and_code(first)
    # Issuing the same certificate again gives the same serial and code.
    await dp.feed_update(bot, callback_update(user(401), CertificateCb(attempt=good).pack()))
    again = documents(bot, 401)[-1]
    assert again is not first and serial_and_code(again) == (serial, code)
    assert ImageChops.difference(png_of(first), png_of(again)).getbbox() is None
    excellent = await with_real_name(dp, bot, 402, best, "王小红")
    assert "优秀证书" in (excellent.caption or "")
    assert serial_and_code(excellent)[0] != serial and serial_and_code(excellent)[1] != code
    async with session_factory() as session:
        assert len((await session.scalars(select(CertificateRow))).all()) == 2

    # A classmate (or anyone) sees the display name, never the real one.
    await registered(session_factory, 403, class_1, name="同桌")
    await dp.feed_update(bot, text_update(user(403), f"/verify {code.lower()}"))
    answer = bot.sent_texts(403)[-1]
    assert "证书真实有效" in answer and serial in answer and "宪法卫士测试" in answer
    assert "小华" in answer and "李小华" not in answer and "合格" in answer
    await dp.feed_update(bot, text_update(user(403), f"/verify {serial_and_code(excellent)[1]}"))
    assert "优秀" in bot.sent_texts(403)[-1] and "王小红" not in bot.sent_texts(403)[-1]
    # Someone who never registered (a parent, another school) may check it too.
    await dp.feed_update(bot, text_update(user(499), f"/verify {code}"))
    assert "证书真实有效" in bot.sent_texts(499)[-1] and "李小华" not in bot.sent_texts(499)[-1]
    # Staff see the real name.
    await registered(session_factory, ADMIN, class_1, role=Role.TEACHER, name="管理员")
    await dp.feed_update(bot, text_update(user(ADMIN), f"/verify {code}"))
    assert "李小华" in bot.sent_texts(ADMIN)[-1]
    # The printed web address says the same, without the real name.
    app = web.Application()
    add_verification_routes(app, session_factory, Translator.load().bind("zh-CN"), SHANGHAI)
    async with TestClient(TestServer(app)) as http:
        async with http.get(f"/v/{code}") as response:
            page = await response.text()
            assert response.status == 200, page
        assert "证书真实有效" in page and serial in page and "小华" in page
        assert "李小华" not in page and "合格" in page
        async with http.get("/v/0000000000") as response:
            assert response.status == 404 and "查无此证书" in await response.text()
        async with http.get("/v/%3Cscript%3E") as response:
            assert response.status == 404 and "<script>" not in await response.text()
    # A code no certificate has, and no code at all.
    unknown = "0" * VERIFY_CODE_LENGTH if code.replace("-", "") != "0" * 10 else "1" * 10
    await dp.feed_update(bot, text_update(user(403), f"/verify {unknown}"))
    assert "查无此证书" in bot.sent_texts(403)[-1]
    await dp.feed_update(bot, text_update(user(403), "/verify"))
    assert "用法" in bot.sent_texts(403)[-1]


async def test_a_teacher_is_not_called_a_student_and_the_issuer_is_the_bureau(
    world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    campaign = await open_campaign(session_factory, questions=5)
    class_1 = world.classes["七年级1班"].id
    site = "https://pufa.example.cn"
    for issuer, telegram_id, url in ((None, 411, None), ("第七师教育局", 412, site)):
        dp, bot = make_dp(session_factory, issuer=issuer, public_url=url), MockedBot()
        attempt = await passed(
            dp, bot, session_factory, campaign.id, telegram_id, class_1, role=Role.TEACHER
        )
        await dp.feed_update(bot, text_update(user(telegram_id), "/certificate"))
        await dp.feed_update(
            bot, callback_update(user(telegram_id), CertificateCb(attempt=attempt).pack())
        )
        await dp.feed_update(bot, text_update(user(telegram_id), "王芳"))
        sent = documents(bot, telegram_id)[-1]
        serial, code = serial_and_code(sent)
        async with session_factory() as session:
            row = await session.scalar(
                select(CertificateRow).where(CertificateRow.attempt_id == attempt)
            )
            finished = (await session.get(AttemptRow, attempt)).finished_at  # type: ignore[union-attr]
        assert row is not None and finished is not None
        _ = Translator.load().bind("zh-CN")
        day = finished.astimezone(SHANGHAI).date()
        expected = certificate_text(
            "zh-CN",
            "",
            name_line="王芳：",
            body=_.plain("certificate.body_pass", campaign=campaign.name, percent="100"),
            issuer=issuer or "第七师",
            date_line=_.plain("certificate.date", year=day.year, month=day.month, day=day.day),
            serial_line=_.plain("certificate.serial", serial=serial),
            verify_line=_.plain("certificate.verify_line", bot="pufa_test_bot", code=code)
            if url is None
            else _.plain(
                "certificate.verify_line_url",
                url=f"{site}/v/{code.replace('-', '')}",
                bot="pufa_test_bot",
                code=code,
            ),
        )
        # Exactly this certificate: 王芳 without 同学, the bureau (not the bot) as issuer.
        assert ImageChops.difference(png_of(sent), image(expected)).getbbox() is None
        assert "同学" not in expected.name_line and "普法助手" not in expected.issuer


def test_a_long_verification_address_wraps_inside_the_frame_below_the_date() -> None:
    _ = Translator.load().bind("zh-CN")
    long_line = _.plain(
        "certificate.verify_line_url",
        url="https://pufa-bot.bingtuan-qishi-jiaoyu.example.cn/v/7KQ2MX9PTA",
        bot="pufa_qishi_jiaoyuju_bot",
        code="7KQ2M-X9PTA",
    )
    with_line = image(certificate_text("zh-CN", "李华", verify_line=long_line))
    without = image(certificate_text("zh-CN", "李华", verify_line=""))
    box = ImageChops.difference(with_line, without).getbbox()
    assert box is not None
    left, top, right, bottom = box
    assert left >= INSIDE[0] and right <= INSIDE[2] and bottom <= INSIDE[3], box
    # Below the date line (centred at HEIGHT - 180, 40 px high).
    assert top > HEIGHT - 160, box


async def test_a_campaigns_distinction_mark_is_kept_in_the_database(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    made = await open_campaign(session_factory)
    async with session_factory() as session:
        repo = Repositories.over(session)
        campaign = await repo.campaigns.create(
            name="宪法卫士（优秀线）",
            bank_ids=list(made.bank_ids),
            rules=replace(made.rules, distinction=90),
            opens_at=made.opens_at,
            closes_at=made.closes_at,
            audience=made.audience,
            created_by=None,
        )
        await session.commit()
    async with session_factory() as session:
        stored = await Repositories.over(session).campaigns.get(campaign.id)
    assert stored is not None and stored.rules.distinction == 90
    assert made.rules.distinction is None
