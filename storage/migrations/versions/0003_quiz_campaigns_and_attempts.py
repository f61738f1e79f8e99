"""quiz campaigns and attempts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 22:00:02.531132
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("bank_ids", sa.JSON(), nullable=False),
        sa.Column(
            "questions", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("per_tag", sa.JSON(), nullable=False),
        sa.Column(
            "seconds_per_question",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column(
            "seconds_per_attempt",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column(
            "attempts_allowed",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column(
            "pass_mark", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("feedback", sa.String(length=8), nullable=False),
        sa.Column("partial_credit", sa.Boolean(), nullable=False),
        sa.Column("certificate", sa.Boolean(), nullable=False),
        sa.Column("opens_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("audience_units", sa.JSON(), nullable=False),
        sa.Column("audience_roles", sa.JSON(), nullable=False),
        sa.Column(
            "created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('draft', 'scheduled', 'open', 'closed')", name=op.f("ck_campaigns_status")
        ),
        sa.CheckConstraint("closes_at > opens_at", name=op.f("ck_campaigns_window")),
        sa.CheckConstraint("pass_mark BETWEEN 0 AND 100", name=op.f("ck_campaigns_pass_mark")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint("name", name=op.f("uq_campaigns_name")),
    )
    op.create_table(
        "shortlists",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "campaign_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "scope_unit_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("top_n", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_shortlists_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["scope_unit_id"], ["units.id"], name=op.f("fk_shortlists_scope_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shortlists")),
    )
    op.create_table(
        "attempts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "campaign_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "participant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("number", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "current_seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "question_count", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("points", sa.Double(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("total_ms", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("flagged", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("chat_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.CheckConstraint("status IN ('active', 'finished')", name=op.f("ck_attempts_status")),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_attempts_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_attempts_participant_id_participants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attempts")),
        sa.UniqueConstraint(
            "campaign_id",
            "participant_id",
            "number",
            name=op.f("uq_attempts_campaign_id_participant_id_number"),
        ),
    )
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.create_index("ix_attempts_participant_id", ["participant_id"], unique=False)

    op.create_table(
        "certificate_names",
        sa.Column(
            "participant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("real_name", sa.String(length=32), nullable=False),
        sa.Column("consented_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_certificate_names_participant_id_participants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("participant_id", name=op.f("pk_certificate_names")),
    )
    op.create_table(
        "attempt_questions",
        sa.Column(
            "attempt_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "question_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("option_order", sa.JSON(), nullable=False),
        sa.Column("shown_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("chosen", sa.JSON(), nullable=True),
        sa.Column("draft", sa.JSON(), nullable=False),
        sa.Column("points", sa.Double(), nullable=True),
        sa.Column("timed_out", sa.Boolean(), nullable=False),
        sa.Column("too_fast", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["attempts.id"],
            name=op.f("fk_attempt_questions_attempt_id_attempts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["questions.id"],
            name=op.f("fk_attempt_questions_question_id_questions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("attempt_id", "seq", name=op.f("pk_attempt_questions")),
    )
    with op.batch_alter_table("attempt_questions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_attempt_questions_open_deadline",
            ["deadline"],
            unique=False,
            sqlite_where=sa.text("answered_at IS NULL AND deadline IS NOT NULL"),
            postgresql_where=sa.text("answered_at IS NULL AND deadline IS NOT NULL"),
        )
        batch_op.create_index("ix_attempt_questions_question_id", ["question_id"], unique=False)

    op.create_table(
        "shortlist_entries",
        sa.Column(
            "shortlist_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("rank", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "participant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "attempt_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("points", sa.Double(), nullable=False),
        sa.Column(
            "total_ms", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"], ["attempts.id"], name=op.f("fk_shortlist_entries_attempt_id_attempts")
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_shortlist_entries_participant_id_participants"),
        ),
        sa.ForeignKeyConstraint(
            ["shortlist_id"],
            ["shortlists.id"],
            name=op.f("fk_shortlist_entries_shortlist_id_shortlists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("shortlist_id", "rank", name=op.f("pk_shortlist_entries")),
    )


def downgrade() -> None:
    op.drop_table("shortlist_entries")
    with op.batch_alter_table("attempt_questions", schema=None) as batch_op:
        batch_op.drop_index("ix_attempt_questions_question_id")
        batch_op.drop_index(
            "ix_attempt_questions_open_deadline",
            sqlite_where=sa.text("answered_at IS NULL AND deadline IS NOT NULL"),
            postgresql_where=sa.text("answered_at IS NULL AND deadline IS NOT NULL"),
        )

    op.drop_table("attempt_questions")
    op.drop_table("certificate_names")
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_attempts_participant_id")

    op.drop_table("attempts")
    op.drop_table("shortlists")
    op.drop_table("campaigns")
