"""The demo's web chapter: students without Telegram join a class through the participant
pages (/m/join/CODE, the invite sheet's own code) and take a quiz there, as a phone's
browser does, with no JavaScript. The report chapter counts them on its web side."""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
from sqlalchemy import select

from bot.app import BotApp
from quizzes.bank_parsers import load_bundled_bank
from quizzes.campaigns import parse_campaign_spec
from quizzes.participants import Role
from quizzes.units import UnitKind
from storage.campaign_setup import create_campaign
from storage.models_quiz import AttemptRow
from storage.repositories import Repositories

NAMES = ("李明轩", "王思雨", "张浩然", "陈雨桐", "刘子涵", "赵一诺")
QUESTIONS = 5
_FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_SIG = re.compile(r'name="sig" value="([^"]+)"')
_SEQ = re.compile(r'name="seq" value="(\d+)"')
_OPTION = re.compile(r'name="option" value="(\d+)"')


@dataclass(frozen=True, slots=True)
class WebRun:
    """What one browser did: its attempt and the points its result page showed."""

    attempt_id: int
    shown_points: str


def _found(pattern: re.Pattern[str], page: str, what: str) -> str:
    match = pattern.search(page)
    if match is None:
        raise RuntimeError(f"the participant pages showed no {what}")
    return match.group(1)


async def _take_part(base: str, code: str, name: str, campaign_id: int, seed: int) -> WebRun:
    """Join with the class's code, start the campaign from the home page, answer every
    question on its page (posting the form, following the 303), read the result."""
    rng = random.Random(seed)
    # The demo serves on 127.0.0.1: cookies for an IP address need the unsafe jar.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as phone:
        async with phone.get(f"{base}/join/{code}") as page:
            token = _found(_FORM_TOKEN, await page.text(), "join form")
        async with phone.post(
            f"{base}/join/{code}", data={"name": name, "form_token": token}
        ) as page:
            page.raise_for_status()
        async with phone.get(f"{base}/") as page:
            csrf = _found(_CSRF, await page.text(), "campaign to start")
        async with phone.post(
            f"{base}/campaigns/{campaign_id}/start", data={"csrf_token": csrf}
        ) as page:
            text, here = await page.text(), str(page.url)
        for _ in range(QUESTIONS):
            options = _OPTION.findall(text)
            form = {
                "csrf_token": csrf,
                "seq": _found(_SEQ, text, "question"),
                "sig": _found(_SIG, text, "question's signature"),
                "option": rng.choice(options),
            }
            async with phone.post(here, data=form) as page:
                text = await page.text()
        shown = re.search(r'class="score">[^0-9]*([0-9.]+)', text)
        return WebRun(int(here.rsplit("/", 1)[1]), shown.group(1) if shown else "?")


async def run_web_chapter(app: BotApp, say: Callable[[str], None]) -> tuple[str, bool]:
    """A short quiz for one class taken on the participant pages by students without
    Telegram; the pages' address, and whether every score kept is the one shown."""
    base = f"{app.settings.link_base}/m"
    now = datetime.now(UTC)
    zone = app.settings.zone
    bank = load_bundled_bank()
    async with app.session_factory() as session:
        repo = Repositories.over(session)
        first_class = (await repo.units.of_kind(UnitKind.CLASS))[0]
        code = (await repo.invites.active_for(first_class.id, Role.STUDENT)).code
        label = (await repo.units.label(first_class)).text()
        spec = parse_campaign_spec(
            f"""
name: 网页答题：宪法小测验
banks: [{bank.name}]
questions: {QUESTIONS}
attempts: 1
pass_mark: 60
feedback: each
opens: {(now + timedelta(seconds=1)).astimezone(zone):%Y-%m-%d %H:%M:%S}
closes: {(now + timedelta(hours=1)).astimezone(zone):%Y-%m-%d %H:%M:%S}
""",
            zone,
        )
        campaign = (await create_campaign(session, spec, created_by=None)).campaign
        await session.commit()
    await asyncio.sleep((campaign.opens_at - datetime.now(UTC)).total_seconds() + 0.5)
    say(f"  {len(NAMES)} students of {label} without Telegram join at {base}/join/{code}")
    runs = await asyncio.gather(
        *(_take_part(base, code, name, campaign.id, i) for i, name in enumerate(NAMES))
    )
    async with app.session_factory() as session:
        await Repositories.over(session).campaigns.set_window_end(campaign.id, datetime.now(UTC))
        kept = dict(
            (
                await session.execute(
                    select(AttemptRow.id, AttemptRow.points).where(
                        AttemptRow.campaign_id == campaign.id,
                        AttemptRow.finished_at.is_not(None),
                    )
                )
            ).all()
        )
        await session.commit()
    ok = len(kept) == len(runs) and all(
        run.shown_points == f"{kept.get(run.attempt_id, -1):g}" for run in runs
    )
    say(
        f"  {len(kept)} attempts finished on the pages; the scores kept are those shown: "
        f"{'yes' if ok else 'NO'}"
    )
    return base + "/", ok
