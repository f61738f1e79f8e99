"""Campaigns open, remind and close on time: jobs planned from the campaigns table.

Nothing about a campaign's schedule lives only in memory: the planner rebuilds the jobs
from the table at start-up (and on every replan), and each job checks the state it acts
on, so a job that runs late or twice changes nothing the second time.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from bot.announcements import announce
from bot.scheduler import Scheduler
from bot.services import ServiceContext
from quizzes.attempts import Attempts
from quizzes.campaigns import Campaign, CampaignStatus
from storage.repositories import Repositories

log = logging.getLogger(__name__)

# Well inside the scheduler's default grace (6 h): later than this, a job is due now.
STALE = timedelta(hours=1)
# Those who have not finished an attempt are reminded this long before the close.
REMIND_BEFORE = timedelta(hours=24)
# ...and only if that is this long after the opening announcement, not on its heels.
REMIND_AFTER_OPENING = timedelta(hours=12)


async def plan_campaigns(scheduler: Scheduler) -> None:
    now = datetime.now(UTC)
    async with scheduler.session_factory() as session:
        campaigns = await Repositories.over(session).campaigns.all()
    for campaign in campaigns:
        schedule_campaign(scheduler, campaign, now)


def schedule_campaign(scheduler: Scheduler, campaign: Campaign, now: datetime) -> None:
    """The campaign's open, reminder and close jobs (the planner, and a new campaign)."""
    if campaign.status in (CampaignStatus.DRAFT, CampaignStatus.CLOSED):
        return
    # Opening (and announcing) a campaign whose window is over helps nobody.
    if campaign.status is CampaignStatus.SCHEDULED and campaign.closes_at > now:
        scheduler.at(
            f"campaign-{campaign.id}-open",
            _due(campaign.opens_at, now),
            open_campaign,
            campaign_id=campaign.id,
        )
    remind_at = campaign.closes_at - REMIND_BEFORE
    # A window shorter than a day and a half gets no reminder (it would come before the
    # opening, or hard on the opening announcement); one missed by more than STALE is
    # dropped: its due time stays fixed, never "now", so replanning cannot send it again
    # under a new due time.
    if remind_at >= campaign.opens_at + REMIND_AFTER_OPENING and remind_at >= now - STALE:
        scheduler.at(
            f"campaign-{campaign.id}-remind", remind_at, remind_campaign, campaign_id=campaign.id
        )
    scheduler.at(
        f"campaign-{campaign.id}-close",
        _due(campaign.closes_at, now),
        close_campaign,
        campaign_id=campaign.id,
    )


def _due(when: datetime, now: datetime) -> datetime:
    """Long overdue (the bot was down for hours): now, rather than never.

    The scheduler skips a one-off firing later than its grace; a campaign that never
    closed would keep its attempts open, so its job is due again from now on.
    """
    return now if when < now - STALE else when


async def open_campaign(context: ServiceContext, campaign_id: int) -> None:
    async with context.session_factory() as session:
        repo = Repositories.over(session)
        campaign = await repo.campaigns.get(campaign_id)
        if campaign is None or campaign.status is not CampaignStatus.SCHEDULED:
            return
        if not await repo.campaigns.set_status(campaign_id, CampaignStatus.OPEN):
            return
        await repo.commit()
        audience = await repo.campaigns.audience_chats(campaign)
    log.info("campaign %s opened; announcing to %s participants", campaign_id, len(audience))
    await announce(
        context,
        audience,
        "campaign.announce.opened",
        name=campaign.name,
        questions=campaign.rules.questions,
        closes=campaign.closes_at,
    )


async def remind_campaign(context: ServiceContext, campaign_id: int) -> None:
    """Remind the audience members with no *finished* attempt that the quiz closes soon.

    Someone who started and left an attempt unfinished is reminded too: the attempt
    resumes with /quiz. Only while the window is open; a closed (or closed early)
    campaign reminds nobody. Fired once per due time (the scheduler's claim).
    """
    now = datetime.now(UTC)
    async with context.session_factory() as session:
        repo = Repositories.over(session)
        campaign = await repo.campaigns.get(campaign_id)
        if campaign is None or campaign.status is CampaignStatus.CLOSED:
            return
        if not campaign.is_open(now):
            return
        audience = await repo.campaigns.audience_without_finished_attempt(campaign)
    log.info("campaign %s: reminding %s participants", campaign_id, len(audience))
    await announce(
        context,
        audience,
        "campaign.announce.reminder",
        name=campaign.name,
        closes=campaign.closes_at,
    )


async def close_campaign(context: ServiceContext, campaign_id: int) -> None:
    """Close the window and finish every attempt still running: unanswered scores nothing."""
    async with context.session_factory() as session:
        repo = Repositories.over(session)
        campaign = await repo.campaigns.get(campaign_id)
        if campaign is None or campaign.status is CampaignStatus.CLOSED:
            return
        attempts = Attempts(repo.attempts, repo.campaigns)
        for attempt in await repo.attempts.active_in(campaign_id):
            await attempts.expire(attempt, campaign)
        await repo.campaigns.set_status(campaign_id, CampaignStatus.CLOSED)
        await repo.commit()
        audience = await repo.campaigns.audience_chats(campaign)
        passed = await repo.campaigns.audience_passed(campaign)
    log.info("campaign %s closed", campaign_id)
    # Only those who passed have a certificate to fetch; the others are thanked.
    winners = [chat for chat in audience if chat[0] in passed]
    others = [chat for chat in audience if chat[0] not in passed]
    await announce(context, winners, "campaign.announce.closed_passed", name=campaign.name)
    await announce(context, others, "campaign.announce.closed", name=campaign.name)
