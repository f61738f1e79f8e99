"""The demo's chapter on offline work: a teacher records a 法治副校长's lecture in chat
with two photos, another school's template is imported by the bureau, the bureau
appoints the 法治副校长 and confirms the school's entry from /activities."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import select

from bot.app import BotApp
from bot.application.activities import (
    appoint_vice_principal,
    import_activities,
    local_day,
)
from bot.sandbox.client import SandboxClient
from quizzes.activity_import import activity_template_xlsx
from quizzes.permissions import Permissions
from storage.models import ParticipantRow, UnitRow
from storage.unit_of_work import UnitOfWork

SPEAKER = "李明 第七师中级人民法院"
VICE_PRINCIPAL = ("李明", "第七师中级人民法院")


def _picture(shade: int) -> bytes:
    """A small JPEG, as a phone's camera would send (one colour is enough here)."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (320, 240), (shade, 120, 200 - shade)).save(out, "JPEG")
    return out.getvalue()


def _data(message: dict[str, Any], text: str) -> str:
    """The callback data of the button labelled ``text``."""
    markup = message.get("reply_markup") or {}
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if button.get("text") == text:
                return str(button["callback_data"])
    raise LookupError(f"no button {text!r} in {message.get('text', '')[:40]!r}")


class _Conversation:
    """One person talking to the bot through the sandbox: each step waits for the
    bot's answer (a new message, or the pressed message edited)."""

    def __init__(self, client: SandboxClient, chat: int) -> None:
        self.client, self.chat = client, chat

    async def say(self, text: str) -> dict[str, Any]:
        return await self.client.say(self.chat, text)

    async def photo(self, content: bytes) -> dict[str, Any]:
        seen = len(await self.client.messages(self.chat))
        await self.client.send_photo(self.chat, content)
        return (await self.client.wait_for_messages(self.chat, seen + 1, timeout=30))[-1]

    async def press(self, message: dict[str, Any], text: str) -> dict[str, Any]:
        _query, edited = await self.client.press_and_wait_for_edit(
            self.chat, message["message_id"], _data(message, text), timeout=30
        )
        return edited


async def _teacher_of(app: BotApp, telegram_ids: list[int]) -> tuple[int, int, str] | None:
    """A registered teacher (Telegram id, school id, school name) among the simulated
    people, whose unit is their school."""
    async with app.session_factory() as session:
        row = (
            await session.execute(
                select(ParticipantRow.telegram_id, UnitRow.id, UnitRow.name)
                .join(UnitRow, UnitRow.id == ParticipantRow.unit_id)
                .where(
                    ParticipantRow.telegram_id.in_(telegram_ids),
                    ParticipantRow.role == "teacher",
                    UnitRow.kind == "school",
                )
                .order_by(ParticipantRow.telegram_id)
                .limit(1)
            )
        ).first()
    if row is None or row[0] is None:
        return None
    return row[0], int(row[1]), str(row[2])


async def _record_in_chat(client: SandboxClient, teacher: int) -> str:
    """The teacher's /activity, step by step as a person answers; the bot's last word."""
    talk = _Conversation(client, teacher)
    step = await talk.say("/activity")
    step = await talk.press(step, "法治副校长讲座")
    step = await talk.press(step, "今天")  # their school is chosen for them
    step = await talk.say("宪法在我身边——法治副校长开学第一课")
    step = await talk.press(step, "宪法（常用）")
    await talk.say("学生380 教职工25")
    await talk.say(SPEAKER)
    await talk.photo(_picture(40))
    step = await talk.photo(_picture(160))
    step = await talk.press(step, "完成")
    step = await talk.press(step, "保存")
    return str(step.get("text", ""))


def _filled_template(regiment: str, school: str, classes: list[str], day: str) -> bytes:
    """The bundled template as a school fills it in (examples left in place)."""
    book = load_workbook(io.BytesIO(activity_template_xlsx()))
    sheet = book["活动记录"]
    first_class = classes[0] if classes else ""
    sheet.append([day, "宪法晨读", "宪法", "国家宪法日宪法晨读", regiment, school, first_class,
                  42, 2, 0, "", ""])  # fmt: skip
    sheet.append([day, "主题班会", "防欺凌", "拒绝校园欺凌主题班会", regiment, school, "",
                  310, 18, 40, "", ""])  # fmt: skip
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def _another_school(app: BotApp, not_this: int) -> tuple[str, str, list[str]]:
    async with app.session_factory() as session:
        school = (
            await session.execute(
                select(UnitRow.id, UnitRow.name, UnitRow.parent_id)
                .where(UnitRow.kind == "school", UnitRow.id != not_this)
                .order_by(UnitRow.id)
                .limit(1)
            )
        ).one()
        regiment = await session.scalar(select(UnitRow.name).where(UnitRow.id == school[2]))
        classes = list(
            await session.scalars(
                select(UnitRow.name).where(UnitRow.parent_id == school[0]).order_by(UnitRow.id)
            )
        )
    return str(regiment), str(school[1]), classes


async def run_activities_chapter(
    app: BotApp,
    client: SandboxClient,
    admin_id: int,
    telegram_ids: list[int],
    say: Callable[[str], None],
) -> bool:
    """True if every entry ends confirmed, with its photos, as the steps intended."""
    found = await _teacher_of(app, telegram_ids)
    if found is None:
        say("  no registered teacher at a school: chapter skipped")
        return False
    teacher, school_id, school_name = found
    now = datetime.now(UTC)
    async with app.session_factory() as session:
        appointed = await appoint_vice_principal(
            UnitOfWork.over(session),
            school_name,
            *VICE_PRINCIPAL,
            local_day(now, app.settings.zone) - timedelta(days=90),
        )
    say(f"  {school_name}: 法治副校长 {VICE_PRINCIPAL[0]} ({VICE_PRINCIPAL[1]}) on the register")
    reply = await _record_in_chat(client, teacher)
    say(f"  a teacher of {school_name} records the lecture in chat: {reply.splitlines()[0]}")

    regiment, other, classes = await _another_school(app, school_id)
    yesterday = (local_day(now, app.settings.zone) - timedelta(days=1)).isoformat()
    async with app.session_factory() as session:
        imported = await import_activities(
            UnitOfWork.over(session),
            _filled_template(regiment, other, classes, yesterday),
            "活动记录.xlsx",
            by=None,
            permissions=Permissions(is_admin=True),
            now=now,
            zone=app.settings.zone,
        )
    say(f"  {other}'s template imported by the bureau: {imported.recorded} activities, confirmed")

    admin = _Conversation(client, admin_id)
    waiting = await admin.say("/activities")
    confirmed = await admin.press(waiting, "✔ 确认")
    say(f"  the bureau confirms it from /activities: {confirmed.get('text', '')}")

    async with app.session_factory() as session:
        uow = UnitOfWork.over(session)
        school = await uow.units.get(school_id)
        assert school is not None
        entries = await uow.activities.within(school)
        photos = [await uow.activities.photos(entry.id) for entry in entries]
    ok = appointed.added and imported.recorded == 2
    ok &= [entry.status.value for entry in entries] == ["confirmed"]
    ok &= [len(p) for p in photos] == [2] and all(content for _, content in photos[0])
    say(f"  {school_name}: {len(entries)} activity with {sum(map(len, photos))} photos kept")
    return ok
