"""certificates with serial numbers and verification codes; a campaign's distinction mark

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # No distinction mark on existing campaigns: their certificates stay 合格.
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("distinction", BigId, nullable=True))
    op.create_table(
        "certificates",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("attempt_id", BigId, nullable=False),
        sa.Column("year", BigId, nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("band", sa.String(length=16), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["attempts.id"],
            name=op.f("fk_certificates_attempt_id_attempts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificates")),
        sa.UniqueConstraint("attempt_id", name=op.f("uq_certificates_attempt_id")),
        sa.UniqueConstraint("code", name=op.f("uq_certificates_code")),
    )


def downgrade() -> None:
    op.drop_table("certificates")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("distinction")
