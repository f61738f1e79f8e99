"""question pictures

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 09:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "question_pictures",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("media_type", sa.String(length=20), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("telegram_file_id", sa.String(length=255), nullable=True),
        sa.CheckConstraint(
            "media_type IN ('image/png', 'image/jpeg')",
            name=op.f("ck_question_pictures_media_type"),
        ),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_question_pictures")),
    )
    with op.batch_alter_table("questions") as batch_op:
        batch_op.add_column(sa.Column("picture_sha256", sa.String(length=64), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_questions_picture_sha256_question_pictures"),
            "question_pictures",
            ["picture_sha256"],
            ["sha256"],
            ondelete="RESTRICT",
        )


def downgrade() -> None:
    with op.batch_alter_table("questions") as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_questions_picture_sha256_question_pictures"), type_="foreignkey"
        )
        batch_op.drop_column("picture_sha256")
    op.drop_table("question_pictures")
