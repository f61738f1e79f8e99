"""live quizzes shuffle options, count failed sends, keep no unregistered names

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 03:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0009"  # live_quizzes and live_answers


# Plain ALTER TABLE ADD/DROP COLUMN, also on SQLite: a batch copy of live_quizzes would
# drop the table, and with foreign keys on, SQLite would cascade that to every poll and
# answer of every live quiz. A constant server default keeps ADD COLUMN possible there.


def upgrade() -> None:
    op.add_column("live_quizzes", sa.Column("chat_title", sa.String(length=128), nullable=True))
    op.add_column("live_quizzes", sa.Column("option_orders", sa.JSON(), nullable=True))
    op.add_column(
        "live_quizzes",
        sa.Column(
            "failures",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            server_default="0",
            nullable=False,
        ),
    )
    # A live-quiz answer used to name people who never registered after their Telegram
    # name. Registration asks the name last, so a name on someone not joined came from
    # there; nobody not joined is counted in any figure.
    op.execute(
        "UPDATE participants SET display_name = NULL"
        " WHERE joined_at IS NULL AND display_name IS NOT NULL"
        " AND id IN (SELECT participant_id FROM live_answers)"
    )


def downgrade() -> None:
    op.drop_column("live_quizzes", "failures")
    op.drop_column("live_quizzes", "option_orders")
    op.drop_column("live_quizzes", "chat_title")
