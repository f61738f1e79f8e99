"""Reminders to read an article, sent from the dashboard to those it was delivered to who
have not read it."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base


class ReadReminderRow(Base):
    """One reminder to read an article, for one reach (``all``, or a coordinator's
    schools as ``s:3,7``) on one day (Asia/Shanghai): who pressed, when, and how many it
    went to. The unique key is what makes two presses racing send once."""

    __tablename__ = "read_reminders"
    __table_args__ = (UniqueConstraint("article_id", "reach", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    reach: Mapped[str] = mapped_column(String(512))
    day: Mapped[date] = mapped_column(Date)
    # A participant id, not a Telegram id: erasing the presser leaves the row as it is.
    sent_by: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    sent_at: Mapped[datetime]
    recipients: Mapped[int] = mapped_column(default=0)
