"""The demo's publicity chapter: an article broadcast with reads and clicks, and a lecture."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from bot.app import BotApp
from bot.broadcaster import Broadcaster
from bot.lectures import schedule_lecture
from bot.sandbox.client import SandboxClient
from quizzes.publicity import Audience
from storage.publicity import LectureRepository, PublicityRepository

READ_SHARE = 0.6
CLICK_SHARE = 0.25
CHECKIN_SHARE = 0.4

ARTICLE_BODY = (
    "12月4日是国家宪法日。宪法是国家的根本法，是治国安邦的总章程。"
    "<b>学习宪法、尊崇宪法、遵守宪法、维护宪法、运用宪法</b>，从青少年做起。"
)


def _buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    markup = message.get("reply_markup") or {}
    return [button for row in markup.get("inline_keyboard", []) for button in row]


async def _latest_with(
    client: SandboxClient, chat: int, wanted: Callable[[dict[str, Any]], bool]
) -> dict[str, Any] | None:
    for message in reversed(await client.messages(chat)):
        if any(wanted(button) for button in _buttons(message)):
            found: dict[str, Any] = message
            return found
    return None


async def _press_latest(client: SandboxClient, chat: int, prefix: str) -> None:
    """Press the newest button whose callback data starts with ``prefix``, if there is one."""

    def wanted(button: dict[str, Any]) -> bool:
        return str(button.get("callback_data", "")).startswith(prefix)

    message = await _latest_with(client, chat, wanted)
    if message is not None:
        data = next(b["callback_data"] for b in _buttons(message) if wanted(b))
        await client.press(chat, message["message_id"], data)


async def run_publicity_chapter(
    app: BotApp,
    client: SandboxClient,
    admin_id: int,
    telegram_ids: list[int],
    say: Callable[[str], None],
) -> bool:
    """Broadcast, read, click, hold a lecture; True if the counts match what people did."""
    broadcaster = app.services["broadcaster"]
    assert isinstance(broadcaster, Broadcaster)
    rng = random.Random(12)
    async with app.session_factory() as session:
        publicity = PublicityRepository(session)
        article = await publicity.create_article(
            title="国家宪法日：学宪法 讲宪法",
            body=ARTICLE_BODY,
            author_id=admin_id,
            audience=Audience(),
            link="https://www.example.org/xianfa-ri",
        )
        audience = await publicity.count_audience(Audience())
        await publicity.commit()
    broadcast = await broadcaster.start_broadcast(
        article.id, created_by=admin_id, locale="zh-CN", progress_chat_id=admin_id
    )
    say(f"  article #{article.id} to {audience} subscribers, paced under Telegram's bulk limit")
    finished = await broadcaster.wait_until_finished(broadcast.id, timeout=300)
    progress = await broadcaster.progress(finished.id)
    say(
        f"  broadcast {finished.state.value}: sent {progress.sent}, failed {progress.failed}, "
        f"blocked {progress.blocked}, none left pending"
        if progress.pending == progress.sending == 0
        else f"  broadcast {finished.state.value} with {progress.pending} still pending"
    )

    readers = [t for t in telegram_ids if rng.random() < READ_SHARE]
    clickers = [t for t in telegram_ids if rng.random() < CLICK_SHARE]
    for chat in readers:
        await _press_latest(client, chat, "ar:")
    clicked = 0
    async with aiohttp.ClientSession() as http:
        for chat in clickers:
            message = await _latest_with(client, chat, lambda b: "/r/" in b.get("url", ""))
            if message is None:
                continue
            url = next(b["url"] for b in _buttons(message) if "/r/" in b.get("url", ""))
            async with http.get(url, allow_redirects=False) as response:
                clicked += response.status == 302
    await asyncio.sleep(1.0)
    async with app.session_factory() as session:
        figures = await PublicityRepository(session).figures_by_school(article.id)
    total = next(f for f in figures if f.school_id is None)
    ok = total.read == len(readers) and total.clicked == clicked == len(clickers)
    say(
        f"  delivered {total.delivered}, read {total.read} (simulated {len(readers)}), "
        f"clicked {total.clicked} (simulated {len(clickers)}): "
        f"{'matches' if ok else 'DIFFERS'}"
    )

    now = datetime.now(UTC)
    async with app.session_factory() as session:
        scheduled = await schedule_lecture(
            session,
            title="宪法与未成年人保护",
            speaker="第七师法治副校长",
            starts_at=now + timedelta(seconds=5),
            minutes=45,
            link=None,
            audience=Audience(),
            created_by=admin_id,
            zone=app.settings.zone,
            now=now,
            _=app.translator.bind("zh-CN"),
        )
        await session.commit()
    broadcaster.wake()
    lecture = scheduled.lecture
    say(f"  online lecture #{lecture.id} announced; check-in opens when it starts")
    await broadcaster.wait_until_finished(scheduled.announcement.id, timeout=300)
    await asyncio.sleep(max(0.0, (lecture.starts_at - datetime.now(UTC)).total_seconds()) + 0.5)
    attendees = [t for t in telegram_ids if rng.random() < CHECKIN_SHARE]
    for chat in attendees:
        await _press_latest(client, chat, "lc:")
    await asyncio.sleep(1.0)
    async with app.session_factory() as session:
        attendance = await LectureRepository(session).attendance(lecture.id)
    checked_in = sum(a.count for a in attendance)
    ok &= checked_in == len(attendees)
    say(f"  {checked_in} checked in to the lecture (simulated {len(attendees)})")
    return ok
