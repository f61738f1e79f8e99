"""Reminders a class teacher sends from the dashboard to the class's unfinished students."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base


class ClassReminderRow(Base):
    """One reminder of a campaign to one class on one day (Asia/Shanghai): who pressed,
    when, and how many it went to. The unique key is what makes two presses racing (two
    tabs) send once."""

    __tablename__ = "class_reminders"
    __table_args__ = (UniqueConstraint("campaign_id", "unit_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    # A participant id, not a Telegram id: erasing the presser leaves the row as it is.
    sent_by: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    sent_at: Mapped[datetime]
    recipients: Mapped[int] = mapped_column(default=0)


class ClassReminderArticleRow(Base):
    """The article (one per language among the recipients) a reminder went out as: a
    class's reminder is no publicity article, and the report's article figures leave it
    out, as they leave out a lecture's notices."""

    __tablename__ = "class_reminder_articles"

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    reminder_id: Mapped[int] = mapped_column(
        ForeignKey("class_reminders.id", ondelete="CASCADE"), index=True
    )
