"""class reminders sent from the dashboard, once per campaign, class and day

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 08:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "class_reminders",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("campaign_id", BigId, nullable=False),
        sa.Column("unit_id", BigId, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sent_by", BigId, nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recipients", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_class_reminders_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["units.id"],
            name=op.f("fk_class_reminders_unit_id_units"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sent_by"],
            ["participants.id"],
            name=op.f("fk_class_reminders_sent_by_participants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_class_reminders")),
        sa.UniqueConstraint(
            "campaign_id",
            "unit_id",
            "day",
            name=op.f("uq_class_reminders_campaign_id_unit_id_day"),
        ),
    )
    op.create_table(
        "class_reminder_articles",
        sa.Column("article_id", BigId, nullable=False),
        sa.Column("reminder_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_class_reminder_articles_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reminder_id"],
            ["class_reminders.id"],
            name=op.f("fk_class_reminder_articles_reminder_id_class_reminders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("article_id", name=op.f("pk_class_reminder_articles")),
    )
    op.create_index(
        op.f("ix_class_reminder_articles_reminder_id"),
        "class_reminder_articles",
        ["reminder_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_class_reminder_articles_reminder_id"), table_name="class_reminder_articles"
    )
    op.drop_table("class_reminder_articles")
    op.drop_table("class_reminders")
