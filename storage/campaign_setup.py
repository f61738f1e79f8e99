"""Turning a campaign spec (names, local times) into a campaign (ids), or saying why not."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from quizzes.bank_themes import bank_theme, campaign_theme
from quizzes.campaigns import Audience, Campaign, CampaignSpec, SpecError, SpecProblem
from quizzes.engine import eligible
from quizzes.themes import Theme
from storage.models import UnitRow
from storage.models_quiz_bank import QuestionBankRow
from storage.quiz import AttemptRepository, CampaignRepository


@dataclass(frozen=True, slots=True)
class CreatedCampaign:
    campaign: Campaign
    question_pool: int


async def create_campaign(
    session: AsyncSession,
    spec: CampaignSpec,
    created_by: int | None,
    *,
    theme: Theme | None = None,
) -> CreatedCampaign:
    """Resolve bank and unit names, check the pool is big enough, create; the caller commits.

    The pool is what the campaign may draw: with a level, only the questions suiting it.
    Without a ``theme`` the campaign takes its banks'
    (:func:`quizzes.bank_themes.campaign_theme`)."""
    problems: list[SpecProblem] = []
    bank_ids: list[int] = []
    bank_themes: list[Theme | None] = []
    for name in spec.bank_names:
        bank = (
            await session.execute(
                select(QuestionBankRow.id, QuestionBankRow.source_filename).where(
                    QuestionBankRow.name == name
                )
            )
        ).first()
        if bank is None:
            problems.append(SpecProblem("banks", "unknown_bank", {"name": name}))
        else:
            bank_ids.append(bank.id)
            bank_themes.append(bank_theme(name, bank.source_filename))
    unit_ids: list[int] = []
    for name in spec.unit_names:
        found = list(await session.scalars(select(UnitRow.id).where(UnitRow.name == name)))
        if len(found) != 1:
            code = "unknown_unit" if not found else "ambiguous_unit"
            problems.append(SpecProblem("audience.units", code, {"name": name}))
        else:
            unit_ids.append(found[0])
    pool = 0
    if bank_ids:
        candidates = await AttemptRepository(session).candidates(bank_ids)
        pool = len(eligible(candidates, spec.rules.level))
        if pool < spec.rules.questions:
            problems.append(
                SpecProblem(
                    "questions", "pool_too_small", {"pool": pool, "asked": spec.rules.questions}
                )
            )
    repository = CampaignRepository(session)
    if await repository.by_name(spec.name) is not None:
        problems.append(SpecProblem("name", "taken", {"name": spec.name}))
    if problems:
        raise SpecError(problems)
    campaign = await repository.create(
        name=spec.name,
        bank_ids=bank_ids,
        rules=spec.rules,
        opens_at=spec.opens_at,
        closes_at=spec.closes_at,
        audience=Audience(tuple(unit_ids), spec.roles),
        created_by=created_by,
        draft=spec.draft,
        theme=theme if theme is not None else campaign_theme(bank_themes),
    )
    return CreatedCampaign(campaign, pool)
