"""The participant pages' home after a check-in and after a quiz, on both databases: a
lecture checked into says 已签到 and when, instead of its button, and an old form sent
again checks nobody in twice; a campaign offers a start only when the server would allow
one, and shows the best result so far with its certificate."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.application.quiz import answer_options
from quizzes.attempts import SignedIn
from storage.models_publicity import LectureCheckinRow
from storage.models_quiz import AttemptRow
from storage.unit_of_work import UnitOfWork
from tests.publicity_chat import chat
from tests.quiz_world import open_campaign
from tests.test_web_participants import Site, site
from tests.test_web_participants_more import begin, check_ins, in_class, joined_phone, lecture

__all__ = ["chat", "site"]  # the fixtures

pytestmark = pytest.mark.db


async def checked_in_at(site: Site, lecture_id: int) -> str:
    """The one check-in's time as the page shows it (HH:MM in the bureau's zone)."""
    async with site.chat.session_factory() as session:
        (at,) = await session.scalars(
            select(LectureCheckinRow.checked_in_at).where(
                LectureCheckinRow.lecture_id == lecture_id
            )
        )
    return at.astimezone(site.chat.context.settings.zone).strftime("%H:%M")


def lecture_card(home: str, lecture_id: int) -> str:
    found = re.search(
        rf'<section class="card lecture" id="lecture-{lecture_id}">(.*?)</section>', home, re.S
    )
    assert found is not None, home
    return found.group(1)


async def test_a_lecture_checked_into_says_so_instead_of_its_button(site: Site) -> None:
    running = await lecture(site, in_class(site), starts_in=timedelta(minutes=-5))
    also = await lecture(site, in_class(site), starts_in=timedelta(minutes=-1))
    joined = await joined_phone(site)
    phone, csrf = joined.client, joined.csrf
    action = f"/m/lectures/{running}/checkin"
    before = await (await phone.get("/m/")).text()
    assert action in lecture_card(before, running) and "已签到" not in before
    done = await phone.post(action, data={"csrf_token": csrf})
    assert done.status == 200 and done.url.path == "/m/"
    home = await done.text()
    card = lecture_card(home, running)
    when = await checked_in_at(site, running)
    assert f"已签到（{when}）" in card and action not in card and "<button" not in card
    assert "签到成功" in home  # the notice, beside the card that now says so
    # The other lecture, not checked into, still offers its button.
    assert f"/m/lectures/{also}/checkin" in lecture_card(home, also)
    english = await (await phone.get("/m/?lang=en")).text()
    assert f"Checked in ({when})" in lecture_card(english, running)
    assert "Check in</button>" in lecture_card(english, also)
    # The old form sent again (a second tab, the back button): told so, counted once.
    for _ in range(2):
        again = await phone.post(action, data={"csrf_token": csrf})
        assert again.status == 200
        assert "You have already checked in" in await again.text()
    await phone.get("/m/?lang=zh-CN")
    chinese = await phone.post(action, data={"csrf_token": csrf})
    assert "你已经签到过了" in await chinese.text()
    assert await check_ins(site, running) == 1
    assert await checked_in_at(site, running) == when
    # Once check-in has closed, the old form still says they checked in (not that it is
    # over), and checks nobody in; someone who never did is told it is over.
    site.clock.offset = timedelta(hours=2)
    late = await phone.post(action, data={"csrf_token": csrf})
    assert late.status == 200 and "你已经签到过了" in await late.text()
    other = await joined_phone(site, "小王")
    missed = await other.client.post(action, data={"csrf_token": other.csrf})
    assert missed.status == 409 and "签到已于" in await missed.text()
    assert await check_ins(site, running) == 1


async def answered(site: Site, participant_id: int, campaign_id: int, *, right: int) -> int:
    """An attempt on the pages' side (no chat) with its first ``right`` questions answered
    right and the rest wrong; its id."""
    attempt_id = await begin(site, participant_id, campaign_id, None)
    async with site.chat.session_factory() as session:
        uow = UnitOfWork.over(session)
        for seq in range(1, 6):
            question = await uow.attempts.question(attempt_id, seq)
            assert question is not None
            correct = question.question.correct
            if seq <= right:
                chosen = frozenset(question.order.index(i) for i in correct)
            else:
                wrong = next(i for i in range(len(question.order)) if i not in correct)
                chosen = frozenset({question.order.index(wrong)})
            await answer_options(
                uow, SignedIn(participant_id), attempt_id, seq, chosen, clock=site.clock
            )
        await session.commit()
    return attempt_id


def campaign_card(home: str, campaign_id: int) -> str:
    found = re.search(
        rf'<section class="card campaign" id="campaign-{campaign_id}">(.*?)</section>', home, re.S
    )
    assert found is not None, home
    return found.group(1)


async def test_a_finished_campaign_shows_the_best_result_instead_of_a_start(site: Site) -> None:
    done = await open_campaign(site.chat.session_factory, attempts_allowed=2, name="宪法卫士")
    again = await open_campaign(site.chat.session_factory, attempts_allowed=2, name="民法典")
    fresh = await open_campaign(site.chat.session_factory, attempts_allowed=1, name="国家安全")
    joined = await joined_phone(site)
    phone, csrf = joined.client, joined.csrf
    best = await answered(site, joined.participant_id, done.id, right=4)
    await answered(site, joined.participant_id, done.id, right=1)  # worse, and the last
    failed = await answered(site, joined.participant_id, again.id, right=1)
    home = await (await phone.get("/m/")).text()

    card = campaign_card(home, done.id)
    assert "已答 2 次，共可答 2 次" in card
    assert "已完成：2 次答题机会都已用完。" in card
    assert "最好成绩：4/5（80%）" in card and "合格（合格线 60%）" in card
    assert f'href="/m/attempts/{best}"' in card
    assert f'href="/m/attempts/{best}/certificate.png"' in card
    assert "/start" not in card and "<button" not in card

    card = campaign_card(home, again.id)
    assert "最好成绩：1/5（20%）" in card and "未合格（合格线 60%）" in card
    assert f'href="/m/attempts/{failed}"' in card and "certificate.png" not in card
    assert "再答一次</button>" in card and f"/m/campaigns/{again.id}/start" in card

    card = campaign_card(home, fresh.id)
    assert "最好成绩" not in card and "开始答题</button>" in card

    english = await (await phone.get("/m/?lang=en")).text()
    card = campaign_card(english, done.id)
    assert "Finished: all 2 attempt(s) used." in card and "Best score: 4/5 (80%)" in card
    assert "Try again</button>" in campaign_card(english, again.id)

    # The links lead where they say, and the page offers exactly what the server allows.
    certificate = await phone.get(f"/m/attempts/{best}/certificate.png")
    assert certificate.status == 200 and certificate.content_type == "image/png"
    result = await (await phone.get(f"/m/attempts/{best}")).text()
    assert "Score 4/5 (80%)" in result  # the language chosen stays
    refused = await phone.post(f"/m/campaigns/{done.id}/start", data={"csrf_token": csrf})
    assert refused.status == 403
    for offered in (again, fresh):
        started = await phone.post(
            f"/m/campaigns/{offered.id}/start", data={"csrf_token": csrf}, allow_redirects=False
        )
        assert started.status == 303
        assert started.headers["Location"].startswith("/m/attempts/")
    home = await (await phone.get("/m/?lang=zh-CN")).text()
    assert "继续答题</button>" in campaign_card(home, again.id)  # the last, under way
    assert "继续答题</button>" in campaign_card(home, fresh.id)


async def test_an_attempt_whose_time_ran_out_is_not_offered_to_resume(site: Site) -> None:
    campaign = await open_campaign(site.chat.session_factory, attempts_allowed=1)
    joined = await joined_phone(site)
    attempt_id = await begin(site, joined.participant_id, campaign.id, None)
    home = await (await joined.client.get("/m/")).text()
    assert "继续答题</button>" in campaign_card(home, campaign.id)
    async with site.chat.session_factory() as session:
        await session.execute(
            update(AttemptRow)
            .where(AttemptRow.id == attempt_id)
            .values(deadline=site.clock() - timedelta(minutes=1))
        )
        await session.commit()
    card = campaign_card(await (await joined.client.get("/m/")).text(), campaign.id)
    assert "<button" not in card and "已完成：1 次答题机会都已用完。" in card
    # What the server says to the old button: no attempt left (the one under way ended).
    refused = await joined.client.post(
        f"/m/campaigns/{campaign.id}/start", data={"csrf_token": joined.csrf}
    )
    assert refused.status == 403
    card = campaign_card(await (await joined.client.get("/m/")).text(), campaign.id)
    assert f'href="/m/attempts/{attempt_id}"' in card and "最好成绩：0/5（0%）" in card
