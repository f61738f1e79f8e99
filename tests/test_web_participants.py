"""The participant pages (/m/) through aiohttp's test client, on both databases: joining
with a class's invite code, the recovery code on a second device, a whole quiz under the
chat's rules (double submit, replayed and forged forms, a second tab), the certificate,
and a web participant counted once in the report while chat messages leave them out."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.application.reports import participation_figures
from bot.application.web_participants import RECOVERY_ALPHABET, participant_key
from bot.web.participant_pages import (
    DEVICE_COOKIE,
    FORM_COOKIE,
    ParticipantPages,
    add_participant_routes,
)
from quizzes.campaigns import Audience
from quizzes.participants import Role
from quizzes.permissions import Permissions
from quizzes.statistics import Period, Statistics
from storage.models import ParticipantRow
from storage.presses import DirectPresses
from storage.repositories import Repositories
from storage.unit_of_work import UnitOfWork
from tests.publicity_chat import Chat, chat
from tests.quiz_world import open_campaign

__all__ = ["chat"]  # the fixture

CLASS = "七年级1班"
SCHOOL = "胡杨河市第一中学"
FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SIG = re.compile(r'name="sig" value="([^"]+)"')
SEQ = re.compile(r'name="seq" value="(\d+)"')
RECOVERY = re.compile(r'id="recovery-code">([A-Z0-9]{6})<')


@dataclass
class Site:
    chat: Chat
    make_client: Callable[[], TestClient]
    clock: MovedClock
    set_cookie: str = ""  # the device cookie as the last join set it

    async def code(self) -> str:
        async with self.chat.session_factory() as session:
            repo = Repositories.over(session)
            found = await repo.invites.active_for(self.chat.world.classes[CLASS].id, Role.STUDENT)
            await session.commit()
        return found.code

    async def join(self, client: TestClient, name: str = "小林") -> str:
        """Join the class; the recovery code shown."""
        code = await self.code()
        page = await client.get(f"/m/join/{code}")
        assert page.status == 200
        token = FORM_TOKEN.search(await page.text())
        assert token is not None
        joined = await client.post(
            f"/m/join/{code}", data={"name": name, "form_token": token.group(1)}
        )
        text = await joined.text()
        assert joined.status == 200, text
        assert 'class="language"' not in text  # nothing leads away from the code shown once
        self.set_cookie = next(
            value for value in joined.headers.getall("Set-Cookie") if DEVICE_COOKIE in value
        )
        recovery = RECOVERY.search(text)
        assert recovery is not None, text
        return recovery.group(1)


@dataclass
class MovedClock:
    """The pages' clock, moved on by the test (the timers are the server's)."""

    offset: timedelta = field(default_factory=timedelta)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def pages_app(
    chat: Chat,
    clock: Callable[[], datetime] | None = None,
    *,
    secure: bool = False,
    presses: DirectPresses | None = None,
) -> web.Application:
    settings = chat.context.settings
    app = web.Application()
    add_participant_routes(
        app,
        ParticipantPages(
            chat.session_factory,
            chat.context.translator,
            participant_key(settings.token),
            settings.zone,
            secure=secure,
            clock=clock or MovedClock(),
            presses=presses,
        ),
    )
    return app


@pytest.fixture
async def site(chat: Chat, presses: DirectPresses | None) -> AsyncIterator[Site]:
    """The pages as the bot serves them: on PostgreSQL, reads on the driver path."""
    clients: list[TestClient] = []
    clock = MovedClock()

    def make_client() -> TestClient:
        client = TestClient(TestServer(pages_app(chat, clock, presses=presses)))
        clients.append(client)
        return client

    yield Site(chat, make_client, clock)
    for client in clients:
        await client.close()


async def web_participants(site: Site) -> list[ParticipantRow]:
    async with site.chat.session_factory() as session:
        rows = await session.scalars(
            select(ParticipantRow).where(ParticipantRow.telegram_id.is_(None))
        )
        return list(rows)


async def test_joining_binds_the_browser_and_shows_the_recovery_code_once(site: Site) -> None:
    client = site.make_client()
    await client.start_server()
    recovery = await site.join(client)
    assert len(recovery) == 6 and set(recovery) <= set(RECOVERY_ALPHABET)
    assert not set(recovery) & set("0O1IL")
    attributes = {part.strip().split("=")[0].lower(): part for part in site.set_cookie.split(";")}
    assert "httponly" in attributes and "secure" not in attributes  # plain http here
    assert attributes["samesite"].strip() == "SameSite=Lax"
    assert attributes["path"].strip() == "Path=/m/"
    assert int(attributes["max-age"].split("=")[1]) > 300 * 86400
    (row,) = await web_participants(site)
    assert (row.display_name, row.role, row.unit_id) == (
        "小林",
        "student",
        site.chat.world.classes[CLASS].id,
    )
    assert row.joined_at is not None
    home = await client.get("/m/")
    text = await home.text()
    assert "你好，小林" in text and recovery not in text  # shown once, never again
    assert 'class="language"' in text
    assert home.headers["Content-Security-Policy"].startswith("default-src 'self'")


async def test_names_follow_the_chats_rules_and_bad_links_create_nobody(site: Site) -> None:
    client = site.make_client()
    await client.start_server()
    code = await site.code()
    page = await client.get(f"/m/join/{code}")
    token = FORM_TOKEN.search(await page.text())
    assert token is not None
    for name, says in (
        ("=1+1", "不能以 = + - @ 开头"),
        ("   ", "1 到 32 个字"),
        ("/start", "1 到 32"),
    ):
        refused = await client.post(
            f"/m/join/{code}", data={"name": name, "form_token": token.group(1)}
        )
        assert refused.status == 422
        assert says in await refused.text()
    forged = await client.post(f"/m/join/{code}", data={"name": "小林", "form_token": "x" * 32})
    assert forged.status == 403
    unknown = await client.get("/m/join/NOSUCHCODE123")
    assert unknown.status == 404 and "邀请链接无效" in await unknown.text()
    assert await web_participants(site) == []


async def test_the_recovery_code_opens_the_same_participant_on_another_device(
    site: Site,
) -> None:
    phone, tablet = site.make_client(), site.make_client()
    await phone.start_server()
    await tablet.start_server()
    recovery = await site.join(phone, "小周")
    assert "用找回码继续" in await (await tablet.get("/m/")).text()
    page = await tablet.get("/m/recover")
    token = FORM_TOKEN.search(await page.text())
    assert token is not None
    wrong = await tablet.post("/m/recover", data={"code": "ZZZZZZ", "form_token": token.group(1)})
    assert wrong.status == 400 and "找回码不对" in await wrong.text()
    typed = f"{recovery[:3].lower()} {recovery[3:]}"  # as a person types it
    right = await tablet.post(
        "/m/recover",
        data={"code": typed, "form_token": token.group(1)},
        allow_redirects=False,
    )
    assert right.status == 303
    assert "你好，小周" in await (await tablet.get("/m/")).text()
    assert len(await web_participants(site)) == 1
    for _ in range(3):  # five tries a minute from one address, then a pause
        await tablet.post("/m/recover", data={"code": "ZZZZZZ", "form_token": token.group(1)})
    paused = await tablet.post("/m/recover", data={"code": recovery, "form_token": token.group(1)})
    assert paused.status == 429 and "一分钟后" in await paused.text()


async def _right_positions(site: Site, attempt_id: int, seq: int) -> list[int]:
    async with site.chat.session_factory() as session:
        question = await UnitOfWork.over(session).attempts.question(attempt_id, seq)
        assert question is not None
        return [question.order.index(i) for i in sorted(question.question.correct)]


async def _points(site: Site, attempt_id: int) -> tuple[float, int]:
    async with site.chat.session_factory() as session:
        attempt = await UnitOfWork.over(session).attempts.get(attempt_id)
        assert attempt is not None
        return attempt.points, attempt.current_seq


async def school_figures(site: Site) -> tuple[int, int, int, int, int]:
    school = site.chat.world.schools[SCHOOL]
    today = datetime.now(UTC).date()
    figures = await participation_figures(
        site.chat.session_factory,
        school,
        Period(today - timedelta(days=1), today + timedelta(days=1)),
        viewer=Permissions(is_admin=True),
        zone=site.chat.context.settings.zone,
        total_name="合计",
    )
    assert isinstance(figures, Statistics)
    total = figures.total
    return (
        total.registered.total,
        total.took_part.total,
        total.passed,
        total.registered_on_web,
        total.took_part_on_web,
    )


async def test_a_whole_quiz_under_the_chats_rules_counted_once_in_the_report(site: Site) -> None:
    before = await school_figures(site)
    campaign = await open_campaign(
        site.chat.session_factory, unit_ids=(site.chat.world.classes[CLASS].id,)
    )
    phone = site.make_client()
    await phone.start_server()
    await site.join(phone)
    home = await (await phone.get("/m/")).text()
    assert campaign.name in home
    csrf = CSRF.search(home)
    assert csrf is not None
    refused = await phone.post(f"/m/campaigns/{campaign.id}/start", data={"csrf_token": "forged"})
    assert refused.status == 403
    started = await phone.post(
        f"/m/campaigns/{campaign.id}/start",
        data={"csrf_token": csrf.group(1)},
        allow_redirects=False,
    )
    assert started.status == 303
    here = started.headers["Location"]
    attempt_id = int(here.rsplit("/", 1)[1])
    # The same cookie in a second tab, and another person's browser.
    tab, stranger = site.make_client(), site.make_client()
    await tab.start_server()
    await stranger.start_server()
    tab.session.cookie_jar.update_cookies(
        {
            DEVICE_COOKIE: phone.session.cookie_jar.filter_cookies(phone.make_url("/m/"))[
                DEVICE_COOKIE
            ].value
        },
        tab.make_url("/m/"),
    )
    await site.join(stranger, "小王")
    assert (await stranger.get(here)).status == 404
    first_form: dict[str, object] | None = None
    for seq in range(1, 6):
        page = await (await phone.get(here)).text()
        assert f"第 {seq}/5 题" in page
        assert ("上一题回答正确" in page) == (seq > 1)  # the campaign tells after each
        assert f"第 {seq}/5 题" in await (await tab.get(here)).text()  # the same state
        sig, shown_seq = SIG.search(page), SEQ.search(page)
        assert sig is not None and shown_seq is not None and int(shown_seq.group(1)) == seq
        form = {
            "csrf_token": csrf.group(1),
            "seq": str(seq),
            "sig": sig.group(1),
            "option": [str(p) for p in await _right_positions(site, attempt_id, seq)],
        }
        if seq == 1:
            first_form = form
            edited = dict(form, seq="2")  # the signature was made for question 1
            assert (await phone.post(here, data=edited)).status == 403
        answered = await phone.post(here, data=form, allow_redirects=False)
        assert answered.status == 303 and answered.headers["Location"] == here
        if seq == 1:
            # Double submit, back button and replay: refused, nothing changed.
            points = await _points(site, attempt_id)
            again = await phone.post(here, data=form, allow_redirects=False)
            assert again.status == 303 and "notice=" in again.headers["Location"]
            shown = await (await phone.get(again.headers["Location"])).text()
            assert "第 2/5 题" in shown and ("不能重复提交" in shown or "已经作答过" in shown)
            assert await _points(site, attempt_id) == points
    assert first_form is not None
    result = await (await phone.get(here)).text()
    assert "得分 5/5" in result and "合格" in result
    replay = await phone.post(here, data=first_form, allow_redirects=False)
    assert replay.status == 303
    assert await _points(site, attempt_id) == (5.0, 5)
    certificate = await phone.get(f"{here}/certificate.png")
    assert certificate.status == 200
    assert (await certificate.read()).startswith(b"\x89PNG")
    assert (await stranger.get(f"{here}/certificate.png")).status == 404
    # Two web participants joined (the stranger too); one took part and passed; the
    # report tells the web's part apart.
    assert before[3:] == (0, 0)
    assert await school_figures(site) == (
        before[0] + 2,
        before[1] + 1,
        before[2] + 1,
        2,
        1,
    )


async def test_messages_in_chat_leave_web_participants_out(site: Site) -> None:
    campaign = await open_campaign(
        site.chat.session_factory, unit_ids=(site.chat.world.classes[CLASS].id,)
    )
    client = site.make_client()
    await client.start_server()
    async with site.chat.session_factory() as session:
        uow = UnitOfWork.over(session)
        chats_before = await uow.campaigns.audience_chats(campaign)
        audience = Audience((site.chat.world.classes[CLASS].id,), ())
        reached_before = await uow.publicity.count_audience(audience)
        await session.commit()
    await site.join(client)
    async with site.chat.session_factory() as session:
        uow = UnitOfWork.over(session)
        assert await uow.campaigns.audience_chats(campaign) == chats_before
        assert await uow.publicity.count_audience(audience) == reached_before
        await session.commit()
    assert len(await web_participants(site)) == 1


async def test_a_joined_device_opening_an_invite_link_stays_one_person(site: Site) -> None:
    client = site.make_client()
    await client.start_server()
    await site.join(client)
    again = await client.get(f"/m/join/{await site.code()}", allow_redirects=False)
    assert again.status == 303 and again.headers["Location"] == "/m/"
    other_class = next(c for name, c in site.chat.world.classes.items() if name != CLASS)
    async with site.chat.session_factory() as session:
        other = await Repositories.over(session).invites.active_for(other_class.id, Role.STUDENT)
        await session.commit()
    offer = await client.get(f"/m/join/{other.code}")
    text = await offer.text()
    assert offer.status == 200 and "改为加入" in text
    csrf = CSRF.search(text)
    assert csrf is not None
    moved = await client.post(
        f"/m/join/{other.code}", data={"csrf_token": csrf.group(1)}, allow_redirects=False
    )
    assert moved.status == 303
    (row,) = await web_participants(site)
    assert row.unit_id == other_class.id


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no database rule here
async def test_the_pages_speak_english_when_asked_and_remember_it(site: Site) -> None:
    client = site.make_client()
    await client.start_server()
    code = await site.code()
    english = await client.get(f"/m/join/{code}?lang=en")
    assert "Join your class" in await english.text()
    assert "Join your class" in await (await client.get(f"/m/join/{code}")).text()
    chinese = await client.get(f"/m/join/{code}?lang=zh-CN")
    assert "加入班级" in await chinese.text()


async def test_time_runs_on_the_server_and_a_late_form_changes_nothing(site: Site) -> None:
    campaign = await open_campaign(
        site.chat.session_factory,
        unit_ids=(site.chat.world.classes[CLASS].id,),
        seconds_per_question=30,
    )
    phone = site.make_client()
    await phone.start_server()
    await site.join(phone)
    home = await (await phone.get("/m/")).text()
    csrf = CSRF.search(home)
    assert csrf is not None
    started = await phone.post(
        f"/m/campaigns/{campaign.id}/start",
        data={"csrf_token": csrf.group(1)},
        allow_redirects=False,
    )
    here = started.headers["Location"]
    attempt_id = int(here.rsplit("/", 1)[1])
    page = await (await phone.get(here)).text()
    sig = SIG.search(page)
    assert sig is not None and "第 1/5 题" in page
    site.clock.offset = timedelta(seconds=45)  # the page stayed open past the time
    late = await phone.post(
        here,
        data={
            "csrf_token": csrf.group(1),
            "seq": "1",
            "sig": sig.group(1),
            "option": [str(p) for p in await _right_positions(site, attempt_id, 1)],
        },
        allow_redirects=False,
    )
    assert late.status == 303 and late.headers["Location"].endswith("notice=time_up")
    assert await _points(site, attempt_id) == (0.0, 2)
    shown = await (await phone.get(late.headers["Location"])).text()
    assert "第 2/5 题" in shown and "时间已到" in shown
    # Opened again much later: the question shown then ran out, the next one has its time.
    site.clock.offset = timedelta(minutes=5)
    assert "第 3/5 题" in await (await phone.get(here)).text()
    assert await _points(site, attempt_id) == (0.0, 3)
    for seq in (3, 4, 5):  # the third wrong, the others right
        page = await (await phone.get(here)).text()
        sig = SIG.search(page)
        assert sig is not None
        right = await _right_positions(site, attempt_id, seq)
        wrong = [next(p for p in range(4) if p not in right)]
        await phone.post(
            here,
            data={
                "csrf_token": csrf.group(1),
                "seq": str(seq),
                "sig": sig.group(1),
                "option": [str(p) for p in (wrong if seq == 3 else right)],
            },
        )
        if seq == 3:
            assert "上一题答错了，正确答案是" in await (await phone.get(here)).text()
    result = await (await phone.get(here)).text()
    assert "得分 2/5" in result and "答错或未答的题目" in result
    assert result.count("时间到，未作答") == 2 and "你的答案：" in result


async def test_erasing_a_web_participant_closes_their_devices_and_code(site: Site) -> None:
    phone, tablet = site.make_client(), site.make_client()
    await phone.start_server()
    await tablet.start_server()
    recovery = await site.join(phone)
    (row,) = await web_participants(site)
    async with site.chat.session_factory() as session:
        uow = UnitOfWork.over(session)
        assert await uow.erasure.erase(row.id, datetime.now(UTC)) is not None
        await session.commit()
    assert "你好" not in await (await phone.get("/m/")).text()
    page = await tablet.get("/m/recover")
    token = FORM_TOKEN.search(await page.text())
    assert token is not None
    refused = await tablet.post(
        "/m/recover", data={"code": recovery, "form_token": token.group(1)}
    )
    assert refused.status == 400


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no database rule here
async def test_recovery_tries_are_counted_per_client_behind_the_proxy(site: Site) -> None:
    client = site.make_client()
    await client.start_server()
    page = await client.get("/m/recover")
    token = FORM_TOKEN.search(await page.text())
    assert token is not None

    async def attempt(address: str) -> int:
        response = await client.post(
            "/m/recover",
            data={"code": "ZZZZZZ", "form_token": token.group(1)},
            headers={"X-Forwarded-For": f"203.0.113.9, {address}"},
        )
        return response.status

    assert [await attempt("198.51.100.7") for _ in range(6)] == [400] * 5 + [429]
    assert await attempt("198.51.100.8") == 400  # another phone behind the same nginx


async def test_a_doubled_multiple_choice_form_is_recorded_once_as_chosen(site: Site) -> None:
    campaign = await open_campaign(
        site.chat.session_factory, unit_ids=(site.chat.world.classes[CLASS].id,)
    )
    phone = site.make_client()
    await phone.start_server()
    await site.join(phone)
    csrf = CSRF.search(await (await phone.get("/m/")).text())
    assert csrf is not None
    started = await phone.post(
        f"/m/campaigns/{campaign.id}/start",
        data={"csrf_token": csrf.group(1)},
        allow_redirects=False,
    )
    here = started.headers["Location"]
    attempt_id = int(here.rsplit("/", 1)[1])
    for seq in range(1, 6):
        page = await (await phone.get(here)).text()
        sig = SIG.search(page)
        assert sig is not None
        right = await _right_positions(site, attempt_id, seq)
        form = {
            "csrf_token": csrf.group(1),
            "seq": str(seq),
            "sig": sig.group(1),
            "option": [str(p) for p in right],
        }
        if len(right) > 1:  # the multiple choice: the same form twice at once
            first, second = await asyncio.gather(
                phone.post(here, data=form, allow_redirects=False),
                phone.post(here, data=form, allow_redirects=False),
            )
            locations = sorted(r.headers["Location"] for r in (first, second))
            assert locations[0] == here and "notice=" in locations[1]
            async with site.chat.session_factory() as session:
                question = await UnitOfWork.over(session).attempts.question(attempt_id, seq)
                assert question is not None and question.points == 1.0
                assert question.chosen == question.question.correct
            assert await _points(site, attempt_id) == (float(seq), min(seq + 1, 5))
            return
        await phone.post(here, data=form)
    raise AssertionError("the campaign drew no multiple-choice question")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no database rule here
async def test_behind_https_the_cookies_are_secure(chat: Chat) -> None:
    async with TestClient(TestServer(pages_app(chat, secure=True))) as client:
        code = await Site(chat, lambda: client, MovedClock()).code()
        page = await client.get(f"/m/join/{code}")
        (form_cookie,) = page.headers.getall("Set-Cookie")
        assert "Secure" in form_cookie
        token = FORM_TOKEN.search(await page.text())
        assert token is not None
        joined = await client.post(  # over http the browser would not send a Secure cookie
            f"/m/join/{code}",
            data={"name": "小林", "form_token": token.group(1)},
            cookies={FORM_COOKIE: token.group(1)},
        )
        assert joined.status == 200
        (device,) = [c for c in joined.headers.getall("Set-Cookie") if DEVICE_COOKIE in c]
    assert "Secure" in device and "HttpOnly" in device
