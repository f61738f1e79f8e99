"""The reminder to read an article, pressed on the article's page of the dashboard.

It goes to the people the article was delivered to (Telegram accepted it) who have not
read it, in the viewer's reach (a bureau admin: everyone; a coordinator: their schools),
once per article, reach and day in the bureau's time zone: the record's unique key
decides, so two presses racing send once. Like a class's quiz reminder it is an article
per language among its recipients, broadcast by the broadcaster (Telegram's pace, the
outbox, crash safety). The reminder names the article and carries its "read" button and
link (``reminder_of``), so a read or a click from the reminder counts once, for the
article; the report's article figures leave the reminder out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.application.article_reach import (
    ArticleReach,
    ReachRefusal,
    article_reach,
    publicity_in_reach,
)
from bot.application.class_progress import form_token_ok
from bot.application.dashboard import Viewer, WebRights
from quizzes.participants import Participant
from quizzes.permissions import Permissions
from quizzes.publicity import Article
from quizzes.read_reminders import ReadReminder, reach_key
from quizzes.units import Unit
from storage.unit_of_work import UnitOfWork

__all__ = [
    "AlreadyReminded",
    "ReadReminderRefusal",
    "ReadReminderState",
    "ReadReminderText",
    "Reminded",
    "article_with_reminder",
    "read_reminder_state",
    "remind_nonreaders",
    "remind_unread",
]


class ReadReminderRefusal(StrEnum):
    BAD_FORM = "bad_form"  # the form's CSRF token is missing or wrong
    NOT_STAFF = ReachRefusal.NOT_STAFF.value
    NOT_IN_REACH = ReachRefusal.NOT_IN_REACH.value
    UNKNOWN = ReachRefusal.UNKNOWN.value
    NOBODY = "nobody"  # everyone it was delivered to in reach has read it (or left)


@dataclass(frozen=True, slots=True)
class AlreadyReminded:
    """Refused: this reach was reminded of this article today already."""

    reminder: ReadReminder


@dataclass(frozen=True, slots=True)
class Reminded:
    reminder: ReadReminder
    broadcast_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ReadReminderState:
    """What the article's page shows by its button: how many a reminder would reach now,
    and today's reminder of the viewer's reach, if sent."""

    unread: int
    today: ReadReminder | None


# The reminder's title and body (Telegram HTML) in a language, written by the door.
ReadReminderText = Callable[[str, Article], tuple[str, str]]


def _reach(rights: WebRights, schools: list[Unit]) -> tuple[str, list[str] | None]:
    """The reach's key and the schools' paths (None: everyone, for an admin)."""
    if rights.permissions.is_admin:
        return reach_key(None), None
    return reach_key(s.id for s in schools), [s.path for s in schools]


async def read_reminder_state(
    uow: UnitOfWork, viewer: Viewer, article_id: int, *, now: datetime, zone: ZoneInfo
) -> ReadReminderState | ReachRefusal:
    found = await publicity_in_reach(uow, viewer.rights, article_id)
    if isinstance(found, ReachRefusal):
        await uow.commit()
        return found
    article, schools = found
    reach, paths = _reach(viewer.rights, schools)
    unread = await uow.read_reminders.unread_locales(article.id, paths)
    today = await uow.read_reminders.reminder_on(article.id, reach, now.astimezone(zone).date())
    await uow.commit()
    return ReadReminderState(sum(unread.values()), today)


async def article_with_reminder(
    uow: UnitOfWork,
    viewer: Viewer,
    article_id: int,
    *,
    now: datetime,
    zone: ZoneInfo,
    total_name: str,
) -> tuple[ArticleReach, ReadReminderState] | ReachRefusal:
    """The article's page: its reach per school of the viewer, and its reminder's state."""
    found = await article_reach(uow, viewer.rights, article_id, total_name=total_name)
    if isinstance(found, ReachRefusal):
        return found
    state = await read_reminder_state(uow, viewer, article_id, now=now, zone=zone)
    if isinstance(state, ReachRefusal):  # the rights changed in between
        return state
    return found, state


async def remind_nonreaders(
    uow: UnitOfWork,
    viewer: Viewer,
    article_id: int,
    form_token: str | None,
    *,
    text: ReadReminderText,
    now: datetime,
    zone: ZoneInfo,
) -> Reminded | AlreadyReminded | ReadReminderRefusal:
    """The dashboard's button: :func:`remind_unread` when the form carries the session's
    token."""
    if not form_token_ok(viewer, form_token):
        return ReadReminderRefusal.BAD_FORM
    return await remind_unread(
        uow,
        viewer.rights.permissions,
        viewer.participant,
        article_id,
        text=text,
        now=now,
        zone=zone,
    )


async def remind_unread(
    uow: UnitOfWork,
    permissions: Permissions,
    sender: Participant,
    article_id: int,
    *,
    text: ReadReminderText,
    now: datetime,
    zone: ZoneInfo,
) -> Reminded | AlreadyReminded | ReadReminderRefusal:
    """Remind those in the sender's reach the article was delivered to and who have not
    read it, once per article, reach and day; recorded with who pressed and how many it
    went to. The broadcaster sends it (it looks for new broadcasts by itself)."""
    rights = WebRights(permissions)
    found = await publicity_in_reach(uow, rights, article_id)
    if isinstance(found, ReachRefusal):
        await uow.commit()
        return ReadReminderRefusal(found.value)
    article, schools = found
    reach, paths = _reach(rights, schools)
    day = now.astimezone(zone).date()
    reminders = uow.read_reminders
    locales = await reminders.unread_locales(article.id, paths)
    earlier = await reminders.reminder_on(article.id, reach, day)
    await uow.commit()  # the claim starts a transaction of its own (SQLite's write lock)
    if earlier is not None:
        return AlreadyReminded(earlier)
    if not locales:
        return ReadReminderRefusal.NOBODY
    reminder_id = await reminders.claim(article.id, reach, day, sender.id, now)
    if reminder_id is None:  # another press (another tab) got there first
        earlier = await reminders.reminder_on(article.id, reach, day)
        await uow.commit()
        assert earlier is not None
        return AlreadyReminded(earlier)
    author = sender.telegram_id or 0
    broadcasts = []
    for locale in sorted(locales):
        title, body = text(locale, article)
        reminder = await uow.publicity.create_article(
            title=title,
            body=body,
            author_id=author,
            audience=article.audience,
            reminder_of=article,
        )
        broadcasts.append(
            await uow.publicity.start_broadcast(
                reminder.id,
                created_by=author,
                locale=locale,
                progress_chat_id=None,
                now=now,
                recipients=reminders.unread(article.id, paths, locale),
            )
        )
    await reminders.record_sent(reminder_id, sum(b.total for b in broadcasts))
    sent = await reminders.reminder_on(article.id, reach, day)
    await uow.commit()
    assert sent is not None
    return Reminded(sent, tuple(b.id for b in broadcasts))
