"""The demo's last chapter: the report section, compiled from everything that happened,
and its publicity and lecture figures checked against the database."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import BotApp
from bot.reports.compile import REPORT_MD, compile_report, resolve_scope
from quizzes.statistics import Period, Statistics
from quizzes.themes import Theme
from storage.models import ParticipantRow, UnitRow
from storage.models_activities import ActivityRow, VicePrincipalRow
from storage.models_publicity import (
    ArticleRow,
    BroadcastRow,
    DeliveryRow,
    LectureCheckinRow,
    LectureRow,
)
from storage.models_quiz import AttemptRow, CampaignRow, ShortlistEntryRow, ShortlistRow
from storage.publicity import LectureRepository, PublicityRepository, is_publicity


async def run_report_chapter(
    app: BotApp, out_dir: Path, say: Callable[[str], None]
) -> tuple[str, list[str], Statistics, bool]:
    """Write the report files for this year into ``out_dir``; return its first paragraph,
    the paragraphs on offline activities and 法治副校长, its figures, and whether they
    match the database."""
    today = datetime.now(UTC).astimezone(app.settings.zone).date()
    async with app.session_factory() as session:
        root = await resolve_scope(session, "ROOT")

    def progress(label: str, done: int, total: int) -> None:
        say(f"  {label} ({done}/{total})")

    files = await compile_report(
        app.session_factory,
        root,
        Period(today.replace(month=1, day=1), today),
        zone=app.settings.zone,
        locale="zh-CN",
        translator=app.translator,
        progress=progress,
    )
    for path in files.write(out_dir):
        say(f"  wrote {path}")
    async with app.session_factory() as session:
        ok = await check_report(session, files.statistics, app.settings.zone, say)
        matched = "match" if ok else "DIFFER from"
        say(f"  lectures and publicity in the report: {matched} the database")
        ok &= await check_activities(session, files.statistics, say)
        ok &= await check_themes(session, files.statistics, app.settings.zone, say)
    markdown = files.files[REPORT_MD].decode("utf-8")
    return first_paragraph(markdown), activity_paragraphs(markdown), files.statistics, ok


async def check_report(
    session: AsyncSession, stats: Statistics, zone: ZoneInfo, say: Callable[[str], None]
) -> bool:
    """The report's lecture and publicity figures against counts made another way: the
    lecture rows and ``/stats lecture`` (attendance by school), and ``/stats article``
    for the one publicity article the demo sends. Everything in the demo happened this
    year, in a scope (the root) that every audience reaches."""
    begin, end = stats.period.bounds(zone)
    now = datetime.now(UTC)
    held = set(
        await session.scalars(
            select(LectureRow.id).where(
                LectureRow.status != "cancelled",
                LectureRow.starts_at >= begin,
                LectureRow.starts_at <= now,
            )
        )
    )
    ok = {lecture.lecture_id for lecture in stats.lectures} == held
    lectures = LectureRepository(session)
    by_school: Counter[int | None] = Counter()
    for lecture in stats.lectures:
        attendance = await lectures.attendance(lecture.lecture_id)
        ok &= lecture.checkins == sum(row.count for row in attendance)
        for row in attendance:
            by_school[row.school_id] += row.count
    for school in stats.schools:
        ok &= school.lecture_checkins == by_school.get(school.unit_id, 0)
    elsewhere = stats.elsewhere.lecture_checkins if stats.elsewhere else 0
    ok &= elsewhere == by_school.get(None, 0)
    attendees = await session.scalar(
        select(func.count(func.distinct(LectureCheckinRow.participant_id))).where(
            LectureCheckinRow.lecture_id.in_(sorted(held))
        )
    )
    ok &= stats.total.lecture_attendees.total == int(attendees or 0)
    say(
        f"  {stats.lectures_held} lecture(s) held, {stats.total.lecture_checkins} check-ins by "
        f"{stats.total.lecture_attendees.total} people"
    )

    # The demo sends one publicity article, once: its deliveries are the people it
    # reached. The lecture's announcement is an article too, but not a publicity one.
    articles = list(
        await session.scalars(
            select(ArticleRow.id)
            .join(BroadcastRow, BroadcastRow.article_id == ArticleRow.id)
            .join(DeliveryRow, DeliveryRow.broadcast_id == BroadcastRow.id)
            .where(
                ArticleRow.lecture_id.is_(None),
                BroadcastRow.test_send.is_(False),
                DeliveryRow.status == "sent",
                DeliveryRow.sent_at >= begin,
            )
            .distinct()
        )
    )
    if len(articles) == 1:
        figures = await PublicityRepository(session).figures_by_school(articles[0])
        per_school = {row.school_id: row for row in figures}
        total = per_school[None]
        ok &= stats.total.people_reached == stats.total.deliveries == total.delivered
        ok &= stats.total.reads == total.read and stats.total.clicks == total.clicked
        for school in stats.schools:
            found = per_school.get(school.unit_id)
            ok &= school.people_reached == (found.delivered if found else 0)
        say(
            f"  article: {stats.total.deliveries} deliveries to {stats.total.people_reached} "
            f"people, /stats article says {total.delivered}"
        )

    # 入选学生: students on the selections confirmed this year, each once (the demo
    # confirms one list; a view with /top would not count).
    selected = await session.scalar(
        select(func.count(func.distinct(ShortlistEntryRow.participant_id)))
        .join(ShortlistRow, ShortlistRow.id == ShortlistEntryRow.shortlist_id)
        .join(ParticipantRow, ParticipantRow.id == ShortlistEntryRow.participant_id)
        .where(
            ShortlistRow.confirmed_at >= begin,
            ShortlistRow.confirmed_at < end,
            ParticipantRow.role == "student",
        )
    )
    ok &= stats.total.shortlisted == int(selected or 0)
    say(f"  {stats.total.shortlisted} students selected, {int(selected or 0)} in the database")

    # The web side: people without a Telegram id, joined; of them, those with an attempt.
    web = ParticipantRow.telegram_id.is_(None) & ParticipantRow.joined_at.is_not(None)
    on_web = await session.scalar(select(func.count()).select_from(ParticipantRow).where(web))
    took_on_web = await session.scalar(
        select(func.count(func.distinct(AttemptRow.participant_id)))
        .join(ParticipantRow, ParticipantRow.id == AttemptRow.participant_id)
        .where(web, AttemptRow.started_at >= begin, AttemptRow.started_at < end)
    )
    ok &= stats.total.registered_on_web == int(on_web or 0)
    ok &= stats.total.took_part_on_web == int(took_on_web or 0)
    say(
        f"  on the web pages: {stats.total.registered_on_web} registered, "
        f"{stats.total.took_part_on_web} took part; the database has {int(on_web or 0)} "
        f"and {int(took_on_web or 0)}"
    )

    # The per-day chart: each attempt's day in the bureau's zone, counted here in Python.
    started = await session.execute(
        select(AttemptRow.participant_id, AttemptRow.started_at).where(
            AttemptRow.started_at >= begin, AttemptRow.started_at < end
        )
    )
    people: dict[date, set[int]] = {}
    for participant_id, moment in started:
        people.setdefault(moment.astimezone(zone).date(), set()).add(participant_id)
    charted = {day: count for day, count in stats.daily if count}
    ok &= charted == {day: len(ids) for day, ids in people.items()}
    say(f"  took part per day: {len(charted)} day(s) with someone, as the attempts say")
    return ok


async def check_activities(
    session: AsyncSession, stats: Statistics, say: Callable[[str], None]
) -> bool:
    """The offline activities and 法治副校长 in the report against the rows themselves:
    confirmed activities held in the period, their headcounts, per school; the schools
    with a 法治副校长 serving on the period's last day."""
    period = stats.period
    rows = list(
        await session.execute(
            select(
                ActivityRow.unit_id,
                ActivityRow.kind,
                ActivityRow.students,
                ActivityRow.teachers,
                ActivityRow.parents,
            ).where(
                ActivityRow.status == "confirmed",
                ActivityRow.held_on >= period.start,
                ActivityRow.held_on <= period.end,
                ActivityRow.kind != "online_lecture",  # counted as lectures, below
            )
        )
    )
    figures = stats.activities
    people = sum(students + teachers + parents for _u, _k, students, teachers, parents in rows)
    ok = figures.events == len(rows) and figures.headcount.total == people
    lectures = sum(1 for _u, kind, *_ in rows if kind == "vice_principal_lecture")
    ok &= figures.vice_principal_lectures() == lectures
    paths = dict((await session.execute(select(UnitRow.id, UnitRow.path))).all())
    for school in stats.schools:
        path = paths.get(school.unit_id or 0, "")
        mine = [r for r in rows if path and paths[r[0]].startswith(path)]
        ok &= figures.of_school(school.unit_id)[0] == len(mine)
    serving = set(
        await session.scalars(
            select(VicePrincipalRow.school_id).where(
                VicePrincipalRow.appointed_on <= period.end,
                VicePrincipalRow.ended_on.is_(None) | (VicePrincipalRow.ended_on > period.end),
            )
        )
    )
    ok &= set(figures.with_vice_principal) == serving
    # Online lectures as their kind: the lectures held and their check-ins, once each.
    online = [t for t in figures.checked_in if t.kind == "online_lecture"]
    ok &= sum(t.events for t in online) == stats.lectures_held
    ok &= sum(t.headcount.total for t in online) == stats.total.lecture_checkins
    ok &= figures.every_event == len(rows) + stats.lectures_held
    say(
        f"  {figures.events} offline activities ({people} attendances, {lectures} by a "
        f"法治副校长), {len(serving)} school(s) with a 法治副校长: "
        f"{'as' if ok else 'NOT as'} the database has them"
    )
    return ok


async def check_themes(
    session: AsyncSession, stats: Statistics, zone: ZoneInfo, say: Callable[[str], None]
) -> bool:
    """The report's figures per theme against the rows: campaigns someone took part in
    and the people who did, publicity articles published and delivered, and confirmed
    offline activities, each per theme (the whole tree: the demo's scope is its root)."""
    start, end = stats.period.bounds(zone)
    taken = list(
        await session.execute(
            select(CampaignRow.theme, AttemptRow.campaign_id, AttemptRow.participant_id)
            .join(CampaignRow, CampaignRow.id == AttemptRow.campaign_id)
            .where(AttemptRow.started_at >= start, AttemptRow.started_at < end)
        )
    )
    campaigns: dict[str, set[int]] = {}
    people: dict[str, set[int]] = {}
    for theme, campaign_id, participant_id in taken:
        campaigns.setdefault(theme, set()).add(campaign_id)
        people.setdefault(theme, set()).add(participant_id)
    delivered = (
        select(DeliveryRow.id)
        .join(BroadcastRow, BroadcastRow.id == DeliveryRow.broadcast_id)
        .where(
            BroadcastRow.article_id == ArticleRow.id,
            BroadcastRow.test_send.is_(False),
            DeliveryRow.status == "sent",
        )
        .exists()
    )
    articles = Counter(
        await session.scalars(
            select(ArticleRow.theme).where(
                ArticleRow.status == "published",
                ArticleRow.publish_at >= start,
                ArticleRow.publish_at < end,
                is_publicity(),
                delivered,
            )
        )
    )
    offline = Counter(
        await session.scalars(
            select(ActivityRow.theme).where(
                ActivityRow.status == "confirmed",
                ActivityRow.held_on >= stats.period.start,
                ActivityRow.held_on <= stats.period.end,
                ActivityRow.kind != "online_lecture",
            )
        )
    )
    ok = True
    for theme in Theme:
        reach = stats.themes.of(theme)
        ok &= reach.campaigns == len(campaigns.get(theme.value, ()))
        ok &= reach.took_part == len(people.get(theme.value, ()))
        ok &= reach.articles == articles.get(theme.value, 0)
        held = sum(t.events for t in stats.activities.tallies if t.theme is theme)
        ok &= held == offline.get(theme.value, 0)
    shown = [t.theme.value for t in stats.themes.themes]
    say(
        f"  per theme ({', '.join(shown) or 'none'}): campaigns, people who took part, "
        f"articles and offline activities {'as' if ok else 'NOT as'} the database has them"
    )
    return ok


def activity_paragraphs(markdown: str) -> list[str]:
    """The section's parts on offline activities and 法治副校长, headings included."""
    wanted: list[str] = []
    keep = False
    for block in markdown.split("\n\n"):
        text = block.strip()
        if text.startswith("### "):
            keep = "线下" in text or "法治副校长" in text
        elif text.startswith("## "):
            keep = False
        if keep and text:
            wanted.append(text)
    return wanted


def first_paragraph(markdown: str) -> str:
    """The section's first paragraph: the first prose after its first heading below the
    title (the period note above it is not the section's text)."""
    seen_heading = False
    for block in markdown.split("\n\n"):
        text = block.strip()
        if text.startswith("## "):
            seen_heading = True
        elif seen_heading and text and not text.startswith(("#", "|", "!", "<!--", "-")):
            return text
    return ""
