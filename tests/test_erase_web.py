"""Erasing someone who joined on the participant pages (no Telegram id) at the terminal,
on both databases: by the recovery code they show, or by the internal number staff find
with ``pufa participant web``; the same erasure as /forgetme (their name, code and devices
go, the report's figures stay), and nothing erased by a wrong code or a "no"."""

from __future__ import annotations

import asyncio
from typing import Any

from click.testing import CliRunner, Result
from sqlalchemy import func, select

from bot.cli import main
from storage.models import ParticipantRow
from storage.models_web_identity import WebDeviceRow, WebIdentityRow
from tests.publicity_chat import chat
from tests.quiz_world import open_campaign
from tests.test_privacy import dump
from tests.test_web_participants import CLASS, SCHOOL, Site, school_figures, site
from tests.test_web_participants_more import chat_participant, joined_phone, take_quiz

__all__ = ["chat", "site"]  # the fixtures


async def pufa(site: Site, *args: str, answer: str | None = None) -> Result:
    """``pufa ...`` on the test's database, in a thread (the command runs its own loop)."""
    env = {
        "PUFA_DATABASE_URL": str(site.chat.context.settings.database_url),
        "PUFA_BOT_TOKEN": site.chat.context.settings.token,
        "PUFA_REDIS_URL": "",
    }
    return await asyncio.to_thread(CliRunner().invoke, main, list(args), input=answer, env=env)


async def row(site: Site, participant_id: int) -> ParticipantRow:
    async with site.chat.session_factory() as session:
        found = await session.get(ParticipantRow, participant_id)
        assert found is not None
        return found


async def web_identity_rows(site: Site, participant_id: int) -> int:
    async with site.chat.session_factory() as session:
        count = 0
        for table in (WebIdentityRow, WebDeviceRow):
            query = select(func.count()).select_from(table)
            count += await session.scalar(query.where(table.participant_id == participant_id)) or 0
        return count


async def everything(site: Site) -> list[tuple[str, str, Any]]:
    async with site.chat.session_factory() as session:
        return await dump(session)


async def test_a_web_participant_is_erased_by_their_recovery_code(site: Site) -> None:
    campaign = await open_campaign(
        site.chat.session_factory, unit_ids=(site.chat.world.classes[CLASS].id,)
    )
    phone = await joined_phone(site, "林小雨")
    await take_quiz(site, phone.participant_id, campaign.id, chat_id=None)
    before = await school_figures(site)
    assert before[3:] == (1, 1)
    assert "你好，林小雨" in await (await phone.client.get("/m/")).text()
    assert await web_identity_rows(site, phone.participant_id) == 2  # the code, the phone

    wrong = await pufa(site, "participant", "erase", "--recovery-code", "ZZZZZZ", "--yes")
    assert wrong.exit_code != 0 and "没有持有这个找回码的参与者" in wrong.output
    typed = f"{phone.recovery[:3].lower()} {phone.recovery[3:]}"  # as a person reads it out
    done = await pufa(site, "participant", "erase", "--recovery-code", typed, "--yes")
    assert done.exit_code == 0, done.output
    assert "林小雨" in done.output and "使用网页" in done.output and CLASS in done.output
    assert "统计报表中的数字不变" in done.output

    erased = await row(site, phone.participant_id)
    assert erased.erased_at is not None and erased.display_name is None
    assert erased.telegram_id is None and erased.unit_id is not None  # still counted
    assert await web_identity_rows(site, phone.participant_id) == 0
    assert not [value for _, _, value in await everything(site) if value == "林小雨"]
    assert "你好" not in await (await phone.client.get("/m/")).text()  # signed out
    assert await school_figures(site) == before  # the report's figures stay
    again = await pufa(site, "participant", "erase", "--recovery-code", typed, "--yes")
    assert again.exit_code != 0 and "没有持有这个找回码的参与者" in again.output


async def test_staff_find_a_web_participant_by_class_and_erase_them_by_number(site: Site) -> None:
    stays = await joined_phone(site, "小林")
    goes = await joined_phone(site, "小王")
    listed = await pufa(site, "participant", "web", "--school", SCHOOL, "--class", CLASS)
    assert listed.exit_code == 0, listed.output
    lines = [line.split("\t") for line in listed.output.splitlines()]
    assert [(int(line[0]), line[1]) for line in lines] == [
        (stays.participant_id, "小林"),
        (goes.participant_id, "小王"),
    ]
    assert all(CLASS in line[2] for line in lines)
    whole_school = await pufa(site, "participant", "web", "--school", SCHOOL)
    assert whole_school.output == listed.output  # the school's classes included

    number = str(goes.participant_id)
    kept = await pufa(site, "participant", "erase", "--participant-id", number, answer="n\n")
    assert kept.exit_code != 0 and "小王" in kept.output and CLASS in kept.output
    assert (await row(site, goes.participant_id)).erased_at is None  # "no" erases nothing
    done = await pufa(site, "participant", "erase", "--participant-id", number, answer="y\n")
    assert done.exit_code == 0 and "统计报表中的数字不变" in done.output, done.output
    assert (await row(site, goes.participant_id)).erased_at is not None
    assert "你好" not in await (await goes.client.get("/m/")).text()
    assert "你好，小林" in await (await stays.client.get("/m/")).text()  # the other stays
    listed = await pufa(site, "participant", "web", "--school", SCHOOL, "--class", CLASS)
    assert [line.split("\t")[1] for line in listed.output.splitlines()] == ["小林"]
    again = await pufa(site, "participant", "erase", "--participant-id", number, "--yes")
    assert again.exit_code != 0 and f"没有内部编号为 {number} 的参与者" in again.output

    # The internal number serves someone of the chat too: the same erasure as by Telegram id.
    in_chat = await chat_participant(site, 3001)
    chat_done = await pufa(site, "participant", "erase", "--participant-id", str(in_chat), "--yes")
    assert chat_done.exit_code == 0 and "使用 Telegram" in chat_done.output
    assert (await row(site, in_chat)).telegram_id == -in_chat


async def test_erase_wants_exactly_one_way_to_name_the_person(site: Site) -> None:
    for args in ((), ("3000", "--participant-id", "1"), ("--recovery-code", "A", "3000")):
        refused = await pufa(site, "participant", "erase", *args, "--yes")
        assert refused.exit_code == 2 and "请给出以下之一" in refused.output
    nowhere = await pufa(site, "participant", "web", "--school", "没有这所学校")
    assert nowhere.exit_code != 0 and "没有找到唯一的学校或班级" in nowhere.output
    empty = await pufa(site, "participant", "web", "--school", SCHOOL, "--class", CLASS)
    assert empty.exit_code == 0 and "没有通过网页加入的参与者" in empty.output
