"""report versions

Revision ID: 0007
Revises: 0001
Create Date: 2026-11-29 22:06:26.972556
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "report_versions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "scope_unit_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("scope_name", sa.String(length=128), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column(
            "compiled_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("compiled_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "trigger IN ('scheduled', 'chat', 'cli')", name=op.f("ck_report_versions_trigger")
        ),
        sa.CheckConstraint("period_end >= period_start", name=op.f("ck_report_versions_period")),
        sa.ForeignKeyConstraint(
            ["scope_unit_id"],
            ["units.id"],
            name=op.f("fk_report_versions_scope_unit_id_units"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_versions")),
    )
    with op.batch_alter_table("report_versions", schema=None) as batch_op:
        batch_op.create_index("ix_report_versions_compiled_at", ["compiled_at"], unique=False)
        batch_op.create_index("ix_report_versions_scope_unit_id", ["scope_unit_id"], unique=False)

    op.create_table(
        "report_files",
        sa.Column(
            "version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["report_versions.id"],
            name=op.f("fk_report_files_version_id_report_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("version_id", "name", name=op.f("pk_report_files")),
    )


def downgrade() -> None:
    op.drop_table("report_files")
    with op.batch_alter_table("report_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_report_versions_scope_unit_id")
        batch_op.drop_index("ix_report_versions_compiled_at")

    op.drop_table("report_versions")
