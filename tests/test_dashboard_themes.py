"""The dashboard's article and campaign pages say what the article or campaign is about."""

from __future__ import annotations

from sqlalchemy import update

from quizzes.themes import Theme
from storage.models import utcnow
from storage.models_quiz import CampaignRow
from storage.publicity import PublicityRepository
from tests.publicity_chat import ADMIN, chat
from tests.test_dashboard import Site, site
from tests.test_dashboard_campaign import bank_campaign

__all__ = ["chat", "site"]  # the fixtures


async def test_the_article_and_campaign_pages_show_their_theme(site: Site) -> None:
    factory = site.chat.session_factory
    async with factory() as session:
        publicity = PublicityRepository(session)
        article = await publicity.create_article(
            title="禁毒宣传", body="珍爱生命，远离毒品。", author_id=1, theme=Theme.ANTI_DRUG
        )
        # Sent: the page is an article's that went out.
        await publicity.start_broadcast(
            article.id, created_by=ADMIN, locale="zh-CN", progress_chat_id=None, now=utcnow()
        )
        await session.commit()
    campaign = await bank_campaign(factory)
    async with factory() as session:
        await session.execute(
            update(CampaignRow)
            .where(CampaignRow.id == campaign.id)
            .values(theme=Theme.NATIONAL_SECURITY.value)
        )
        await session.commit()
    async with site.make_client() as client:
        await site.login(client, ADMIN)
        article_page = await client.get(f"/admin/articles/{article.id}")
        article_html = await article_page.text()
        campaign_page = await client.get(f"/admin/campaigns/{campaign.id}")
        campaign_html = await campaign_page.text()
    assert article_page.status == 200 and campaign_page.status == 200
    assert '<p class="theme" data-field="theme">主题：禁毒</p>' in article_html
    assert '<p class="theme" data-field="theme">主题：国家安全</p>' in campaign_html
