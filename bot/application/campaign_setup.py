"""Setting up a quiz campaign in chat (``/newcampaign``): what the dialogue offers, how
an answer is checked, and creating the campaign once confirmed.

The answers are collected as the very mapping a campaign YAML file holds, and checked by
the spec parser of :mod:`quizzes.campaigns` (the rules of ``pufa campaign create``, one
definition), plus what only the database knows: a name in use, the questions the chosen
banks hold, a time already past. Creating goes through
:func:`storage.campaign_setup.create_campaign`, like the command line, and schedules the
campaign's jobs at once rather than at the next replan.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from bot.application.banks import list_banks
from bot.campaign_jobs import schedule_campaign
from bot.scheduler import Scheduler
from quizzes.bank import Level, StoredBank
from quizzes.campaigns import (
    CampaignSpec,
    SpecError,
    SpecProblem,
    campaign_spec_from_mapping,
    parse_local_time,
)
from quizzes.clock import Clock
from quizzes.engine import eligible
from quizzes.ordering import by_name
from quizzes.permissions import Permissions
from quizzes.themes import Theme
from quizzes.units import Unit
from storage.campaign_setup import CreatedCampaign, create_campaign
from storage.unit_of_work import UnitOfWork

__all__ = [
    "PAST_SLACK",
    "BankChoice",
    "CampaignNotCreated",
    "CreatedCampaign",
    "SetupRefusal",
    "answer_problems",
    "audience_units",
    "banks_on_offer",
    "chosen_banks",
    "create_from_answers",
    "may_set_up_campaigns",
    "spec_problems",
]

# A time typed a moment ago may be a minute behind the clock.
PAST_SLACK = timedelta(minutes=1)


class SetupRefusal(StrEnum):
    NOT_ADMIN = "not_admin"


@dataclass(frozen=True, slots=True)
class BankChoice:
    """The chosen banks that still exist, and how many live questions they hold."""

    banks: list[StoredBank]
    pool: int


@dataclass(frozen=True, slots=True)
class CampaignNotCreated:
    """Everything that stood in the way; nothing was written."""

    problems: list[SpecProblem]


def may_set_up_campaigns(viewer: Permissions) -> bool:
    """Campaigns are the bureau's: admins set them up."""
    return viewer.is_admin


async def banks_on_offer(uow: UnitOfWork) -> list[StoredBank]:
    """The banks a campaign may draw from: every bank."""
    return await list_banks(uow)


async def audience_units(uow: UnitOfWork) -> list[Unit]:
    """The units right below the roots (the regiments): an audience is some of them."""
    units: list[Unit] = []
    for root in by_name(await uow.units.roots()):
        units += by_name(await uow.units.children(root.id))
    return units


async def chosen_banks(
    uow: UnitOfWork, bank_ids: Iterable[int], level: Level | None = None
) -> BankChoice:
    """The banks of ``bank_ids`` that exist (in the order banks are offered) and their
    pool of questions, with a ``level`` only those a campaign for it may draw; none and
    an empty pool when none of the banks exists."""
    wanted = set(bank_ids)
    banks = [bank for bank in await list_banks(uow) if bank.id in wanted]
    if not banks:
        return BankChoice([], 0)
    pool = len(eligible(await uow.attempts.candidates([bank.id for bank in banks]), level))
    return BankChoice(banks, pool)


def spec_problems(raw: Mapping[str, Any], zone: ZoneInfo) -> list[SpecProblem]:
    """The spec parser's verdict on the answers so far (as the YAML file would hold them)."""
    try:
        campaign_spec_from_mapping(dict(raw), zone)
    except SpecError as error:
        return error.problems
    return []


def _problems_for(key: str, raw: Mapping[str, Any], zone: ZoneInfo) -> list[SpecProblem]:
    return [
        problem
        for problem in spec_problems(raw, zone)
        if problem.key == key or problem.key.startswith(f"{key}.")
    ]


async def answer_problems(
    uow: UnitOfWork,
    key: str,
    raw: Mapping[str, Any],
    *,
    pool: int,
    zone: ZoneInfo,
    clock: Clock,
) -> list[SpecProblem]:
    """What is wrong with the answer to ``key`` in ``raw`` (the answers so far): the spec
    parser's rules first, then what it cannot know (the name in use, the pool of the
    chosen banks, a time already past). Empty when the answer stands."""
    problems = _problems_for(key, raw, zone)
    if problems:
        return problems
    if key == "name":
        name = str(raw["name"]).strip()
        if await uow.campaigns.by_name(name) is not None:
            return [SpecProblem("name", "taken", {"name": name})]
    if key == "questions":
        asked = raw["questions"]
        if isinstance(asked, int) and asked > pool:
            return [SpecProblem("questions", "pool_too_small", {"pool": pool, "asked": asked})]
    if key in ("opens", "closes"):
        moment = parse_local_time(raw[key], zone)
        if moment is not None and moment < clock() - PAST_SLACK:
            return [SpecProblem(key, "past_time")]
    return []


async def create_from_answers(
    uow: UnitOfWork,
    raw: Mapping[str, Any],
    *,
    viewer: Permissions,
    created_by: int,
    zone: ZoneInfo,
    clock: Clock,
    scheduler: Scheduler | None,
    theme: Theme | None = None,
) -> CreatedCampaign | CampaignNotCreated | SetupRefusal:
    """Create the campaign the confirmed answers describe, commit, and schedule its jobs;
    or say everything that stands in the way (the answers are checked again: time has
    passed, and someone may have taken the name meanwhile). ``theme``: what it is about;
    without one, its banks' theme when they agree, else 其他
    (:func:`quizzes.bank_themes.campaign_theme`)."""
    if not may_set_up_campaigns(viewer):
        return SetupRefusal.NOT_ADMIN
    problems: list[SpecProblem] = []
    spec: CampaignSpec | None = None
    try:
        spec = campaign_spec_from_mapping(dict(raw), zone)
    except SpecError as error:
        problems = error.problems
    if spec is not None and spec.closes_at <= clock():
        problems.append(SpecProblem("closes", "past_time"))
    if spec is None or problems:
        return CampaignNotCreated(problems)
    try:
        created = await create_campaign(uow.session, spec, created_by=created_by, theme=theme)
    except SpecError as error:
        return CampaignNotCreated(error.problems)
    await uow.commit()
    if scheduler is not None:
        schedule_campaign(scheduler, created.campaign, clock())
    return created
