"""Scheduling an online lecture: the lecture, its announcement now, its reminder later.

Both messages are articles tied to the lecture, so they go through the broadcaster (with
its limits, outbox and crash safety), count reads and link clicks like any article, and
carry the check-in button. The reminder is a scheduled article at ``starts_at - 1 h``,
published by the scheduler's job or, failing that, by the broadcaster's own loop.

Cancelling withdraws the reminder (its job finds nothing scheduled to publish), stops
the broadcasts under way, closes check-in, and tells whoever the announcement reached.
The notice is an article of the lecture too (without the check-in button), written in
the cancelling transaction with a delivery per person to tell, so a crash between the
cancelling and the last notice leaves the rest to the broadcaster, not lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Gettext, Translator
from bot.when import minutes, span_when
from quizzes.lectures import CHECKIN_EARLY, Cancellation, Lecture, lecture_window
from quizzes.publicity import Article, ArticleStatus, Audience, Broadcast
from quizzes.themes import Theme
from storage.publicity import LectureRepository, PublicityRepository

if TYPE_CHECKING:
    from bot.scheduler import Scheduler


@dataclass(frozen=True)
class ScheduledLecture:
    lecture: Lecture
    announcement: Broadcast
    reminder: Article | None  # None: the lecture starts within the hour


def when_text(lecture: Lecture, zone: tzinfo, _: Gettext) -> str:
    return span_when(lecture.starts_at, lecture.ends_at, zone, _.plain)


def lecture_body(lecture: Lecture, zone: tzinfo, _: Gettext) -> str:
    key = "lecture.body_link" if lecture.link else "lecture.body"
    early = minutes(CHECKIN_EARLY)
    return _(key, speaker=lecture.speaker, when=when_text(lecture, zone, _), early=early)


def announcement_title(lecture: Lecture, _: Gettext) -> str:
    return _.plain("lecture.announce_title", title=lecture.title)


def preview_announcement(lecture: Lecture, zone: tzinfo, _: Gettext, now: datetime) -> Article:
    """The announcement of a lecture not stored yet, built as :func:`schedule_lecture`
    builds it (ids are 0), to show its author before it goes out."""
    return Article(
        id=0,
        title=announcement_title(lecture, _),
        body=lecture_body(lecture, zone, _),
        photo_file_id=None,
        has_photo=False,
        link=lecture.link,
        audience=lecture.audience,
        author_id=lecture.created_by,
        created_at=now,
        publish_at=None,
        status=ArticleStatus.DRAFT,
        link_secret="",
        lecture_id=lecture.id,
    )


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
    theme: Theme | None = None,
) -> ScheduledLecture:
    """Store the lecture (with its activity, of the kind ``online_lecture`` and of
    ``theme``, else the kind's usual 宪法), start its announcement and schedule its
    reminder (one transaction; the caller commits)."""
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
        zone=zone,
        theme=theme,
    )
    body = lecture_body(lecture, zone, _)
    announcement = await publicity.create_article(
        title=announcement_title(lecture, _),
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


def plan_reminder(scheduler: Scheduler, scheduled: ScheduledLecture) -> None:
    """Schedule the reminder's publishing at once (the article planner would otherwise
    pick it up at its next run; it keeps it planned across restarts)."""
    from bot.publicity_jobs import job_id, publish_article

    reminder = scheduled.reminder
    if reminder is not None and reminder.publish_at is not None:
        scheduler.at(
            job_id(reminder.id), reminder.publish_at, publish_article, article_id=reminder.id
        )


async def cancel_lecture(
    session: AsyncSession,
    lecture_id: int,
    now: datetime,
    *,
    cancelled_by: int,
    zone: tzinfo,
    translator: Translator,
) -> Cancellation | None:
    """Cancel a scheduled lecture and start its notice to everyone the announcement or
    reminder reached, in each one's language: a notice per language among them (one
    transaction; the caller commits, then calls :func:`after_cancel`). ``None`` when it
    was not scheduled any more."""
    lectures = LectureRepository(session)
    cancellation = await lectures.cancel(lecture_id, now)
    if cancellation is None:
        return None
    lecture = cancellation.lecture
    publicity = PublicityRepository(session)
    for locale in await lectures.told_locales(lecture.id):
        _ = translator.bind(locale)
        notice = await publicity.create_article(
            title=_.plain("lecture.cancel.notice_title", title=lecture.title),
            body=_("lecture.cancel.notice", title=lecture.title, time=when_text(lecture, zone, _)),
            author_id=cancelled_by,
            audience=lecture.audience,
            lecture_id=lecture.id,
            cancels_lecture=True,
        )
        await publicity.start_broadcast(
            notice.id,
            created_by=cancelled_by,
            locale=locale,
            progress_chat_id=None,
            now=now,
            recipients=lectures.told(lecture.id, locale),
        )
    return cancellation


def after_cancel(scheduler: Scheduler, cancellation: Cancellation) -> None:
    """Drop the withdrawn reminders' jobs (the notice is the broadcaster's)."""
    from bot.publicity_jobs import job_id

    for reminder_id in cancellation.reminder_ids:
        scheduler.cancel(job_id(reminder_id))
