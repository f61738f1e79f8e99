"""articles: a scheduled article found beyond the grace is 'missed' (not sent late)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 03:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = "status IN ('draft', 'scheduled', 'published', 'cancelled')"
AFTER = "status IN ('draft', 'scheduled', 'published', 'cancelled', 'missed')"


def upgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_articles_status"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_articles_status"), AFTER)


def downgrade() -> None:
    # A missed article was never sent: it goes back to the drafts it can be sent from.
    op.execute("UPDATE articles SET status = 'draft' WHERE status = 'missed'")
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_articles_status"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_articles_status"), BEFORE)
