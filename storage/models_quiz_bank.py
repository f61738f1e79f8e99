"""Tables for question banks: a bank per imported file, its questions in file order."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, utcnow


class QuestionBankRow(Base):
    __tablename__ = "question_banks"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    version_note: Mapped[str] = mapped_column(String(500), default="")
    source_filename: Mapped[str] = mapped_column(String(255))
    content_sha256: Mapped[str] = mapped_column(String(64))
    question_count: Mapped[int] = mapped_column(Integer)
    # The Telegram id of the admin who uploaded it; NULL when imported at a terminal.
    imported_by: Mapped[int | None]
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)


class QuestionRow(Base):
    __tablename__ = "questions"
    __table_args__ = (
        # One live question per position; retired ones keep theirs for the history.
        Index(
            "uq_questions_bank_id_position_live",
            "bank_id",
            "position",
            unique=True,
            sqlite_where=text("retired_at IS NULL"),
            postgresql_where=text("retired_at IS NULL"),
        ),
        CheckConstraint("type IN ('single', 'multiple', 'true_false')", name="type"),
        CheckConstraint("difficulty BETWEEN 1 AND 3", name="difficulty"),
        CheckConstraint("level BETWEEN 1 AND 3", name="level"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("question_banks.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(16))
    stem: Mapped[str] = mapped_column(Text)
    options: Mapped[list[Any]] = mapped_column(JSON)
    correct: Mapped[list[Any]] = mapped_column(JSON)
    explanation: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[Any]] = mapped_column(JSON)
    # 1 易, 2 中, 3 难 (quizzes.bank.Difficulty).
    difficulty: Mapped[int] = mapped_column(Integer, default=2)
    # The school level it suits, from this level up: 1 小学, 2 初中, 3 高中及教职工.
    level: Mapped[int] = mapped_column(Integer, default=2, server_default=text("2"))
    source: Mapped[str | None] = mapped_column(String(100))
    # The question's picture (question_pictures.sha256): part of what the question asks, so
    # a new picture for an asked question retires it like a new stem would.
    picture_sha256: Mapped[str | None] = mapped_column(
        ForeignKey("question_pictures.sha256", ondelete="RESTRICT")
    )
    # Set when a re-import changed or dropped a question that attempts already asked: the
    # row stays as it was, so past answers keep the question they were given.
    retired_at: Mapped[datetime | None]


class QuestionPictureRow(Base):
    """A question's picture, kept once by its content: questions (and the retired versions
    of a question) showing the same picture share the row."""

    __tablename__ = "question_pictures"
    __table_args__ = (
        CheckConstraint("media_type IN ('image/png', 'image/jpeg')", name="media_type"),
    )

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(20))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    # Telegram's id for the photo once sent, so later questions send the id, not the bytes.
    telegram_file_id: Mapped[str | None] = mapped_column(String(255))
