"""Live quizzes in class groups: Telegram quiz polls, one at a time, answers per person."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, utcnow


class LiveQuizRow(Base):
    __tablename__ = "live_quizzes"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    chat_id: Mapped[int]
    chat_title: Mapped[str | None] = mapped_column(String(128))  # to tell the teacher which
    started_by: Mapped[int]  # Telegram id of the teacher
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    seconds_per_question: Mapped[int]
    question_count: Mapped[int]
    question_ids: Mapped[list[int]] = mapped_column(JSON)  # drawn when it started, in order
    # Per question, display position -> bank option index; NULL: quizzes before shuffling.
    option_orders: Mapped[list[list[int]] | None] = mapped_column(JSON)
    current_seq: Mapped[int] = mapped_column(default=0)
    board_message_id: Mapped[int | None]
    # Failed sends to the group in a row; the quiz ends at quizzes.livequiz.MAX_SEND_FAILURES.
    failures: Mapped[int] = mapped_column(default=0, server_default=text("0"))


class LivePollRow(Base):
    __tablename__ = "live_polls"

    poll_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    live_quiz_id: Mapped[int] = mapped_column(
        ForeignKey("live_quizzes.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int]
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="RESTRICT"))
    correct_option: Mapped[int]  # the display position, as the poll was sent
    message_id: Mapped[int]
    closes_at: Mapped[datetime]


class LiveAnswerRow(Base):
    __tablename__ = "live_answers"

    poll_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("live_polls.poll_id", ondelete="CASCADE"), primary_key=True
    )
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True
    )
    option: Mapped[int]  # the bank's index of the option chosen
    correct: Mapped[bool]
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)
