"""Use cases of offline activities: recording them (one at a time or from a school's
spreadsheet), the bureau's review, and the 法治副校长 register.

The rule of the report (:func:`quizzes.activities.counts_in_report`): what the bureau
records is confirmed at once; what a school records waits for the bureau, which
confirms or rejects it; the report counts confirmed activities only, and says how many
are still waiting. Online lectures are activities too (kind ``online_lecture``), made
when one is scheduled (:mod:`bot.application.lectures`), confirmed at once and never
reviewed; the lists here show them with their check-ins as their headcount.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from quizzes.activities import (
    MAX_PHOTOS,
    Activity,
    ActivityDraft,
    ActivityStatus,
    Source,
    may_record,
    problems_of,
    status_on_recording,
)
from quizzes.activity_import import (
    ActivityImportError,
    ActivityProblem,
    ActivityRow,
    parse_activities,
)
from quizzes.participants import Participant, Role
from quizzes.permissions import Permissions
from quizzes.units import Unit, UnitKind
from quizzes.vice_principals import VicePrincipal, organisation_kind_of
from storage.unit_of_work import UnitOfWork


def local_day(now: datetime, zone: ZoneInfo) -> date:
    """The day it is in the bureau's time zone (``PUFA_TIMEZONE``, Asia/Shanghai), which
    is what "today" means to a school recording an event."""
    return now.astimezone(zone).date()


def _key(text: str) -> str:
    return unicodedata.normalize("NFKC", text).replace(" ", "").casefold()


class _Units:
    """Schools by (团场, 学校) and classes by (school, 班级), as a spreadsheet names them."""

    def __init__(self, regiments: list[Unit], schools: list[Unit], classes: list[Unit]) -> None:
        regiment_names = {unit.id: _key(unit.name) for unit in regiments}
        self.schools = {
            (regiment_names.get(unit.parent_id or 0, ""), _key(unit.name)): unit
            for unit in schools
        }
        self.classes = {(unit.parent_id, _key(unit.name)): unit for unit in classes}

    @classmethod
    async def load(cls, uow: UnitOfWork) -> _Units:
        return cls(
            await uow.units.of_kind(UnitKind.REGIMENT),
            await uow.units.of_kind(UnitKind.SCHOOL),
            await uow.units.of_kind(UnitKind.CLASS),
        )

    def find(self, row: ActivityRow) -> Unit | ActivityProblem:
        school = self.schools.get((_key(row.regiment), _key(row.school)))
        if school is None:
            return ActivityProblem(
                "unknown_school",
                row.line,
                "学校",
                {"regiment": row.regiment, "school": row.school},
            )
        if not row.class_name:
            return school
        found = self.classes.get((school.id, _key(row.class_name)))
        if found is None:
            return ActivityProblem(
                "unknown_class", row.line, "班级", {"school": row.school, "name": row.class_name}
            )
        return found


@dataclass(frozen=True, slots=True)
class ImportResult:
    recorded: int
    already: int  # the same event was recorded before (the file was imported twice)
    status: ActivityStatus


async def import_activities(
    uow: UnitOfWork,
    content: bytes,
    filename: str,
    *,
    by: int | None,
    permissions: Permissions,
    now: datetime,
    zone: ZoneInfo,
) -> ImportResult:
    """Record every row of the file or none; :class:`ActivityImportError` lists why not.

    ``by`` is the participant importing (``None`` from the command line, which is the
    bureau's). A coordinator may import only their own schools' activities.
    """
    rows = parse_activities(content, filename, today=local_day(now, zone))
    units = await _Units.load(uow)
    problems: list[ActivityProblem] = []
    drafts: list[ActivityDraft] = []
    for row in rows:
        unit = units.find(row)
        if isinstance(unit, ActivityProblem):
            problems.append(unit)
            continue
        if not permissions.may_manage(unit):
            problems.append(
                ActivityProblem("not_your_school", row.line, "学校", {"school": row.school})
            )
            continue
        drafts.append(
            ActivityDraft(
                row.kind,
                row.theme,
                row.held_on,
                row.title,
                unit.id,
                row.headcount,
                row.speaker,
                row.speaker_organisation,
            )
        )
    if problems:
        raise ActivityImportError(problems)
    status = status_on_recording(recorded_by_bureau=permissions.is_admin)
    ids = await uow.activities.record(
        drafts, status=status, source=Source.IMPORT, recorded_by=by, now=now
    )
    await uow.commit()
    recorded = sum(1 for new in ids if new is not None)
    return ImportResult(recorded, len(ids) - recorded, status)


@dataclass(frozen=True, slots=True)
class Recorded:
    activity: Activity | None  # None: the same event was already recorded
    problems: tuple[tuple[str, dict[str, str | int]], ...] = ()


async def record_activity(
    uow: UnitOfWork,
    draft: ActivityDraft,
    *,
    recorder: Participant | None,
    permissions: Permissions,
    now: datetime,
    zone: ZoneInfo,
    photos: Sequence[tuple[str | None, bytes | None]] = (),
) -> Recorded:
    """Record one event a coordinator, teacher or the bureau describes in chat, with its
    photos (Telegram file id, bytes). ``recorder`` is ``None`` for the command line."""
    unit = await uow.units.get(draft.unit_id)
    problems = problems_of(draft, today=local_day(now, zone))
    allowed = unit is not None and may_record(
        unit,
        permissions=permissions,
        role=recorder.role if recorder else None,
        own_unit_id=recorder.unit_id if recorder else None,
    )
    if not allowed:
        problems.append(("not_your_school", {}))
    if len(photos) > MAX_PHOTOS:
        problems.append(("too_many_photos", {"max": MAX_PHOTOS}))
    if problems:
        return Recorded(None, tuple(problems))
    status = status_on_recording(recorded_by_bureau=permissions.is_admin)
    [new_id] = await uow.activities.record(
        [draft],
        status=status,
        source=Source.CHAT,
        recorded_by=recorder.id if recorder else None,
        now=now,
    )
    if new_id is None:
        await uow.rollback()
        return Recorded(None, (("already_recorded", {}),))
    for file_id, content in photos:
        await uow.activities.add_photo(new_id, telegram_file_id=file_id, content=content)
    activity = await uow.activities.get(new_id)
    await uow.commit()
    return Recorded(activity)


@dataclass(frozen=True, slots=True)
class RecordingChoices:
    """Where someone may record an event: units to offer as buttons, and whether they may
    name any school (the bureau)."""

    units: tuple[tuple[int, str], ...]
    any_school: bool

    @property
    def allowed(self) -> bool:
        return bool(self.units) or self.any_school


async def recording_choices(
    uow: UnitOfWork, recorder: Participant, permissions: Permissions
) -> RecordingChoices:
    """A teacher's own class, a coordinator's schools; the bureau names a school."""
    units: list[Unit] = []
    if recorder.role is Role.TEACHER and recorder.unit_id is not None:
        own = await uow.units.get(recorder.unit_id)
        units += [own] if own is not None and not own.retired else []
    found = await uow.units.by_ids(permissions.coordinator_of)
    units += [u for u in found.values() if not u.retired and u not in units]
    labels = await uow.units.display_labels(units)
    return RecordingChoices(tuple((u.id, labels[u.id]) for u in units), permissions.is_admin)


async def recordable_unit(
    uow: UnitOfWork, unit_id: int, recorder: Participant, permissions: Permissions
) -> str | None:
    """The unit's label when ``recorder`` may record its events (a button pressed or a
    school typed); ``None`` for a unit they may not (a forged or stale button)."""
    unit = await uow.units.get(unit_id)
    if unit is None or unit.retired:
        return None
    if not may_record(
        unit, permissions=permissions, role=recorder.role, own_unit_id=recorder.unit_id
    ):
        return None
    return await uow.units.display_label(unit)


async def activities_for(
    uow: UnitOfWork, viewer: Participant, permissions: Permissions, *, limit: int = 10
) -> list[Listed]:
    """What /activities lists: for the bureau, what waits for its review; for a
    coordinator, their schools' latest entries; for a teacher, their own unit's."""
    if permissions.is_admin:
        return await recent_activities(uow, pending_only=True, limit=limit)
    scopes = list((await uow.units.by_ids(permissions.coordinator_of)).values())
    if not scopes and viewer.role is Role.TEACHER and viewer.unit_id is not None:
        own = await uow.units.get(viewer.unit_id)
        scopes = [own] if own is not None else []
    found: list[Activity] = []
    for scope in scopes:
        found += await uow.activities.within(scope, limit=limit)
    found.sort(key=lambda a: (a.held_on, a.id), reverse=True)
    return await _listed(uow, found[:limit])


async def school_named(uow: UnitOfWork, name: str) -> tuple[tuple[int, str], ...]:
    """The schools a typed name may mean (none, one, or several of one name)."""
    schools = await uow.units.find_school(name.strip())
    labels = await uow.units.display_labels(schools)
    return tuple((s.id, labels[s.id]) for s in schools)


async def add_photo(
    uow: UnitOfWork, activity_id: int, *, telegram_file_id: str | None, content: bytes | None
) -> int:
    position = await uow.activities.add_photo(
        activity_id, telegram_file_id=telegram_file_id, content=content
    )
    await uow.commit()
    return position


class ReviewOutcome(StrEnum):
    DONE = "done"
    NOT_FOUND = "not_found"
    NOT_ALLOWED = "not_allowed"


async def review_activity(
    uow: UnitOfWork,
    activity_id: int,
    *,
    confirm: bool,
    by: int | None,
    permissions: Permissions,
    note: str = "",
    now: datetime,
) -> tuple[ReviewOutcome, Activity | None]:
    """The bureau confirms or rejects a school's entry (again, if it changes its mind).
    An online lecture's activity is nobody's to review: it is confirmed when scheduled
    and cancelled with the lecture."""
    if not permissions.is_admin:
        return ReviewOutcome.NOT_ALLOWED, None
    found = await uow.activities.get(activity_id)
    if found is not None and found.activity_kind.checked_in:
        return ReviewOutcome.NOT_ALLOWED, None
    status = ActivityStatus.CONFIRMED if confirm else ActivityStatus.REJECTED
    activity = await uow.activities.review(activity_id, status, by=by, note=note, now=now)
    if activity is None:
        return ReviewOutcome.NOT_FOUND, None
    await uow.commit()
    return ReviewOutcome.DONE, activity


async def waiting_for_review(uow: UnitOfWork, scope: Unit) -> list[Activity]:
    return await uow.activities.within(scope, status=ActivityStatus.PENDING)


@dataclass(frozen=True, slots=True)
class Listed:
    activity: Activity
    unit_label: str  # 129团 · 胡杨河市第一中学 · 七年级1班


async def _listed(uow: UnitOfWork, activities: list[Activity]) -> list[Listed]:
    """Each activity with the label of the unit that organised it."""
    units = await uow.units.by_ids({item.unit_id for item in activities})
    labels = await uow.units.display_labels(units.values())
    return [Listed(item, labels.get(item.unit_id, "")) for item in activities]


async def recent_activities(
    uow: UnitOfWork, *, pending_only: bool = False, limit: int = 200
) -> list[Listed]:
    """The latest activities of the whole tree (the bureau's view), newest first."""
    status = ActivityStatus.PENDING if pending_only else None
    found: list[Activity] = []
    for root in await uow.units.roots():
        found += await uow.activities.within(root, status=status, limit=limit)
    return await _listed(uow, found[:limit])


@dataclass(frozen=True, slots=True)
class Appointment:
    """What became of an appointment: recorded, recorded before, or which schools the
    name could mean (none, or several)."""

    added: bool
    school_label: str = ""
    candidates: tuple[str, ...] = ()


async def appoint_vice_principal(
    uow: UnitOfWork, school_name: str, name: str, organisation: str, appointed_on: date
) -> Appointment:
    """Record a school's 法治副校长 (again with a later date when replaced)."""
    schools = await uow.units.find_school(school_name)
    if len(schools) != 1:
        labels = await uow.units.display_labels(schools)
        return Appointment(False, candidates=tuple(labels[s.id] for s in schools))
    [school] = schools
    appointment = VicePrincipal(
        school.id,
        name.strip(),
        organisation_kind_of(organisation),
        organisation.strip(),
        appointed_on,
    )
    added = await uow.vice_principals.appoint(appointment)
    label = await uow.units.display_label(school)
    await uow.commit()
    return Appointment(added, label)
