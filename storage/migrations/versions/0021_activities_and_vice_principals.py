"""offline activities with photos, and each school's 法治副校长

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 06:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "activities",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("theme", sa.String(length=40), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("unit_id", BigId, nullable=False),
        sa.Column("students", BigId, nullable=False),
        sa.Column("teachers", BigId, nullable=False),
        sa.Column("parents", BigId, nullable=False),
        sa.Column("speaker", sa.String(length=80), nullable=False),
        sa.Column("speaker_organisation", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("recorded_by", BigId, nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_by", BigId, nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_note", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_activities_unit_id_units"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"],
            ["participants.id"],
            name=op.f("fk_activities_recorded_by_participants"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by"],
            ["participants.id"],
            name=op.f("fk_activities_reviewed_by_participants"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activities")),
        sa.UniqueConstraint(
            "unit_id",
            "held_on",
            "kind",
            "title",
            name=op.f("uq_activities_unit_id_held_on_kind_title"),
        ),
    )
    op.create_index("ix_activities_status_held_on", "activities", ["status", "held_on"])
    op.create_table(
        "activity_photos",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("activity_id", BigId, nullable=False),
        sa.Column("position", BigId, nullable=False),
        sa.Column("telegram_file_id", sa.String(length=200), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activities.id"],
            name=op.f("fk_activity_photos_activity_id_activities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_photos")),
        sa.UniqueConstraint(
            "activity_id", "position", name=op.f("uq_activity_photos_activity_id_position")
        ),
    )
    op.create_table(
        "vice_principals",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("school_id", BigId, nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("organisation_kind", sa.String(length=20), nullable=False),
        sa.Column("organisation", sa.String(length=80), nullable=False),
        sa.Column("appointed_on", sa.Date(), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["units.id"],
            name=op.f("fk_vice_principals_school_id_units"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vice_principals")),
        sa.UniqueConstraint(
            "school_id",
            "name",
            "appointed_on",
            name=op.f("uq_vice_principals_school_id_name_appointed_on"),
        ),
    )


def downgrade() -> None:
    op.drop_table("vice_principals")
    op.drop_table("activity_photos")
    op.drop_index("ix_activities_status_held_on", table_name="activities")
    op.drop_table("activities")
