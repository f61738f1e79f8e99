"""units participants invite codes grants

Revision ID: 0001
Revises:
Create Date: 2026-11-29 21:39:34.041418
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "units",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "parent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column(
            "students_enrolled",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column(
            "teachers_enrolled",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('division', 'regiment', 'school', 'class')", name=op.f("ck_units_kind")
        ),
        sa.CheckConstraint(
            "students_enrolled >= 0 AND teachers_enrolled >= 0", name=op.f("ck_units_enrolled")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["units.id"], name=op.f("fk_units_parent_id_units"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_units")),
        sa.UniqueConstraint("parent_id", "name", name=op.f("uq_units_parent_id_name")),
    )
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.create_index("ix_units_path", ["path"], unique=False)
        batch_op.create_index(
            "uq_units_root_name",
            ["name"],
            unique=True,
            sqlite_where=sa.text("parent_id IS NULL"),
            postgresql_where=sa.text("parent_id IS NULL"),
        )

    op.create_table(
        "invite_codes",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("unit_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("uses", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.CheckConstraint(
            "role IN ('student', 'teacher', 'parent')", name=op.f("ck_invite_codes_role")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["units.id"],
            name=op.f("fk_invite_codes_unit_id_units"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_invite_codes")),
    )
    with op.batch_alter_table("invite_codes", schema=None) as batch_op:
        batch_op.create_index("ix_invite_codes_unit_id", ["unit_id"], unique=False)

    op.create_table(
        "participants",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "telegram_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("display_name", sa.String(length=64), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=True),
        sa.Column("unit_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("subscribed", sa.Boolean(), nullable=False),
        sa.Column("blocked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role IS NULL OR role IN ('student', 'teacher', 'parent')",
            name=op.f("ck_participants_role"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["units.id"],
            name=op.f("fk_participants_unit_id_units"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participants")),
        sa.UniqueConstraint("telegram_id", name=op.f("uq_participants_telegram_id")),
    )
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.create_index("ix_participants_unit_id", ["unit_id"], unique=False)

    op.create_table(
        "grants",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "participant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("unit_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "granted_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind = 'admin' OR unit_id IS NOT NULL", name=op.f("ck_grants_coordinator_unit")
        ),
        sa.CheckConstraint("kind IN ('admin', 'coordinator')", name=op.f("ck_grants_kind")),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_grants_participant_id_participants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_grants_unit_id_units"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grants")),
        sa.UniqueConstraint(
            "participant_id", "kind", "unit_id", name=op.f("uq_grants_participant_id_kind_unit_id")
        ),
    )
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_grants_participant_id"), ["participant_id"], unique=False
        )
        batch_op.create_index(
            "uq_grants_admin",
            ["participant_id"],
            unique=True,
            sqlite_where=sa.text("kind = 'admin'"),
            postgresql_where=sa.text("kind = 'admin'"),
        )


def downgrade() -> None:

    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_grants_admin",
            sqlite_where=sa.text("kind = 'admin'"),
            postgresql_where=sa.text("kind = 'admin'"),
        )
        batch_op.drop_index(batch_op.f("ix_grants_participant_id"))

    op.drop_table("grants")
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.drop_index("ix_participants_unit_id")

    op.drop_table("participants")
    with op.batch_alter_table("invite_codes", schema=None) as batch_op:
        batch_op.drop_index("ix_invite_codes_unit_id")

    op.drop_table("invite_codes")
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_units_root_name",
            sqlite_where=sa.text("parent_id IS NULL"),
            postgresql_where=sa.text("parent_id IS NULL"),
        )
        batch_op.drop_index("ix_units_path")

    op.drop_table("units")
