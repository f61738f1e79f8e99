"""Tables of publicity: articles, broadcasts and their outbox of deliveries, reads, clicks,
online lectures and their check-ins.

``deliveries`` is the outbox: one row per recipient, written in the same transaction that
starts the broadcast, claimed in batches by the senders (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL) and marked the moment Telegram answers. Progress is a ``GROUP BY status``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, utcnow


class ArticleRow(Base):
    __tablename__ = "articles"
    __table_args__ = (
        CheckConstraint(
            "status IN ('draft', 'scheduled', 'published', 'cancelled', 'missed')", name="status"
        ),
        Index("ix_articles_status_publish_at", "status", "publish_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)  # Telegram HTML
    photo_file_id: Mapped[str | None] = mapped_column(String(255))
    # A cover to upload on the first send (from `pufa article create`); its file id is
    # kept in photo_file_id afterwards.
    photo_bytes: Mapped[bytes | None] = mapped_column(LargeBinary)
    link: Mapped[str | None] = mapped_column(String(2048))
    audience: Mapped[dict[str, Any]] = mapped_column(JSON)
    author_id: Mapped[int] = mapped_column()  # Telegram id
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    publish_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="draft")
    link_secret: Mapped[str] = mapped_column(String(64))
    # An online lecture's announcement or reminder carries its check-in button.
    lecture_id: Mapped[int | None] = mapped_column(
        ForeignKey("lectures.id", ondelete="CASCADE"), index=True
    )
    # Also posted to the configured channel (PUFA_PUBLICITY_CHANNEL).
    to_channel: Mapped[bool] = mapped_column(default=False, server_default=false())
    # A lecture's cancellation notice (lecture_id set): no check-in button.
    cancels_lecture: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Clicks on the channel post's link: its readers are anonymous, so only a count.
    channel_clicks: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    # A reminder to read this article (its "read" button and link count for it): no
    # publicity article of its own, left out of the article figures.
    reminder_of: Mapped[int | None] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    # What it is about (a quizzes.themes.Theme value): the report counts articles per theme.
    theme: Mapped[str] = mapped_column(String(40), default="other", server_default="other")


class BroadcastRow(Base):
    __tablename__ = "broadcasts"
    __table_args__ = (
        CheckConstraint("state IN ('running', 'paused', 'cancelled', 'done')", name="state"),
        Index("ix_broadcasts_state", "state"),
        Index("ix_broadcasts_article_id", "article_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16), default="running")
    created_by: Mapped[int] = mapped_column()  # Telegram id
    locale: Mapped[str] = mapped_column(String(8), default="zh-CN")
    total: Mapped[int] = mapped_column(default=0)
    test_send: Mapped[bool] = mapped_column(default=False)
    progress_chat_id: Mapped[int | None] = mapped_column()
    progress_message_id: Mapped[int | None] = mapped_column()
    # Claimed by the process that edits the progress message next (one editor at a time).
    progress_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class DeliveryRow(Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "participant_id"),
        CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'failed', 'blocked')", name="status"
        ),
        # Claims and lease recovery: the pending (or sending) rows in id order.
        Index("ix_deliveries_status_id", "status", "id"),
        # Progress: GROUP BY status of one broadcast.
        Index("ix_deliveries_broadcast_id_status", "broadcast_id", "status"),
        Index("ix_deliveries_participant_id", "participant_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"))
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    chat_id: Mapped[int] = mapped_column()
    locale: Mapped[str] = mapped_column(String(8), default="zh-CN")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    message_id: Mapped[int | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]


class ChannelPostRow(Base):
    """A broadcast's post to the channel: not a delivery to anyone, so it lives apart
    from ``deliveries`` (whose rows are people). Claimed and recovered like a delivery
    (``pending -> sending`` with ``claimed_by``/``claimed_at``), so it goes out once."""

    __tablename__ = "channel_posts"
    __table_args__ = (
        UniqueConstraint("broadcast_id"),
        CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed')", name="status"),
        Index("ix_channel_posts_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"))
    chat: Mapped[str | None] = mapped_column(String(64))  # chat id or @username
    status: Mapped[str] = mapped_column(String(16), default="pending")
    message_id: Mapped[int | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]


class ArticleReadRow(Base):
    __tablename__ = "article_reads"
    __table_args__ = (UniqueConstraint("article_id", "participant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    read_at: Mapped[datetime] = mapped_column(default=utcnow)


class LinkClickRow(Base):
    """One row per participant and article; ``clicks`` counts repeated clicks."""

    __tablename__ = "link_clicks"
    __table_args__ = (UniqueConstraint("article_id", "participant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    token: Mapped[str] = mapped_column(String(96))
    clicks: Mapped[int] = mapped_column(default=1)
    clicked_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_clicked_at: Mapped[datetime] = mapped_column(default=utcnow)


class LectureRow(Base):
    """An online public lecture (网络公开课): announced, reminded, checked into.

    It is an activity of the kind ``online_lecture`` (``activity_id``): the activity list
    shows it, and the report counts it under that kind and its theme. Its check-ins here
    are that activity's participation records.
    """

    __tablename__ = "lectures"
    __table_args__ = (
        CheckConstraint("status IN ('scheduled', 'cancelled')", name="status"),
        CheckConstraint("ends_at > starts_at", name="window"),
        Index("ix_lectures_starts_at", "starts_at"),
        UniqueConstraint("activity_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(255))
    speaker: Mapped[str] = mapped_column(String(255))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    link: Mapped[str | None] = mapped_column(String(2048))
    audience: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[int] = mapped_column()  # Telegram id
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    # Set for every lecture scheduled (and by migration 0030 for those before it); empty
    # while the roster holds no unit to organise it, or once its activity is deleted (the
    # lecture and its check-ins stay: the report has counted them).
    activity_id: Mapped[int | None] = mapped_column(
        ForeignKey("activities.id", ondelete="SET NULL")
    )


class LectureCheckinRow(Base):
    """A registered person's check-in to a lecture: the participation records of the
    lecture's activity (counted by :func:`storage.statistics.lecture_attendance`)."""

    __tablename__ = "lecture_checkins"
    __table_args__ = (UniqueConstraint("lecture_id", "participant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    lecture_id: Mapped[int] = mapped_column(ForeignKey("lectures.id", ondelete="CASCADE"))
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    checked_in_at: Mapped[datetime] = mapped_column(default=utcnow)
