"""What the dashboard's articles page reads besides ``/stats article``'s figures
(:meth:`PublicityRepository.figures_by_school`): which articles are publicity, and who
of each school an article did not reach, blocked or unsubscribed."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from quizzes.publicity import Article, ArticleStatus, Audience, DeliveryStatus
from quizzes.units import UnitKind
from storage.models import ParticipantRow, UnitRow
from storage.models_publicity import ArticleRow, BroadcastRow, DeliveryRow
from storage.publicity import _article, audience_filter, is_publicity

__all__ = ["ArticleReachRepository"]

SHOWN = (ArticleStatus.PUBLISHED.value, ArticleStatus.SCHEDULED.value)


class ArticleReachRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def recent(self, limit: int = 20) -> list[Article]:
        """Publicity articles published or scheduled (not a lecture's notices, not a
        class's quiz reminders, as the report counts them), latest first."""
        when = func.coalesce(ArticleRow.publish_at, ArticleRow.created_at)
        rows = await self.session.scalars(
            select(ArticleRow)
            .where(ArticleRow.status.in_(SHOWN), is_publicity())
            .order_by(when.desc(), ArticleRow.id.desc())
            .limit(limit)
        )
        return [_article(row) for row in rows]

    async def publicity(self, article_id: int) -> Article | None:
        """The article, when it is a publicity article published or scheduled."""
        row = await self.session.scalar(
            select(ArticleRow).where(
                ArticleRow.id == article_id, ArticleRow.status.in_(SHOWN), is_publicity()
            )
        )
        return _article(row) if row is not None else None

    async def lost_by_school(self, article: Article) -> dict[int | None, tuple[int, int]]:
        """``{school id: (blocked, unsubscribed)}`` and the total over everyone under
        ``None``, people counted once, a school with its classes as ``/stats article``
        counts them:

        - blocked: people whose delivery of this article (no test sends) ended ``blocked``:
          they had blocked the bot, and Telegram refused the message;
        - unsubscribed: people of the article's audience who have said /stop (counted as
          they are now): no article is sent to them.
        """
        school = (
            select(UnitRow.id, UnitRow.path).where(UnitRow.kind == UnitKind.SCHOOL.value)
        ).subquery()
        member = UnitRow.__table__.alias("member")
        blocked = (
            select(DeliveryRow.participant_id.label("pid"))
            .join(BroadcastRow, BroadcastRow.id == DeliveryRow.broadcast_id)
            .where(
                BroadcastRow.article_id == article.id,
                BroadcastRow.test_send.is_(False),
                DeliveryRow.status == DeliveryStatus.BLOCKED.value,
            )
            .subquery()
        )
        paths = await self._paths(article.audience)
        unsubscribed = (
            select(ParticipantRow.id.label("pid"))
            .join(UnitRow, UnitRow.id == ParticipantRow.unit_id)
            .where(
                ParticipantRow.telegram_id.is_not(None),
                ParticipantRow.joined_at.is_not(None),
                ParticipantRow.subscribed.is_(False),
                *audience_filter(article.audience, paths),
            )
            .subquery()
        )
        found: dict[int | None, list[int]] = {None: [0, 0]}
        for index, people in enumerate((blocked, unsubscribed)):
            by_school = (
                select(school.c.id, func.count(func.distinct(people.c.pid)))
                .select_from(people)
                .join(ParticipantRow, ParticipantRow.id == people.c.pid)
                .join(member, member.c.id == ParticipantRow.unit_id)
                .join(school, member.c.path.startswith(school.c.path, autoescape=False))
                .group_by(school.c.id)
            )
            for school_id, count in await self.session.execute(by_school):
                found.setdefault(school_id, [0, 0])[index] = int(count)
            total = select(func.count(func.distinct(people.c.pid))).select_from(people)
            found[None][index] = int(await self.session.scalar(total) or 0)
        return {school_id: (pair[0], pair[1]) for school_id, pair in found.items()}

    async def _paths(self, audience: Audience) -> list[str]:
        if not audience.unit_ids:
            return []
        rows = await self.session.scalars(
            select(UnitRow.path).where(UnitRow.id.in_(sorted(audience.unit_ids)))
        )
        return list(rows)
