"""every question has a school level and a difficulty of 易/中/难; a campaign a level and a mix

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 06:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The old five-point difficulty folds into three (1-2 易, 3 中, 4-5 难); a question
    # without one is 中, and every existing question is a 初中 one until its bank says more.
    op.execute(
        "UPDATE questions SET difficulty = CASE"
        " WHEN difficulty IS NULL THEN 2 WHEN difficulty <= 2 THEN 1"
        " WHEN difficulty = 3 THEN 2 ELSE 3 END"
    )
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_questions_difficulty"), type_="check")
        batch_op.alter_column("difficulty", existing_type=sa.Integer(), nullable=False)
        batch_op.add_column(
            sa.Column("level", sa.Integer(), nullable=False, server_default=sa.text("2"))
        )
        batch_op.create_check_constraint(
            op.f("ck_questions_difficulty"), "difficulty BETWEEN 1 AND 3"
        )
        batch_op.create_check_constraint(op.f("ck_questions_level"), "level BETWEEN 1 AND 3")
    # Existing campaigns have no level and no mix: they draw exactly as before.
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("level", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("difficulty_mix", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("difficulty_mix")
        batch_op.drop_column("level")
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_questions_level"), type_="check")
        batch_op.drop_constraint(op.f("ck_questions_difficulty"), type_="check")
        batch_op.drop_column("level")
        batch_op.alter_column("difficulty", existing_type=sa.Integer(), nullable=True)
        batch_op.create_check_constraint(
            op.f("ck_questions_difficulty"), "difficulty IS NULL OR difficulty BETWEEN 1 AND 5"
        )
    # Back on the five-point scale: 易 1, 中 3, 难 5.
    op.execute("UPDATE questions SET difficulty = difficulty * 2 - 1")
