"""Certificates through the application layer, on both databases: who may have one, the
name on it and the guardian's consent under 14, issuing it once, verifying it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.application.certificates import (
    Consent,
    ConsentRefusal,
    ConsentRefused,
    Next,
    confirm_guardian_consent,
    declare_age,
    display_name_certificate,
    forget_real_name,
    issue_certificate,
    passed_attempts,
    request_certificate,
    save_real_name,
    verify_certificate,
)
from quizzes.campaigns import Campaign
from quizzes.participants import INVITE_CODE_ALPHABET, Participant, Role
from quizzes.permissions import Permissions
from storage.unit_of_work import UnitOfWork
from tests.factories import World, build_world
from tests.quiz_world import open_campaign, registered
from tests.test_app_quiz import answer_rightly, begin

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOBODY = Permissions()
ADMIN = Permissions(is_admin=True)


@pytest.fixture
async def world(session_factory: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(session_factory)


@pytest.fixture
async def uow(session_factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[UnitOfWork]:
    async with session_factory() as session:
        unit_of_work = UnitOfWork.over(session)
        assert isinstance(unit_of_work, UnitOfWork)
        yield unit_of_work


@pytest.fixture
async def campaign(session_factory: async_sessionmaker[AsyncSession]) -> Campaign:
    return await open_campaign(session_factory, questions=3)


async def passed_by(
    uow: UnitOfWork,
    session_factory: async_sessionmaker[AsyncSession],
    campaign: Campaign,
    telegram_id: int,
    unit_id: int,
    role: Role = Role.STUDENT,
) -> tuple[Participant, int]:
    someone = await registered(session_factory, telegram_id, unit_id, role=role, name="小华")
    attempt = await answer_rightly(
        uow, session_factory, someone, await begin(uow, campaign, someone)
    )
    assert attempt.passed
    return someone, attempt.id


async def test_only_ones_own_passed_attempt_leads_to_a_certificate(
    uow: UnitOfWork,
    session_factory: async_sessionmaker[AsyncSession],
    world: World,
    campaign: Campaign,
) -> None:
    seventh = world.classes["七年级1班"].id
    student, attempt_id = await passed_by(uow, session_factory, campaign, 701, seventh)
    other = await registered(session_factory, 702, seventh, name="小刚")

    assert [a.id for a, _c in await passed_attempts(uow, student)] == [attempt_id]
    assert await passed_attempts(uow, other) == []
    assert (await request_certificate(uow, other, attempt_id)).next is Next.STALE
    assert (await request_certificate(uow, student, attempt_id + 1)).next is Next.STALE
    assert (await request_certificate(uow, student, attempt_id)).next is Next.ASK_AGE
    assert await display_name_certificate(uow, other, attempt_id) is None
    assert await display_name_certificate(uow, student, attempt_id) == "小华"


async def test_an_adult_is_asked_for_their_name_and_a_kept_name_is_used(
    uow: UnitOfWork,
    session_factory: async_sessionmaker[AsyncSession],
    world: World,
    campaign: Campaign,
) -> None:
    school = world.schools["胡杨河市第一中学"].id
    teacher, attempt_id = await passed_by(
        uow, session_factory, campaign, 703, school, role=Role.TEACHER
    )
    assert (await request_certificate(uow, teacher, attempt_id)).next is Next.ASK_NAME

    assert await save_real_name(uow, teacher, "  ", now=datetime.now(UTC)) is None
    assert (await request_certificate(uow, teacher, attempt_id)).next is Next.ASK_NAME
    assert await save_real_name(uow, teacher, "王 老师", now=datetime.now(UTC)) == "王 老师"
    step = await request_certificate(uow, teacher, attempt_id)
    assert (step.next, step.real_name) == (Next.ISSUE, "王 老师")

    assert await forget_real_name(uow, teacher) is True
    assert await forget_real_name(uow, teacher) is False
    assert (await request_certificate(uow, teacher, attempt_id)).next is Next.ASK_NAME


async def test_under_14_a_teacher_of_the_class_confirms_the_name_once(
    uow: UnitOfWork,
    session_factory: async_sessionmaker[AsyncSession],
    world: World,
    campaign: Campaign,
) -> None:
    seventh, other_class = world.classes["七年级1班"].id, world.classes["七年级2班"].id
    student, attempt_id = await passed_by(uow, session_factory, campaign, 704, seventh)
    own_teacher = await registered(session_factory, 705, seventh, role=Role.TEACHER)
    other_teacher = await registered(session_factory, 706, other_class, role=Role.TEACHER)
    now = datetime.now(UTC)

    older = await declare_age(uow, student, attempt_id, under_14=False, now=now)
    assert older.next is Next.ASK_NAME and older.consent_code is None
    assert (await declare_age(uow, own_teacher, attempt_id, under_14=True, now=now)).next is (
        Next.STALE
    )
    younger = await declare_age(uow, student, attempt_id, under_14=True, now=now)
    assert younger.next is Next.GUARDIAN and younger.consent_code is not None
    code = younger.consent_code

    async def confirm(
        confirmer: Participant, text: str, name: str = "", viewer: Permissions = NOBODY
    ) -> Consent | ConsentRefused:
        return await confirm_guardian_consent(uow, confirmer, viewer, text, name, now=now)

    assert await confirm(own_teacher, "?") == ConsentRefused(ConsentRefusal.MALFORMED)
    assert await confirm(own_teacher, "ABCDEF") == ConsentRefused(ConsentRefusal.UNKNOWN, "ABCDEF")
    assert await confirm(other_teacher, code.lower()) == ConsentRefused(
        ConsentRefusal.NOT_YOURS, code
    )
    whose = await confirm(own_teacher, code)
    assert isinstance(whose, Consent) and whose.name is None
    assert whose.student.id == student.id and "七年级1班" in whose.where
    assert await confirm(own_teacher, code, "=SUM(A1)") == ConsentRefused(
        ConsentRefusal.BAD_NAME, code
    )
    assert (await request_certificate(uow, student, attempt_id)).next is Next.ASK_AGE

    done = await confirm(own_teacher, code, "李小华")
    assert isinstance(done, Consent)
    assert (done.name, done.attempt_id) == ("李小华", attempt_id)
    step = await request_certificate(uow, student, attempt_id)
    assert (step.next, step.real_name) == (Next.ISSUE, "李小华")
    # The code is used up; staff of any school may confirm a live one.
    assert await confirm(own_teacher, code, "李小华") == ConsentRefused(
        ConsentRefusal.UNKNOWN, code
    )
    again = await declare_age(uow, student, attempt_id, under_14=True, now=now)
    assert again.consent_code is not None
    by_admin = await confirm(other_teacher, again.consent_code, "李华", viewer=ADMIN)
    assert isinstance(by_admin, Consent) and by_admin.name == "李华"


async def test_a_certificate_is_issued_once_and_verified_with_the_name_for_staff_only(
    uow: UnitOfWork,
    session_factory: async_sessionmaker[AsyncSession],
    world: World,
    campaign: Campaign,
) -> None:
    seventh = world.classes["七年级1班"].id
    student, attempt_id = await passed_by(uow, session_factory, campaign, 707, seventh)
    await save_real_name(uow, student, "赵小华", now=datetime.now(UTC))
    now = datetime.now(UTC)

    first = await issue_certificate(uow, attempt_id, now=now, zone=SHANGHAI, issuer=None)
    again = await issue_certificate(uow, attempt_id, now=now, zone=SHANGHAI, issuer=" 教育局 ")
    assert first.issued == again.issued and first.for_student and first.percent == 100
    assert (first.issuer, again.issuer) == ("第七师", "教育局")
    assert first.campaign.id == campaign.id

    assert await verify_certificate(uow, "not a code", viewer=ADMIN) is None
    code = first.issued.code
    other = "".join(sorted(INVITE_CODE_ALPHABET))[: len(code)]
    unknown = await verify_certificate(uow, other, viewer=ADMIN)
    assert unknown is not None and unknown.code == other and unknown.found is None
    public = await verify_certificate(uow, code.lower(), viewer=NOBODY)
    assert public is not None and public.found is not None and not public.shows_real_name
    staff = await verify_certificate(uow, code, viewer=ADMIN)
    assert staff is not None and staff.found is not None and staff.shows_real_name
    assert staff.found.real_name == "赵小华"
