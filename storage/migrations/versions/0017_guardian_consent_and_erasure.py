"""guardian consent codes for a child's real name; erased participants

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-07 03:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
# certificate_names and attempts come from the quiz branch.
depends_on: str | Sequence[str] | None = "0003"

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("certificate_names", schema=None) as batch_op:
        batch_op.add_column(sa.Column("confirmed_by", BigId, nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_certificate_names_confirmed_by_participants"),
            "participants",
            ["confirmed_by"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_table(
        "guardian_consent_codes",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("participant_id", BigId, nullable=False),
        sa.Column("attempt_id", BigId, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["attempts.id"],
            name=op.f("fk_guardian_consent_codes_attempt_id_attempts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_guardian_consent_codes_participant_id_participants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_guardian_consent_codes")),
        sa.UniqueConstraint(
            "participant_id", name=op.f("uq_guardian_consent_codes_participant_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("guardian_consent_codes")
    with op.batch_alter_table("certificate_names", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_certificate_names_confirmed_by_participants"), type_="foreignkey"
        )
        batch_op.drop_column("confirmed_by")
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.drop_column("erased_at")
