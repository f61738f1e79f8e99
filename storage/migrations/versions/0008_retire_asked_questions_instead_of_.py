"""retire asked questions instead of changing them

Revision ID: 0008
Revises: 0003
Create Date: 2026-11-29 22:41:02.927935
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_constraint(batch_op.f("uq_questions_bank_id_position"), type_="unique")
        batch_op.create_index(
            "uq_questions_bank_id_position_live",
            ["bank_id", "position"],
            unique=True,
            sqlite_where=sa.text("retired_at IS NULL"),
            postgresql_where=sa.text("retired_at IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_questions_bank_id_position_live",
            sqlite_where=sa.text("retired_at IS NULL"),
            postgresql_where=sa.text("retired_at IS NULL"),
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_questions_bank_id_position"), ["bank_id", "position"]
        )
        batch_op.drop_column("retired_at")
