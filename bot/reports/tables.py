"""``participation.xlsx`` (one sheet per breakdown) and ``participation.csv`` (per school)."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.reports.format import display_width
from quizzes.spreadsheet_safety import SafeCsvWriter, workbook_bytes
from quizzes.statistics import (
    Section,
    Statistics,
    UnitFigures,
    rounded_percent,
    stored_percent,
)

Text = Callable[[str], str]


@dataclass(frozen=True)
class Column:
    key: str  # report.column.<key>
    value: Callable[[UnitFigures], Any]
    kind: str = "int"  # int, rate, text
    section: Section | None = None


SCHOOL_COLUMNS: tuple[Column, ...] = (
    Column("school", lambda f: f.name, "text"),
    Column("students_enrolled", lambda f: f.students_enrolled),
    Column("teachers_enrolled", lambda f: f.teachers_enrolled),
    Column("registered_student", lambda f: f.registered.student, section=Section.REGISTRATION),
    Column("registered_teacher", lambda f: f.registered.teacher, section=Section.REGISTRATION),
    Column("registered_parent", lambda f: f.registered.parent, section=Section.REGISTRATION),
    Column("took_part", lambda f: f.took_part.total, section=Section.QUIZ),
    Column("took_part_student", lambda f: f.took_part.student, section=Section.QUIZ),
    Column("took_part_teacher", lambda f: f.took_part.teacher, section=Section.QUIZ),
    Column("participation_rate", lambda f: f.participation_rate, "rate", Section.QUIZ),
    Column("completed", lambda f: f.completed, section=Section.QUIZ),
    Column("passed", lambda f: f.passed, section=Section.QUIZ),
    Column("pass_rate", lambda f: f.pass_rate, "rate", Section.QUIZ),
    Column("articles_published", lambda f: f.articles_published, section=Section.PUBLICITY),
    Column("deliveries", lambda f: f.deliveries, section=Section.PUBLICITY),
    Column("people_reached", lambda f: f.people_reached, section=Section.PUBLICITY),
    Column("reads", lambda f: f.reads, section=Section.PUBLICITY),
    Column("clicks", lambda f: f.clicks, section=Section.PUBLICITY),
    Column("shortlisted", lambda f: f.shortlisted, section=Section.SHORTLIST),
    Column("lecture_checkins", lambda f: f.lecture_checkins, section=Section.LECTURES),
    Column("lecture_attendees", lambda f: f.lecture_attendees.total, section=Section.LECTURES),
    # Last, so the columns people know keep their places.
    Column("registered_on_web", lambda f: f.registered_on_web, section=Section.REGISTRATION),
    Column("took_part_on_web", lambda f: f.took_part_on_web, section=Section.QUIZ),
)

DEFINED = (
    "enrolled",
    "registered",
    "took_part",
    "completed",
    "passed",
    "participation_rate",
    "pass_rate",
    "articles_published",
    "deliveries",
    "people_reached",
    "reads",
    "clicks",
    "shortlisted",
    "lectures_held",
    "lecture_checkins",
    "lecture_attendees",
    "activities_held",
    "activity_headcount",
    "with_vice_principal",
    "vice_principal_lectures",
    "online_lecture_kind",
    "registered_on_web",
    "took_part_on_web",
)


def columns_for(stats: Statistics) -> list[Column]:
    return [c for c in SCHOOL_COLUMNS if c.section is None or c.section in stats.sections]


def school_rows(stats: Statistics, _: Text) -> list[UnitFigures]:
    """Schools, then the people in no school (when any), then the total."""
    rows = list(stats.schools)
    if stats.elsewhere is not None:
        rows.append(_named(stats.elsewhere, _("report.column.elsewhere")))
    rows.append(_named(stats.total, _("report.column.total")))
    return rows


def _named(figures: UnitFigures, name: str) -> UnitFigures:
    from dataclasses import replace

    return replace(figures, name=name)


# -- CSV ----------------------------------------------------------------------------------


def participation_csv(stats: Statistics, _: Text) -> bytes:
    """Per-school figures, UTF-8 with a BOM so that Excel reads the Chinese correctly.

    Rates are percentages (0-100, one decimal) under a header that says so.
    """
    columns = columns_for(stats)
    out = io.StringIO()
    writer = SafeCsvWriter(out, lineterminator="\r\n")
    writer.writerow(
        [_(f"report.column.{c.key}") + (" (%)" if c.kind == "rate" else "") for c in columns]
    )
    for figures in school_rows(stats, _):
        writer.writerow([_csv_value(c, figures) for c in columns])
    return out.getvalue().encode("utf-8-sig")


def _csv_value(column: Column, figures: UnitFigures) -> object:
    value = column.value(figures)
    if column.kind == "rate":
        return "" if value is None else rounded_percent(value)
    return value


# -- XLSX ---------------------------------------------------------------------------------


def _cell_value(column: Column, figures: UnitFigures) -> Any:
    """A rate is stored already rounded (0.813), so that Excel's "0.0%" shows the digits
    the report and the CSV show (81.3%) instead of rounding the float again."""
    value = column.value(figures)
    return stored_percent(value) if column.kind == "rate" else value


def participation_xlsx(
    stats: Statistics, _: Text, *, zone: ZoneInfo, compiled_at: datetime, period_text: str
) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    bold = Font(bold=True)

    def sheet(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Any:
        ws = book.create_sheet(title[:31])
        ws.append(list(header))
        for cell in ws[1]:
            cell.font = bold
            cell.alignment = Alignment(vertical="center", wrap_text=False)
        for row in rows:
            ws.append(list(row))
        ws.freeze_panes = "A2"
        return ws

    def finish(ws: Any, kinds: Sequence[str], wrap: int | None = None) -> None:
        from openpyxl.utils import get_column_letter

        for index, kind in enumerate(kinds, start=1):
            letter = get_column_letter(index)
            widest = 0
            for (cell,) in ws.iter_rows(min_col=index, max_col=index):
                if kind == "rate" and isinstance(cell.value, float):
                    cell.number_format = "0.0%"
                elif kind == "int" and isinstance(cell.value, int):
                    cell.number_format = "#,##0"
                elif kind == "datetime" and isinstance(cell.value, datetime):
                    cell.number_format = "yyyy-mm-dd hh:mm"
                shown = cell.value
                if kind == "datetime" and isinstance(shown, datetime):
                    shown = "0000-00-00 00:00"
                elif kind == "rate" and isinstance(shown, float):
                    shown = "100.0%"
                widest = max(widest, display_width(str(shown if shown is not None else "")))
            ws.column_dimensions[letter].width = min(max(widest + 2, 8), wrap or 60)
            if wrap and index == len(kinds):
                for (cell,) in ws.iter_rows(min_row=2, min_col=index, max_col=index):
                    cell.alignment = Alignment(wrap_text=True, vertical="top")

    book.remove(book.active)

    summary_rows: list[tuple[str, object]] = [
        (_("report.summary.scope"), stats.scope_name),
        (_("report.summary.period"), period_text),
        (_("report.summary.compiled_at"), compiled_at.astimezone(zone).replace(tzinfo=None)),
        (_("report.summary.schools"), len(stats.schools)),
        (_("report.summary.schools_covered"), stats.schools_covered),
        (_("report.summary.campaigns"), len(stats.campaigns)),
    ]
    if Section.LECTURES in stats.sections:
        summary_rows.append((_("report.column.lectures_held"), stats.lectures_held))
    for column in columns_for(stats)[1:]:
        summary_rows.append((_(f"report.column.{column.key}"), _cell_value(column, stats.total)))
    ws = sheet(
        _("report.sheet.summary"),
        [_("report.column.figure"), _("report.column.value")],
        summary_rows,
    )
    for (cell,) in ws.iter_rows(min_row=2, min_col=2, max_col=2):
        if isinstance(cell.value, float):
            cell.number_format = "0.0%"
        elif isinstance(cell.value, datetime):
            cell.number_format = "yyyy-mm-dd hh:mm"
        elif isinstance(cell.value, int):
            cell.number_format = "#,##0"
    finish(ws, ["text", "text"])
    ws.column_dimensions["B"].width = max(ws.column_dimensions["B"].width, 20)

    columns = columns_for(stats)
    ws = sheet(
        _("report.sheet.schools"),
        [_(f"report.column.{c.key}") for c in columns],
        [[_cell_value(c, f) for c in columns] for f in school_rows(stats, _)],
    )
    for cell in ws[ws.max_row]:
        cell.font = bold
    finish(ws, [c.kind for c in columns])

    roles = ("student", "teacher", "parent")
    role_rows = []
    for figures in school_rows(stats, _):
        for role in roles:
            role_rows.append(
                [
                    figures.name,
                    _(f"role.{role}"),
                    getattr(figures.registered, role),
                    getattr(figures.took_part, role),
                    getattr(figures.lecture_attendees, role),
                ]
            )
    ws = sheet(
        _("report.sheet.roles"),
        [
            _("report.column.school"),
            _("report.column.role"),
            _("report.column.registered"),
            _("report.column.took_part"),
            _("report.column.lecture_attendees"),
        ],
        role_rows,
    )
    finish(ws, ["text", "text", "int", "int", "int"])

    if Section.QUIZ in stats.sections:
        ws = sheet(
            _("report.sheet.campaigns"),
            [
                _("report.column.campaign"),
                _("report.column.opens_at"),
                _("report.column.closes_at"),
                _("report.column.took_part"),
                _("report.column.completed"),
                _("report.column.passed"),
                _("report.column.participation_rate"),
            ],
            [
                [
                    c.name,
                    c.opens_at.astimezone(zone).replace(tzinfo=None),
                    c.closes_at.astimezone(zone).replace(tzinfo=None),
                    c.took_part.total,
                    c.completed,
                    c.passed,
                    stored_percent(c.participation_rate),
                ]
                for c in stats.campaigns
            ],
        )
        finish(ws, ["text", "datetime", "datetime", "int", "int", "int", "rate"])

    if Section.LECTURES in stats.sections:
        ws = sheet(
            _("report.sheet.lectures"),
            [
                _("report.column.lecture"),
                _("report.column.speaker"),
                _("report.column.starts_at"),
                _("report.column.lecture_checkins"),
            ],
            [
                [
                    lecture.title,
                    lecture.speaker,
                    lecture.starts_at.astimezone(zone).replace(tzinfo=None),
                    lecture.checkins,
                ]
                for lecture in stats.lectures
            ],
        )
        finish(ws, ["text", "text", "datetime", "int"])

    if stats.activities.recorded:
        _activity_sheets(stats, _, sheet, finish)

    ws = sheet(
        _("report.sheet.definitions"),
        [_("report.column.figure"), _("report.column.definition")],
        [[_(f"report.column.{key}"), _(f"report.definition.{key}")] for key in DEFINED],
    )
    finish(ws, ["text", "text"], wrap=90)

    return workbook_bytes(book)


def _activity_sheets(stats: Statistics, _: Text, sheet: Any, finish: Any) -> None:
    """Offline activities per school, then activities per kind (online lectures among
    them, by their check-ins) with the total of every kind: every figure from the
    tallies."""
    figures = stats.activities
    headcount = [
        _("report.column.activity_headcount"),
        _("report.column.took_part_student"),
        _("report.column.took_part_teacher"),
        _("report.column.took_part_parent"),
    ]
    rows: list[list[Any]] = []
    for school in stats.schools:
        events, people = figures.of_school(school.unit_id)
        rows.append(
            [
                school.name,
                events,
                people.total,
                people.students,
                people.teachers,
                people.parents,
                _("report.value.yes") if school.unit_id in figures.with_vice_principal else "",
                figures.vice_principal_lectures(school.unit_id),
            ]
        )
    total = figures.headcount
    rows.append(
        [
            _("report.column.total"),
            figures.events,
            total.total,
            total.students,
            total.teachers,
            total.parents,
            len(figures.with_vice_principal),
            figures.vice_principal_lectures(),
        ]
    )
    ws = sheet(
        _("report.sheet.activities"),
        [
            _("report.column.school"),
            _("report.column.activities_held"),
            *headcount,
            _("report.column.with_vice_principal"),
            _("report.column.vice_principal_lectures"),
        ],
        rows,
    )
    finish(ws, ["text", "int", "int", "int", "int", "int", "text", "int"])
    every = figures.every_attendance
    ws = sheet(
        _("report.sheet.activity_kinds"),
        [
            _("report.column.activity_kind"),
            _("report.column.events"),
            _("report.column.attendances"),
            *headcount[1:],
        ],
        [
            *(
                [
                    _(f"activity.kind.{kind.kind.code}"),
                    kind.events,
                    kind.headcount.total,
                    kind.headcount.students,
                    kind.headcount.teachers,
                    kind.headcount.parents,
                ]
                for kind in figures.by_kind()
            ),
            [
                _("report.column.total"),
                figures.every_event,
                every.total,
                every.students,
                every.teachers,
                every.parents,
            ],
        ],
    )
    finish(ws, ["text", "int", "int", "int", "int", "int"])
