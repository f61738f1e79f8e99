"""Articles and quiz campaigns per theme, counted in SQL: one definition per figure.

Each figure is the report's figure of the same name (:mod:`storage.statistics`) split by
the theme of the article or campaign it counts (``articles.theme``, ``campaigns.theme``),
over the same people: participants of the scope (their unit is in the scope's tree, as
:class:`storage.scope.Scope` maps them) in the same period.

- A count of things (articles, campaigns) and of events (reads, 人次) adds up over the
  themes to the report's total.
- A count of people (people reached, took part) does not: a person who got a 宪法
  article and a 禁毒 article counts under both themes, once each, and once in the total.

The report reads them in two statements that its lanes run side by side: the articles'
figures (:func:`articles_of_themes`) and the campaigns' (:func:`campaigns_by_theme`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, false, func, literal, select, union_all

from quizzes.theme_figures import ThemeBreakdown
from storage.models import ParticipantRow
from storage.models_publicity import ArticleReadRow, ArticleRow, BroadcastRow, DeliveryRow
from storage.models_quiz import AttemptRow, CampaignRow
from storage.publicity import is_publicity
from storage.scope import Query, Scope

__all__ = [
    "articles_by_theme",
    "articles_of_themes",
    "campaigns_by_theme",
    "reached_by_theme",
    "reads_by_theme",
    "theme_breakdown",
]


def _in(column: Any, bounds: tuple[datetime, datetime]) -> Any:
    return and_(column >= bounds[0], column < bounds[1])


def _in_scope(scope: Scope) -> Any:
    """The participant (``participants`` joined) belongs to a unit of the scope."""
    return ParticipantRow.unit_id.in_(select(scope.map.c.unit_id))


def articles_by_theme(scope: Scope, bounds: tuple[datetime, datetime]) -> Query:
    """Articles published (篇) per theme: publicity articles (no lecture notices, class
    quiz reminders or reminders to read) whose status is ``published`` and whose
    ``publish_at`` falls in the period, with at least one delivery, at any time, that
    Telegram accepted (status ``sent``, not a test send) to a participant of the scope.
    The report's "articles published" of the whole scope, per theme; they add up to it.
    ``(theme, count)``."""
    delivered = (
        select(DeliveryRow.id)
        .join(BroadcastRow, BroadcastRow.id == DeliveryRow.broadcast_id)
        .join(ParticipantRow, ParticipantRow.id == DeliveryRow.participant_id)
        .where(
            BroadcastRow.article_id == ArticleRow.id,
            BroadcastRow.test_send.is_(false()),
            DeliveryRow.status == "sent",
            _in_scope(scope),
        )
        .exists()
    )
    return (
        select(ArticleRow.theme, func.count())
        .where(
            ArticleRow.status == "published",
            _in(ArticleRow.publish_at, bounds),
            is_publicity(),
            delivered,
        )
        .group_by(ArticleRow.theme)
    )


def reads_by_theme(scope: Scope, bounds: tuple[datetime, datetime]) -> Query:
    """Reads (人次) per theme: publicity articles of the theme opened in the bot by a
    participant of the scope, one per article and person, counted when the first read
    (``article_reads.read_at``) falls in the period. The report's "reads" per theme;
    they add up to it. ``(theme, count)``."""
    return (
        select(ArticleRow.theme, func.count())
        .select_from(ArticleReadRow)
        .join(ArticleRow, ArticleRow.id == ArticleReadRow.article_id)
        .join(ParticipantRow, ParticipantRow.id == ArticleReadRow.participant_id)
        .where(_in(ArticleReadRow.read_at, bounds), is_publicity(), _in_scope(scope))
        .group_by(ArticleRow.theme)
    )


def reached_by_theme(scope: Scope, bounds: tuple[datetime, datetime]) -> Query:
    """People reached (人) per theme: participants of the scope with at least one
    publicity article of the theme delivered to them in the period (status ``sent``,
    ``sent_at`` in the period, not a test send). A person counts once per theme however
    many of its articles they got, and under each theme they got an article of.
    ``(theme, count)``."""
    per_person = (
        select(DeliveryRow.participant_id.label("pid"), ArticleRow.theme.label("theme"))
        .join(BroadcastRow, BroadcastRow.id == DeliveryRow.broadcast_id)
        .join(ArticleRow, ArticleRow.id == BroadcastRow.article_id)
        .where(
            DeliveryRow.status == "sent",
            _in(DeliveryRow.sent_at, bounds),
            BroadcastRow.test_send.is_(false()),
            is_publicity(),
        )
        .group_by(DeliveryRow.participant_id, ArticleRow.theme)
        .subquery("per_person")
    )
    return (
        select(per_person.c.theme, func.count())
        .join(ParticipantRow, ParticipantRow.id == per_person.c.pid)
        .where(_in_scope(scope))
        .group_by(per_person.c.theme)
    )


def campaigns_by_theme(scope: Scope, bounds: tuple[datetime, datetime]) -> Query:
    """Two figures per theme, from one pass over the attempts started in the period:

    - quiz campaigns (场): campaigns of the theme in which at least one participant of
      the scope started an attempt in the period, as the report's list of campaigns
      holds them; they add up to its length;
    - took part (人): participants of the scope who started at least one attempt in the
      period in a campaign of the theme; a person counts once per theme, and under each
      theme they took a quiz of.

    ``(theme, campaigns, took part)``."""
    return (
        select(
            CampaignRow.theme,
            func.count(func.distinct(AttemptRow.campaign_id)),
            func.count(func.distinct(AttemptRow.participant_id)),
        )
        .select_from(AttemptRow)
        .join(CampaignRow, CampaignRow.id == AttemptRow.campaign_id)
        .join(ParticipantRow, ParticipantRow.id == AttemptRow.participant_id)
        .where(_in(AttemptRow.started_at, bounds), _in_scope(scope))
        .group_by(CampaignRow.theme)
    )


def articles_of_themes(scope: Scope, bounds: tuple[datetime, datetime]) -> Query:
    """The article figures above in one statement: ``(figure, theme, count)``, the figure
    named as :data:`quizzes.theme_figures.FIGURES` names it."""
    parts = {
        "articles": articles_by_theme,
        "reads": reads_by_theme,
        "reached": reached_by_theme,
    }
    selects = []
    for figure, query in parts.items():
        part = query(scope, bounds).subquery(figure)
        theme, count = part.c
        selects.append(select(literal(figure).label("figure"), theme, count))
    return union_all(*selects)  # type: ignore[return-value]


def theme_breakdown(
    articles: Iterable[Sequence[Any]], campaigns: Iterable[Sequence[Any]]
) -> ThemeBreakdown:
    """The rows of :func:`articles_of_themes` and :func:`campaigns_by_theme` together."""
    rows: list[tuple[str, str, int]] = [(str(f), str(t), int(n)) for f, t, n in articles]
    for theme, held, took_part in campaigns:
        rows += [("campaigns", str(theme), int(held)), ("took_part", str(theme), int(took_part))]
    return ThemeBreakdown.of_rows(rows)
