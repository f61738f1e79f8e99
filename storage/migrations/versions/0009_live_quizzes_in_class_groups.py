"""live quizzes in class groups

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 22:42:59.577480
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "live_quizzes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("chat_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "started_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "seconds_per_question",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column(
            "question_count", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("question_ids", sa.JSON(), nullable=False),
        sa.Column(
            "current_seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "board_message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_quizzes")),
    )
    op.create_table(
        "live_polls",
        sa.Column("poll_id", sa.String(length=64), nullable=False),
        sa.Column(
            "live_quiz_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "question_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "correct_option", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["live_quiz_id"],
            ["live_quizzes.id"],
            name=op.f("fk_live_polls_live_quiz_id_live_quizzes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["questions.id"],
            name=op.f("fk_live_polls_question_id_questions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("poll_id", name=op.f("pk_live_polls")),
    )
    with op.batch_alter_table("live_polls", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_live_polls_live_quiz_id"), ["live_quiz_id"], unique=False
        )

    op.create_table(
        "live_answers",
        sa.Column("poll_id", sa.String(length=64), nullable=False),
        sa.Column(
            "participant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("option", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("correct", sa.Boolean(), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_live_answers_participant_id_participants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["poll_id"],
            ["live_polls.poll_id"],
            name=op.f("fk_live_answers_poll_id_live_polls"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("poll_id", "participant_id", name=op.f("pk_live_answers")),
    )


def downgrade() -> None:
    op.drop_table("live_answers")
    with op.batch_alter_table("live_polls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_live_polls_live_quiz_id"))

    op.drop_table("live_polls")
    op.drop_table("live_quizzes")
