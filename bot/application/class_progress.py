"""The class teacher's (班主任) page: a class's progress in a quiz campaign, the reminder to
its unfinished students, and its results for the teacher's spreadsheet.

Who may: anyone whose dashboard rights reach the class (its teacher, a coordinator of its
school, an admin), read afresh on every request. The figures are the report's
(:meth:`StatisticsRepository.compile` for the class over the campaign's days); the list
of students beside them names each by display name only.

The reminder is an article per language among its recipients, broadcast by the
broadcaster (Telegram's pace, the outbox, crash safety) to the class's registered
students without a finished attempt, like a lecture's notices. It goes once per
campaign, class and day in the bureau's time zone: the record's unique key decides, so
two presses racing send once.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.application.dashboard import RECENT, SchoolRow, Viewer, campaign_days, section_of
from quizzes.campaigns import Campaign, CampaignStatus
from quizzes.class_progress import ClassReminder, Stage, StudentProgress, progress_of
from quizzes.participants import Role
from quizzes.publicity import Audience
from quizzes.statistics import CampaignFigures, Period, RoleCounts
from quizzes.units import Unit, UnitKind
from storage.unit_of_work import UnitOfWork

__all__ = [
    "AlreadyReminded",
    "ClassRefusal",
    "ClassView",
    "Reminded",
    "ReminderRefusal",
    "class_view",
    "classes_of",
    "remind_unfinished",
]


class ClassRefusal(StrEnum):
    UNKNOWN = "unknown"  # no such class, or no such campaign for it
    NOT_IN_REACH = "not_in_reach"


@dataclass(frozen=True, slots=True)
class ClassView:
    unit: Unit
    campaigns: tuple[Campaign, ...]  # open or recently closed, for this class
    campaign: Campaign | None  # the one shown (None: there is none)
    state: CampaignStatus | None
    period: Period | None  # the campaign's days, up to today
    figures: SchoolRow | None  # the report's row of the class over those days (the overview's)
    campaign_figures: CampaignFigures | None  # the report's line of the campaign in it
    students: tuple[StudentProgress, ...] = ()
    reminder: ClassReminder | None = None  # today's, if sent

    @property
    def not_started(self) -> tuple[StudentProgress, ...]:
        return tuple(s for s in self.students if s.stage is Stage.NOT_STARTED)

    @property
    def unfinished(self) -> tuple[StudentProgress, ...]:
        return tuple(s for s in self.students if s.stage is Stage.UNFINISHED)

    @property
    def to_remind(self) -> int:
        """Students a reminder would reach now: not finished, and reachable in chat."""
        return sum(
            1 for s in self.students if s.stage is not Stage.FINISHED and s.student.reachable
        )


def _for_class(campaign: Campaign, unit: Unit) -> bool:
    audience = campaign.audience
    if audience.roles and Role.STUDENT not in audience.roles:
        return False
    return not audience.unit_ids or any(i in unit.ancestor_ids for i in audience.unit_ids)


async def _class_in_reach(uow: UnitOfWork, viewer: Viewer, class_id: int) -> Unit | ClassRefusal:
    unit = await uow.units.get(class_id)
    if unit is None or unit.kind is not UnitKind.CLASS:
        return ClassRefusal.UNKNOWN
    if not viewer.rights.may_see(unit):
        return ClassRefusal.NOT_IN_REACH
    return unit


async def _campaigns_of(uow: UnitOfWork, unit: Unit, now: datetime) -> list[Campaign]:
    """The campaigns the page offers: open or closed within :data:`RECENT`, for the class,
    the latest first (as the overview orders them)."""
    shown = [
        c
        for c in await uow.campaigns.all()
        if _for_class(c, unit)
        and (
            c.state_at(now) is CampaignStatus.OPEN
            or (c.state_at(now) is CampaignStatus.CLOSED and now - c.closes_at <= RECENT)
        )
    ]
    return sorted(shown, key=lambda c: (-c.opens_at.timestamp(), c.id))


async def class_view(
    uow: UnitOfWork,
    viewer: Viewer,
    class_id: int,
    campaign_id: int | None,
    *,
    now: datetime,
    zone: ZoneInfo,
    total_name: str,
) -> ClassView | ClassRefusal:
    """The class's progress in ``campaign_id`` (default: the latest open or recent one)."""
    unit = await _class_in_reach(uow, viewer, class_id)
    if isinstance(unit, ClassRefusal):
        await uow.commit()
        return unit
    campaigns = await _campaigns_of(uow, unit, now)
    if campaign_id is None:
        campaign = campaigns[0] if campaigns else None
    else:
        campaign = next((c for c in campaigns if c.id == campaign_id), None)
        if campaign is None:
            await uow.commit()
            return ClassRefusal.UNKNOWN
    if campaign is None:
        await uow.commit()
        return ClassView(unit, (), None, None, None, None, None)
    students = await uow.class_progress.students(unit.id)
    attempts = await uow.class_progress.attempts(campaign.id, unit.id)
    today = now.astimezone(zone).date()
    reminder = await uow.class_progress.reminder_on(campaign.id, unit.id, today)
    await uow.commit()
    period = campaign_days(campaign, zone, today)
    section, _groups = await section_of(
        uow, [unit], f"c{campaign.id}", period, campaign, now=now, zone=zone, total_name=total_name
    )
    figures = section.rows[0] if section.rows else section.total
    line = section.campaign_figures
    if line is None:  # nobody of the class took part: the report has no line for it
        line = CampaignFigures(
            campaign.id,
            campaign.name,
            campaign.opens_at,
            campaign.closes_at,
            RoleCounts(),
            0,
            0,
            figures.enrolled,
        )
    return ClassView(
        unit,
        tuple(campaigns),
        campaign,
        campaign.state_at(now),
        period,
        figures,
        line,
        tuple(progress_of(students, attempts)),
        reminder,
    )


async def classes_of(
    uow: UnitOfWork, viewer: Viewer, unit_id: int
) -> tuple[Unit, tuple[Unit, ...]] | ClassRefusal:
    """The classes of a school (or of any unit: those below it) whose pages the viewer
    may open, by name; a coordinator's way to a class."""
    unit = await uow.units.get(unit_id)
    if unit is None:
        await uow.commit()
        return ClassRefusal.UNKNOWN
    if not viewer.rights.may_see(unit):
        await uow.commit()
        return ClassRefusal.NOT_IN_REACH
    below = await uow.units.within(unit)
    await uow.commit()
    classes = sorted(
        (u for u in below if u.kind is UnitKind.CLASS and not u.retired),
        key=lambda u: (u.name, u.id),
    )
    return unit, tuple(classes)


# -- the reminder -----------------------------------------------------------------------


class ReminderRefusal(StrEnum):
    BAD_FORM = "bad_form"  # the form's CSRF token is missing or wrong
    UNKNOWN = ClassRefusal.UNKNOWN.value
    NOT_IN_REACH = ClassRefusal.NOT_IN_REACH.value
    NOT_OPEN = "not_open"  # the campaign is closed (or not open yet)
    NOBODY = "nobody"  # every student the reminder could reach has finished


@dataclass(frozen=True, slots=True)
class AlreadyReminded:
    """Refused: the class was reminded of this campaign today already."""

    reminder: ClassReminder


@dataclass(frozen=True, slots=True)
class Reminded:
    reminder: ClassReminder
    broadcast_ids: tuple[int, ...]


# The reminder's title and body (Telegram HTML) in a language, written by the door.
ReminderText = Callable[[str, Campaign, Unit], tuple[str, str]]


def form_token_ok(viewer: Viewer, token: str | None) -> bool:
    """The form carries the session's CSRF token."""
    return isinstance(token, str) and hmac.compare_digest(
        token.encode(), viewer.csrf_token.encode()
    )


async def remind_unfinished(
    uow: UnitOfWork,
    viewer: Viewer,
    class_id: int,
    campaign_id: int,
    form_token: str | None,
    *,
    text: ReminderText,
    now: datetime,
    zone: ZoneInfo,
) -> Reminded | AlreadyReminded | ReminderRefusal:
    """Remind the class's registered students without a finished attempt in the
    campaign, once per campaign, class and day; recorded with who pressed and how many
    it went to. The broadcaster sends it (it looks for new broadcasts by itself)."""
    if not form_token_ok(viewer, form_token):
        return ReminderRefusal.BAD_FORM
    unit = await _class_in_reach(uow, viewer, class_id)
    if isinstance(unit, ClassRefusal):
        await uow.commit()
        return ReminderRefusal(unit.value)
    campaign = next((c for c in await _campaigns_of(uow, unit, now) if c.id == campaign_id), None)
    if campaign is None:
        await uow.commit()
        return ReminderRefusal.UNKNOWN
    if not campaign.is_open(now):
        await uow.commit()
        return ReminderRefusal.NOT_OPEN
    day = now.astimezone(zone).date()
    progress = uow.class_progress
    roles = campaign.audience.roles
    locales = await progress.unfinished_locales(campaign.id, unit.id, roles)
    earlier = await progress.reminder_on(campaign.id, unit.id, day)
    if earlier is not None:
        await uow.commit()
        return AlreadyReminded(earlier)
    await uow.commit()  # the claim starts a transaction of its own (SQLite's write lock)
    if not locales:
        return ReminderRefusal.NOBODY
    reminder_id = await progress.claim_reminder(
        campaign.id, unit.id, day, viewer.participant.id, now
    )
    if reminder_id is None:  # another press (another tab) got there first
        earlier = await progress.reminder_on(campaign.id, unit.id, day)
        await uow.commit()
        assert earlier is not None
        return AlreadyReminded(earlier)
    author = viewer.participant.telegram_id or 0
    article_ids: list[int] = []
    broadcasts = []
    for locale in locales:
        title, body = text(locale, campaign, unit)
        article = await uow.publicity.create_article(
            title=title,
            body=body,
            author_id=author,
            audience=Audience(frozenset({unit.id}), frozenset({Role.STUDENT})),
        )
        article_ids.append(article.id)
        broadcasts.append(
            await uow.publicity.start_broadcast(
                article.id,
                created_by=author,
                locale=locale,
                progress_chat_id=None,
                now=now,
                recipients=progress.unfinished(campaign.id, unit.id, roles, locale),
            )
        )
    recipients = sum(b.total for b in broadcasts)
    await progress.record_sent(reminder_id, article_ids, recipients)
    sent = await progress.reminder_on(campaign.id, unit.id, day)
    await uow.commit()
    assert sent is not None
    return Reminded(sent, tuple(b.id for b in broadcasts))
