"""Statistics: every figure, per school and in total, against a count made in Python."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from quizzes.statistics import Period, Statistics, UnitFigures
from quizzes.units import UnitKind
from storage.repositories import Repositories
from storage.statistics import StatisticsRepository
from tests.report_world import ALL, PERIOD, SHANGHAI, Expected, build_history, sh


@pytest.fixture
async def history(session_factory: async_sessionmaker[AsyncSession]) -> Expected:
    return await build_history(session_factory)


async def compile_for(
    session_factory: async_sessionmaker[AsyncSession],
    unit_name: str | None = None,
    now: datetime | None = None,
) -> Statistics:
    async with session_factory() as session:
        repo = StatisticsRepository(session)
        if unit_name is None:
            scope = await repo.root()
        else:
            scope = (await Repositories.over(session).units.find_school(unit_name))[0]
        assert scope is not None
        return await repo.compile(scope, Period(*PERIOD), SHANGHAI, now=now)


def check(figures: UnitFigures, expected: Expected, school: str | None) -> None:
    quiz = expected.quiz(school)
    assert figures.registered.student == expected.registered(school, "student")
    assert figures.registered.teacher == expected.registered(school, "teacher")
    assert figures.registered.parent == expected.registered(school, "parent")
    assert figures.took_part.total == len(quiz["took_part"])
    assert figures.took_part.student == len(quiz["took_part_student"])
    assert figures.took_part.teacher == len(quiz["took_part_teacher"])
    assert figures.completed == len(quiz["completed"])
    assert figures.passed == len(quiz["passed"])
    assert figures.deliveries == expected.delivered(school)
    assert figures.people_reached == expected.reached(school)
    assert figures.people_reached <= figures.deliveries
    assert figures.reads == expected.count(expected.reads, school)
    assert figures.clicks == expected.count(expected.clicks, school)
    assert figures.articles_published == expected.published(school)
    assert figures.shortlisted == expected.shortlist(school)
    assert figures.lecture_checkins == len(expected.lecture_checkins(school))
    assert figures.lecture_attendees.total == expected.attendees(school)
    for role in ("student", "teacher", "parent"):
        assert getattr(figures.lecture_attendees, role) == expected.attendees(school, role)


def check_lectures(stats: Statistics, expected: Expected, scope: str) -> None:
    held = expected.lectures_for(scope)
    assert {lecture.lecture_id: lecture.checkins for lecture in stats.lectures} == held
    assert stats.lectures_held == len(held)
    for lecture in stats.lectures:
        assert lecture.title == expected.lectures[lecture.lecture_id][0]


async def test_every_figure_per_school_and_in_total(
    session_factory: async_sessionmaker[AsyncSession], history: Expected
) -> None:
    stats = await compile_for(session_factory)
    # In roster order, which is the order the units were created in.
    assert [s.unit_id for s in stats.schools] == sorted(u.id for u in history.schools.values())
    for figures in stats.schools:
        unit = history.schools[figures.name]
        assert figures.unit_id == unit.id
        assert (figures.students_enrolled, figures.teachers_enrolled) == (
            unit.students_enrolled,
            unit.teachers_enrolled,
        )
        check(figures, history, figures.name)
    # Participants attached to a regiment belong to no school: counted apart, and in total.
    assert stats.elsewhere is not None
    check(stats.elsewhere, history, None)
    check(stats.total, history, ALL)
    assert stats.total.students_enrolled == sum(
        u.students_enrolled for u in history.schools.values()
    )
    assert stats.schools_covered == sum(
        1 for name in history.schools if history.quiz(name)["took_part"]
    )
    # The figures cover the whole of 2022 in Shanghai time and nothing of 2021 or 2023.
    assert stats.total.took_part.total > 0 and stats.total.deliveries > 0
    # Lectures: held ones only (not the cancelled one, not last year's), with the
    # check-ins by school; their announcements are not publicity articles.
    check_lectures(stats, history, ALL)
    assert stats.lectures_held == 3 and stats.total.lecture_checkins > 0
    assert stats.total.people_reached > 0


async def test_a_lecture_not_started_yet_is_not_held(
    session_factory: async_sessionmaker[AsyncSession], history: Expected
) -> None:
    now = sh(2022, 12, 31, 21, 0)  # the year's last lecture starts at 22:00
    stats = await compile_for(session_factory, now=now)
    assert {lecture.lecture_id for lecture in stats.lectures} == set(
        history.lectures_for(ALL, now)
    )
    assert stats.lectures_held == 2
    assert stats.total.lecture_checkins == len(history.lecture_checkins(ALL, now=now))


async def test_lecture_announcements_are_not_articles(
    session_factory: async_sessionmaker[AsyncSession], history: Expected
) -> None:
    stats = await compile_for(session_factory)
    assert history.lecture_articles
    everything = [
        (pid, article)
        for pid, article, status, test, sent_at in history.deliveries
        if status == "sent" and not test and history.inside(sent_at)
    ]
    # Counting them would have given more: the rule excludes something.
    assert stats.total.deliveries < len(everything)
    assert stats.total.articles_published == history.published(ALL) == 2


async def test_campaign_breakdown(
    session_factory: async_sessionmaker[AsyncSession], history: Expected
) -> None:
    stats = await compile_for(session_factory)
    assert {c.campaign_id for c in stats.campaigns} <= set(history.campaigns)
    for campaign in stats.campaigns:
        quiz = history.quiz(ALL, campaign.campaign_id)
        assert campaign.name == history.campaigns[campaign.campaign_id]
        assert campaign.took_part.total == len(quiz["took_part"])
        assert campaign.completed == len(quiz["completed"])
        assert campaign.passed == len(quiz["passed"])
        assert campaign.enrolled == stats.total.enrolled


async def test_a_school_scope_is_one_row(
    session_factory: async_sessionmaker[AsyncSession], history: Expected
) -> None:
    stats = await compile_for(session_factory, "胡杨河市第一中学")
    (school,) = stats.schools
    assert stats.elsewhere is None
    check(school, history, "胡杨河市第一中学")
    check(stats.total, history, "胡杨河市第一中学")
    check_lectures(stats, history, "胡杨河市第一中学")


async def test_every_school_scope_counts_its_own_lectures(
    session_factory: async_sessionmaker[AsyncSession], history: Expected
) -> None:
    for name in history.schools:
        stats = await compile_for(session_factory, name)
        check(stats.total, history, name)
        check_lectures(stats, history, name)


async def test_participation_rate_and_extremes(
    session_factory: async_sessionmaker[AsyncSession], history: Expected
) -> None:
    stats = await compile_for(session_factory)
    for school in stats.schools:
        unit = history.schools[school.name]
        quiz = history.quiz(school.name)
        took = len(quiz["took_part_student"]) + len(quiz["took_part_teacher"])
        enrolled = unit.students_enrolled + unit.teachers_enrolled
        assert school.participation_rate == pytest.approx(took / enrolled)
    ranked = stats.ranked()
    assert stats.highest(1) == ranked[:1] and stats.lowest(1) == ranked[-1:]
    # Never the same school among the highest and the lowest.
    assert not {s.unit_id for s in stats.highest()} & {s.unit_id for s in stats.lowest()}
    rates = [s.participation_rate or 0 for s in ranked]
    assert rates == sorted(rates, reverse=True)


async def test_an_empty_period_counts_nothing_but_enrolment(
    session_factory: async_sessionmaker[AsyncSession], history: Expected
) -> None:
    async with session_factory() as session:
        repo = StatisticsRepository(session)
        root = await repo.root()
        assert root is not None and root.kind is UnitKind.DIVISION
        stats = await repo.compile(root, Period(date(2019, 1, 1), date(2019, 1, 31)), SHANGHAI)
    assert stats.total.took_part.total == 0 and stats.total.deliveries == 0
    assert stats.total.people_reached == 0 and stats.lectures == ()
    assert stats.total.lecture_checkins == 0
    assert stats.total.registered.total == 0
    assert stats.total.students_enrolled > 0
    assert stats.schools_covered == 0 and stats.campaigns == ()


def test_period_bounds_are_whole_days_in_shanghai() -> None:
    begin, end = Period(date(2022, 1, 1), date(2022, 12, 31)).bounds(SHANGHAI)
    assert begin.isoformat() == "2021-12-31T16:00:00+00:00"
    assert end.isoformat() == "2022-12-31T16:00:00+00:00"
    with pytest.raises(ValueError):
        Period(date(2022, 2, 1), date(2022, 1, 1))


async def test_two_schools_of_one_name_are_told_apart_by_regiment_in_the_report(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """Two 中心小学 in two regiments are two rows, each named after its regiment; a school
    whose name is its own keeps its plain name."""
    from quizzes.roster import RosterRow
    from storage.roster_import import import_roster

    rows = [
        RosterRow(2, "129团", "中心小学", "一年级1班", 30, 2),
        RosterRow(3, "131团", "中心小学", "一年级1班", 28, 2),
        RosterRow(4, "131团", "一三一团中学", "七年级1班", 40, 3),
    ]
    async with session_factory() as session:
        await import_roster(session, rows, "第七师")
        await session.commit()
        repo = StatisticsRepository(session)
        root = await repo.root()
        assert root is not None
        stats = await repo.compile(root, Period(*PERIOD), SHANGHAI)
    by_name = {school.name: school.students_enrolled for school in stats.schools}
    assert by_name == {"129团 · 中心小学": 30, "131团 · 中心小学": 28, "一三一团中学": 40}


@pytest.mark.parametrize(
    ("percent", "shown"),
    [
        (60.0, "60"),
        (59.5, "59.5"),
        (100 * 2 / 3, "66.7"),
        (81.25, "81.3"),
        (0.0, "0"),
        (100.0, "100"),
    ],
)
def test_a_score_just_under_the_pass_mark_never_reads_as_the_pass_mark(
    percent: float, shown: str
) -> None:
    """Regression: a 59.5% result showed "60%" beside 未合格 (rounded to a whole number)."""
    from quizzes.statistics import score_percent

    assert score_percent(percent) == shown


async def test_took_part_per_day_is_counted_on_shanghai_days_across_the_campaigns(
    session_factory: async_sessionmaker[AsyncSession], history: Expected
) -> None:
    """The second chart's figure: people who took part each day, on the bureau's calendar
    (an attempt at 00:10 on 1 January in Shanghai is still 31 December in UTC)."""
    stats = await compile_for(session_factory)
    by_hand = history.took_part_by_day(ALL)
    assert by_hand[date(2022, 1, 1)] > 0 and by_hand[date(2022, 12, 31)] > 0
    # Every day of the campaigns' window within the period, a day without anyone as 0.
    days = [day for day, _count in stats.daily]
    assert days[0] == date(2022, 1, 1) and days[-1] == date(2022, 12, 31)
    assert len(days) == 365
    assert {day: count for day, count in stats.daily if count} == by_hand
    # A school's report counts its own people only.
    school = await compile_for(session_factory, "胡杨河市第一中学")
    own = history.took_part_by_day("胡杨河市第一中学")
    assert {day: count for day, count in school.daily if count} == own


async def test_no_campaign_in_the_period_means_no_days_to_chart(
    session_factory: async_sessionmaker[AsyncSession], history: Expected
) -> None:
    async with session_factory() as session:
        repo = StatisticsRepository(session)
        root = await repo.root()
        assert root is not None
        stats = await repo.compile(root, Period(date(2019, 1, 1), date(2019, 1, 31)), SHANGHAI)
    assert stats.daily == ()
