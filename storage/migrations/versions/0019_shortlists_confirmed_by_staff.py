"""a shortlist is a selection only once staff confirm it; the roles it was drawn from

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 03:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("shortlists", schema=None) as batch_op:
        batch_op.add_column(sa.Column("roles", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column(
                "confirmed_by",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                nullable=True,
            )
        )
    # Every list kept so far was kept as a selection: it stays one, on the day it was
    # drawn, so that no report figure changes with the upgrade.
    op.execute(
        "UPDATE shortlists SET confirmed_at = created_at, confirmed_by = created_by"
        " WHERE confirmed_at IS NULL"
    )


def downgrade() -> None:
    # Lists never confirmed were views, not selections: the old schema cannot tell them
    # apart, so they go rather than count.
    op.execute(
        "DELETE FROM shortlist_entries WHERE shortlist_id IN"
        " (SELECT id FROM shortlists WHERE confirmed_at IS NULL)"
    )
    op.execute("DELETE FROM shortlists WHERE confirmed_at IS NULL")
    with op.batch_alter_table("shortlists", schema=None) as batch_op:
        batch_op.drop_column("confirmed_by")
        batch_op.drop_column("confirmed_at")
        batch_op.drop_column("roles")
