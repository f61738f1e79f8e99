"""A known history for the statistics and report tests, and its figures counted in Python.

The history is written row by row (registrations, attempts around the period's edges,
articles with deliveries, reads, clicks, a shortlist, online lectures with check-ins and
their announcements); :class:`Expected` counts the same figures from the list of what
was written, independently of the SQL under test.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from quizzes.units import Unit, UnitKind
from storage.models import ParticipantRow
from storage.models_publicity import (
    ArticleReadRow,
    ArticleRow,
    BroadcastRow,
    DeliveryRow,
    LectureCheckinRow,
    LectureRow,
    LinkClickRow,
)
from storage.models_quiz import AttemptRow, CampaignRow, ShortlistEntryRow, ShortlistRow
from storage.repositories import Repositories
from storage.roster_import import import_roster
from tests.factories import SMALL_ROSTER

SHANGHAI = ZoneInfo("Asia/Shanghai")
PERIOD = (date(2022, 1, 1), date(2022, 12, 31))
# Every participant's display name starts with it; no aggregate report may contain it.
NAME_PREFIX = "实名测试"
ALL = "<every school>"  # figures of the whole scope


def sh(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


# Moments around the edges of 2022 in Shanghai: 2022-01-01 00:10 +08 is still 2021 in UTC.
INSIDE = (sh(2022, 1, 1, 0, 10), sh(2022, 6, 15), sh(2022, 12, 31, 23, 50))
OUTSIDE = (sh(2021, 12, 31, 23, 50), sh(2023, 1, 1, 0, 5))


@dataclass
class Person:
    id: int
    role: str
    school: str | None  # None: attached to a regiment, in no school
    joined_at: datetime | None


@dataclass
class Expected:
    """Figures per school name (None: no school), counted from what was written."""

    schools: dict[str, Unit]
    people: list[Person] = field(default_factory=list)
    attempts: list[tuple[int, int, datetime, str, bool | None]] = field(default_factory=list)
    articles: dict[int, tuple[str, datetime | None]] = field(default_factory=dict)
    deliveries: list[tuple[int, int, str, bool, datetime | None]] = field(default_factory=list)
    reads: list[tuple[int, int, datetime]] = field(default_factory=list)
    clicks: list[tuple[int, int, datetime]] = field(default_factory=list)
    # (participant, when the list was confirmed: None for a list only looked at)
    shortlisted: list[tuple[int, datetime | None]] = field(default_factory=list)
    campaigns: dict[int, str] = field(default_factory=dict)
    # An online lecture's announcements: articles, but not publicity articles.
    lecture_articles: set[int] = field(default_factory=set)
    # id -> (title, cancelled, starts_at, audience school names: empty for everyone)
    lectures: dict[int, tuple[str, bool, datetime, frozenset[str]]] = field(default_factory=dict)
    checkins: list[tuple[int, int]] = field(default_factory=list)  # (participant, lecture)

    @staticmethod
    def inside(moment: datetime | None) -> bool:
        if moment is None:
            return False
        start = datetime(2022, 1, 1, tzinfo=SHANGHAI)
        end = datetime(2023, 1, 1, tzinfo=SHANGHAI)
        return start <= moment < end

    def school_of(self, participant_id: int) -> str | None:
        return next(p.school for p in self.people if p.id == participant_id)

    def role_of(self, participant_id: int) -> str:
        return next(p.role for p in self.people if p.id == participant_id)

    def registered(self, school: str | None, role: str) -> int:
        end = datetime(2023, 1, 1, tzinfo=SHANGHAI)
        return sum(
            1
            for p in self.people
            if (school == ALL or p.school == school)
            and p.role == role
            and p.joined_at
            and p.joined_at < end
        )

    def quiz(self, school: str | None, campaign: int | None = None) -> dict[str, set[int]]:
        found: dict[str, set[int]] = defaultdict(set)
        for pid, campaign_id, started, status, passed in self.attempts:
            if campaign is not None and campaign_id != campaign:
                continue
            if school != ALL and self.school_of(pid) != school:
                continue
            if not self.inside(started):
                continue
            found["took_part"].add(pid)
            found[f"took_part_{self.role_of(pid)}"].add(pid)
            if status == "finished":
                found["completed"].add(pid)
            if passed:
                found["passed"].add(pid)
        return found

    def took_part_by_day(self, school: str | None) -> dict[date, int]:
        """People who started an attempt each day (in Shanghai) of the period, by hand."""
        people: dict[date, set[int]] = defaultdict(set)
        for pid, _campaign, started, _status, _passed in self.attempts:
            if self.inside(started) and (school == ALL or self.school_of(pid) == school):
                people[started.astimezone(SHANGHAI).date()].add(pid)
        return {day: len(pids) for day, pids in people.items()}

    def _delivered(self, school: str | None) -> list[int]:
        """Who got each publicity article delivered in the period, one entry each."""
        return [
            pid
            for pid, article, status, test, sent_at in self.deliveries
            if (school == ALL or self.school_of(pid) == school)
            and status == "sent"
            and not test
            and article not in self.lecture_articles
            and self.inside(sent_at)
        ]

    def delivered(self, school: str | None) -> int:
        return len(self._delivered(school))

    def reached(self, school: str | None) -> int:
        return len(set(self._delivered(school)))

    def published(self, school: str | None) -> int:
        articles = set()
        for pid, article, status, test, _sent_at in self.deliveries:
            article_status, publish_at = self.articles[article]
            if (
                (school == ALL or self.school_of(pid) == school)
                and status == "sent"
                and not test
                and article not in self.lecture_articles
                and article_status == "published"
                and self.inside(publish_at)
            ):
                articles.add(article)
        return len(articles)

    def count(self, rows: list[tuple[int, int, datetime]], school: str | None) -> int:
        return sum(
            1
            for pid, article, at in rows
            if (school == ALL or self.school_of(pid) == school)
            and article not in self.lecture_articles
            and self.inside(at)
        )

    def held(self, lecture: int, now: datetime | None = None) -> bool:
        _title, cancelled, starts_at, _audience = self.lectures[lecture]
        return not cancelled and self.inside(starts_at) and (now is None or starts_at <= now)

    def lecture_checkins(
        self, school: str | None, role: str | None = None, now: datetime | None = None
    ) -> list[tuple[int, int]]:
        return [
            (pid, lecture)
            for pid, lecture in self.checkins
            if (school == ALL or self.school_of(pid) == school)
            and (role is None or self.role_of(pid) == role)
            and self.held(lecture, now)
        ]

    def attendees(self, school: str | None, role: str | None = None) -> int:
        return len({pid for pid, _lecture in self.lecture_checkins(school, role)})

    def lectures_for(self, school: str, now: datetime | None = None) -> dict[int, int]:
        """Lectures held for a scope (ALL or a school name) -> its check-ins there."""
        found = {}
        for lecture, (_t, _c, _s, audience) in self.lectures.items():
            if not self.held(lecture, now):
                continue
            checkins = sum(
                1 for _pid, lid in self.lecture_checkins(school, now=now) if lid == lecture
            )
            if school == ALL or not audience or school in audience or checkins:
                found[lecture] = checkins
        return found

    def shortlist(self, school: str | None) -> int:
        """Students on a list confirmed in the period, each once; teachers and parents on
        such a list, and lists only looked at, do not count."""
        return len(
            {
                pid
                for pid, confirmed_at in self.shortlisted
                if (school == ALL or self.school_of(pid) == school)
                and self.role_of(pid) == "student"
                and self.inside(confirmed_at)
            }
        )


async def build_history(
    session_factory: async_sessionmaker[AsyncSession], seed: int = 7
) -> Expected:
    rng = random.Random(seed)
    async with session_factory() as session:
        await import_roster(session, SMALL_ROSTER, "第七师")
        repo = Repositories.over(session)
        schools = {u.name: u for u in await repo.units.of_kind(UnitKind.SCHOOL)}
        classes = await repo.units.of_kind(UnitKind.CLASS)
        regiment = (await repo.units.of_kind(UnitKind.REGIMENT))[0]
        expected = Expected(schools)
        by_id = {u.id: u for u in [*schools.values(), *classes]}
        school_by_unit = {
            unit.id: next(s.name for s in schools.values() if unit.path.startswith(s.path))
            for unit in by_id.values()
        }
        units = [*by_id, regiment.id]
        joined_choices = [*INSIDE, *OUTSIDE, sh(2020, 9, 1), None]
        rows = []
        for n in range(60):
            unit_id = rng.choice(units)
            role = rng.choice(["student", "student", "student", "teacher", "parent"])
            joined = rng.choice(joined_choices)
            rows.append(
                ParticipantRow(
                    telegram_id=10_000 + n,
                    display_name=f"{NAME_PREFIX}{n}",
                    role=role,
                    unit_id=unit_id,
                    locale="zh-CN",
                    subscribed=True,
                    joined_at=joined,
                    first_seen_at=sh(2020, 9, 1),
                )
            )
        session.add_all(rows)
        await session.flush()
        for row in rows:
            expected.people.append(
                Person(row.id, row.role or "", school_by_unit.get(row.unit_id or 0), row.joined_at)
            )

        campaigns = []
        for name, opens in (
            ("宪法卫士2022春", sh(2022, 3, 1)),
            ("宪法卫士2022秋", sh(2022, 9, 1)),
        ):
            campaign = CampaignRow(
                name=name,
                status="closed",
                bank_ids=[],
                questions=10,
                opens_at=opens - timedelta(days=200),
                closes_at=opens + timedelta(days=200),
            )
            session.add(campaign)
            campaigns.append(campaign)
        await session.flush()
        for campaign in campaigns:
            expected.campaigns[campaign.id] = campaign.name

        moments = [*INSIDE, *OUTSIDE]
        for row in rows:
            for number in range(1, rng.randint(0, 3) + 1):
                campaign = rng.choice(campaigns)
                started = rng.choice(moments)
                status = rng.choice(["finished", "finished", "active"])
                passed = rng.random() < 0.6 if status == "finished" else None
                session.add(
                    AttemptRow(
                        campaign_id=campaign.id,
                        participant_id=row.id,
                        number=number,
                        status=status,
                        started_at=started,
                        finished_at=started + timedelta(minutes=5)
                        if status == "finished"
                        else None,
                        question_count=10,
                        points=8.0,
                        passed=passed,
                        chat_id=row.telegram_id,
                    )
                )
                expected.attempts.append((row.id, campaign.id, started, status, passed))

        article_plan = [
            ("published", sh(2022, 4, 1)),
            ("published", sh(2022, 12, 31, 23, 0)),
            ("published", sh(2021, 12, 31, 23, 0)),  # published before the period
            ("cancelled", None),
        ]
        for index, (status, publish_at) in enumerate(article_plan):
            article = ArticleRow(
                title=f"普法文章{index}",
                body="正文",
                audience={},
                author_id=1,
                publish_at=publish_at,
                status=status,
                link_secret="s",
            )
            session.add(article)
            await session.flush()
            expected.articles[article.id] = (status, publish_at)
            for test in (False, True):
                broadcast = BroadcastRow(article_id=article.id, created_by=1, test_send=test)
                session.add(broadcast)
                await session.flush()
                for row in rng.sample(rows, 25 if not test else 2):
                    delivery_status = rng.choice(["sent", "sent", "sent", "failed", "blocked"])
                    sent_at = (publish_at or sh(2022, 5, 1)) + timedelta(
                        minutes=rng.randint(0, 90)
                    )
                    session.add(
                        DeliveryRow(
                            broadcast_id=broadcast.id,
                            participant_id=row.id,
                            chat_id=row.telegram_id,
                            status=delivery_status,
                            sent_at=sent_at if delivery_status == "sent" else None,
                        )
                    )
                    expected.deliveries.append(
                        (
                            row.id,
                            article.id,
                            delivery_status,
                            test,
                            sent_at if delivery_status == "sent" else None,
                        )
                    )
            for row in rng.sample(rows, 12):
                read_at = rng.choice(moments)
                session.add(
                    ArticleReadRow(article_id=article.id, participant_id=row.id, read_at=read_at)
                )
                expected.reads.append((row.id, article.id, read_at))
            for row in rng.sample(rows, 6):
                clicked_at = rng.choice(moments)
                session.add(
                    LinkClickRow(
                        article_id=article.id,
                        participant_id=row.id,
                        token="t",
                        clicks=rng.randint(1, 4),
                        clicked_at=clicked_at,
                        last_clicked_at=clicked_at + timedelta(days=1),
                    )
                )
                expected.clicks.append((row.id, article.id, clicked_at))
        await session.flush()

        # Online lectures: held, held for one school, cancelled, before the period, and
        # the last evening of the period (held, unless the count is made before it).
        first_school = sorted(schools)[0]
        lecture_plan = [
            ("宪法与未成年人保护", "scheduled", sh(2022, 5, 10, 19, 0), frozenset[str]()),
            ("校园欺凌的法律责任", "scheduled", sh(2022, 9, 20, 15, 0), frozenset({first_school})),
            ("取消的公开课", "cancelled", sh(2022, 6, 1, 19, 0), frozenset[str]()),
            ("去年的公开课", "scheduled", sh(2021, 12, 31, 20, 0), frozenset[str]()),
            ("跨年公开课", "scheduled", sh(2022, 12, 31, 22, 0), frozenset[str]()),
        ]
        for title, status, starts_at, audience in lecture_plan:
            lecture = LectureRow(
                title=title,
                speaker="法治副校长",
                starts_at=starts_at,
                ends_at=starts_at + timedelta(minutes=45),
                audience={"units": sorted(schools[name].id for name in audience), "roles": []},
                created_by=1,
                status=status,
            )
            session.add(lecture)
            await session.flush()
            expected.lectures[lecture.id] = (title, status == "cancelled", starts_at, audience)
            for row in rng.sample(rows, 15):
                session.add(
                    LectureCheckinRow(
                        lecture_id=lecture.id,
                        participant_id=row.id,
                        checked_in_at=starts_at + timedelta(minutes=rng.randint(-5, 50)),
                    )
                )
                expected.checkins.append((row.id, lecture.id))
            # Its announcement goes out as an article: delivered, read and clicked, and
            # counted in none of the article figures.
            notice = ArticleRow(
                title=f"网络公开课：{title}",
                body="主讲：法治副校长",
                audience={},
                author_id=1,
                publish_at=starts_at - timedelta(days=1),
                status="published",
                link_secret="s",
                lecture_id=lecture.id,
            )
            session.add(notice)
            await session.flush()
            expected.articles[notice.id] = ("published", notice.publish_at)
            expected.lecture_articles.add(notice.id)
            broadcast = BroadcastRow(article_id=notice.id, created_by=1, test_send=False)
            session.add(broadcast)
            await session.flush()
            for row in rng.sample(rows, 20):
                sent_at = starts_at - timedelta(hours=20)
                session.add(
                    DeliveryRow(
                        broadcast_id=broadcast.id,
                        participant_id=row.id,
                        chat_id=row.telegram_id,
                        status="sent",
                        sent_at=sent_at,
                    )
                )
                expected.deliveries.append((row.id, notice.id, "sent", False, sent_at))
            for row in rng.sample(rows, 8):
                session.add(
                    ArticleReadRow(article_id=notice.id, participant_id=row.id, read_at=starts_at)
                )
                expected.reads.append((row.id, notice.id, starts_at))
                session.add(
                    LinkClickRow(
                        article_id=notice.id,
                        participant_id=row.id,
                        token="t",
                        clicks=1,
                        clicked_at=starts_at,
                        last_clicked_at=starts_at,
                    )
                )
                expected.clicks.append((row.id, notice.id, starts_at))
        await session.flush()

        finished = [
            (pid, cid) for pid, cid, _s, status, _p in expected.attempts if status == "finished"
        ]
        # Lists drawn with every role (a teacher among them counts nowhere): confirmed in
        # the period, drawn before it and confirmed in it, only looked at, confirmed after.
        shortlist_plan: list[tuple[datetime, datetime | None]] = [
            (sh(2022, 12, 20), sh(2022, 12, 21)),
            (sh(2021, 12, 30), sh(2022, 1, 3)),
            (sh(2022, 6, 1), None),
            (sh(2023, 2, 1), sh(2023, 2, 1)),
        ]
        for created_at, confirmed_at in shortlist_plan:
            shortlist = ShortlistRow(
                campaign_id=campaigns[0].id,
                top_n=5,
                created_at=created_at,
                roles="student,teacher,parent",
                confirmed_at=confirmed_at,
            )
            session.add(shortlist)
            await session.flush()
            chosen = rng.sample(finished, min(5, len(finished)))
            for rank, (pid, _cid) in enumerate(chosen, start=1):
                attempt = await session.scalar(
                    select(AttemptRow.id).where(AttemptRow.participant_id == pid).limit(1)
                )
                session.add(
                    ShortlistEntryRow(
                        shortlist_id=shortlist.id,
                        rank=rank,
                        participant_id=pid,
                        attempt_id=attempt,
                        points=9.0,
                        total_ms=1000,
                        finished_at=created_at,
                    )
                )
                expected.shortlisted.append((pid, confirmed_at))
        await session.commit()
    return expected


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
