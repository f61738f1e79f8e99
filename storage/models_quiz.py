"""Quiz campaigns, attempts and the answers in them; shortlists and certificate names."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, utcnow


class CampaignRow(Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'scheduled', 'open', 'closed')", name="status"),
        CheckConstraint("closes_at > opens_at", name="window"),
        CheckConstraint("pass_mark BETWEEN 0 AND 100", name="pass_mark"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    bank_ids: Mapped[list[int]] = mapped_column(JSON)
    questions: Mapped[int]
    per_tag: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    seconds_per_question: Mapped[int | None]
    seconds_per_attempt: Mapped[int | None]
    attempts_allowed: Mapped[int] = mapped_column(default=1)
    pass_mark: Mapped[int] = mapped_column(default=60)
    # The percent from which a certificate says 优秀 instead of 合格; None: never.
    distinction: Mapped[int | None]
    feedback: Mapped[str] = mapped_column(String(8), default="each")
    partial_credit: Mapped[bool] = mapped_column(default=False)
    certificate: Mapped[bool] = mapped_column(default=True)
    # Who the campaign is for (1 小学, 2 初中, 3 高中及教职工; NULL: everyone, the draw as
    # before) and the share of each difficulty its file set ({"易": 0.5, ...}; NULL: the
    # level's default).
    level: Mapped[int | None] = mapped_column(Integer)
    difficulty_mix: Mapped[dict[str, float] | None] = mapped_column(JSON)
    opens_at: Mapped[datetime]
    closes_at: Mapped[datetime]
    audience_units: Mapped[list[int]] = mapped_column(JSON, default=list)
    audience_roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # What it is about (a quizzes.themes.Theme value): the report counts campaigns per theme.
    theme: Mapped[str] = mapped_column(String(40), default="other", server_default="other")


class AttemptRow(Base):
    __tablename__ = "attempts"
    __table_args__ = (
        # One attempt per number: a double press on "start" cannot open two.
        UniqueConstraint("campaign_id", "participant_id", "number"),
        CheckConstraint("status IN ('active', 'finished')", name="status"),
        Index("ix_attempts_participant_id", "participant_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    number: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default="active")
    started_at: Mapped[datetime]
    deadline: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    current_seq: Mapped[int] = mapped_column(default=1)
    question_count: Mapped[int]
    points: Mapped[float] = mapped_column(default=0.0)
    passed: Mapped[bool | None]
    total_ms: Mapped[int | None]
    flagged: Mapped[int] = mapped_column(default=0)  # answers faster than reading allows
    chat_id: Mapped[int | None]  # None: taken on the web pages (no chat to answer in)
    message_id: Mapped[int | None]


class AttemptQuestionRow(Base):
    __tablename__ = "attempt_questions"
    __table_args__ = (
        # The sweeper looks for questions whose time ran out unanswered.
        Index(
            "ix_attempt_questions_open_deadline",
            "deadline",
            sqlite_where=text("answered_at IS NULL AND deadline IS NOT NULL"),
            postgresql_where=text("answered_at IS NULL AND deadline IS NOT NULL"),
        ),
        Index("ix_attempt_questions_question_id", "question_id"),
    )

    attempt_id: Mapped[int] = mapped_column(
        ForeignKey("attempts.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="RESTRICT"))
    option_order: Mapped[list[int]] = mapped_column(JSON)
    shown_at: Mapped[datetime | None]
    deadline: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    chosen: Mapped[list[int] | None] = mapped_column(JSON)  # original option indices
    draft: Mapped[list[int]] = mapped_column(JSON, default=list)  # multiple choice toggles
    points: Mapped[float | None]
    timed_out: Mapped[bool] = mapped_column(default=False)
    too_fast: Mapped[bool] = mapped_column(default=False)


class ShortlistRow(Base):
    __tablename__ = "shortlists"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    scope_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    top_n: Mapped[int]
    created_by: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # "student" or "student,teacher": who the list ranked (NULL: drawn before it was kept).
    roles: Mapped[str | None] = mapped_column(String(64))
    # A list is a selection once staff confirm it; until then it is what /top showed.
    confirmed_at: Mapped[datetime | None]
    confirmed_by: Mapped[int | None]


class ShortlistEntryRow(Base):
    __tablename__ = "shortlist_entries"

    shortlist_id: Mapped[int] = mapped_column(
        ForeignKey("shortlists.id", ondelete="CASCADE"), primary_key=True
    )
    rank: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"))
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id"))
    points: Mapped[float]
    total_ms: Mapped[int]
    finished_at: Mapped[datetime]


class CertificateNameRow(Base):
    """The real name to print on certificates, given by the participant with consent."""

    __tablename__ = "certificate_names"

    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True
    )
    real_name: Mapped[str] = mapped_column(String(32))
    consented_at: Mapped[datetime]
    # The teacher or coordinator who confirmed a guardian's consent (a student under 14).
    confirmed_by: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL")
    )
