"""Scheduling an online lecture: the lecture, its announcement now, its reminder later.

Both messages are articles tied to the lecture, so they go through the broadcaster (with
its limits, outbox and crash safety), count reads and link clicks like any article, and
carry the check-in button. The reminder is a scheduled article at ``starts_at - 1 h``,
published by the scheduler's job or, failing that, by the broadcaster's own loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Gettext
from quizzes.lectures import Lecture, lecture_window
from quizzes.publicity import Article, ArticleStatus, Audience, Broadcast
from storage.publicity import LectureRepository, PublicityRepository


@dataclass(frozen=True)
class ScheduledLecture:
    lecture: Lecture
    announcement: Broadcast
    reminder: Article | None  # None: the lecture starts within the hour


def when_text(lecture: Lecture, zone: tzinfo) -> str:
    start = lecture.starts_at.astimezone(zone)
    end = lecture.ends_at.astimezone(zone)
    return f"{start:%Y-%m-%d %H:%M}–{end:%H:%M}"


def lecture_body(lecture: Lecture, zone: tzinfo, _: Gettext) -> str:
    key = "lecture.body_link" if lecture.link else "lecture.body"
    return _(key, speaker=lecture.speaker, when=when_text(lecture, zone))


async def schedule_lecture(
    session: AsyncSession,
    *,
    title: str,
    speaker: str,
    starts_at: datetime,
    minutes: int,
    link: str | None,
    audience: Audience,
    created_by: int,
    zone: tzinfo,
    now: datetime,
    _: Gettext,
) -> ScheduledLecture:
    """Store the lecture, start its announcement and schedule its reminder (one
    transaction; the caller commits)."""
    starts_at, ends_at = lecture_window(starts_at, minutes)
    lectures = LectureRepository(session)
    publicity = PublicityRepository(session)
    lecture = await lectures.create(
        title=title,
        speaker=speaker,
        starts_at=starts_at,
        ends_at=ends_at,
        link=link,
        audience=audience,
        created_by=created_by,
    )
    body = lecture_body(lecture, zone, _)
    announcement = await publicity.create_article(
        title=_.plain("lecture.announce_title", title=title),
        body=body,
        author_id=created_by,
        audience=audience,
        link=link,
        lecture_id=lecture.id,
    )
    broadcast = await publicity.start_broadcast(
        announcement.id,
        created_by=created_by,
        locale=_.locale,
        progress_chat_id=created_by or None,
        now=now,
    )
    reminder = None
    if lecture.remind_at > now:
        reminder = await publicity.create_article(
            title=_.plain("lecture.remind_title", title=title),
            body=body,
            author_id=created_by,
            audience=audience,
            link=link,
            lecture_id=lecture.id,
            publish_at=lecture.remind_at,
            status=ArticleStatus.SCHEDULED,
        )
    return ScheduledLecture(lecture, broadcast, reminder)
