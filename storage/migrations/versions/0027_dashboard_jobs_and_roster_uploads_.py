"""dashboard jobs and roster uploads; reports compiled on the web

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 08:09:37.775884
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
# report_versions (its trigger rule, and the jobs' link to a version) is on 0007's branch.
depends_on: str | Sequence[str] | None = "0007"

TRIGGERS_BEFORE = "trigger IN ('scheduled', 'chat', 'cli')"
TRIGGERS_AFTER = "trigger IN ('scheduled', 'chat', 'cli', 'web')"


def upgrade() -> None:
    op.create_table(
        "roster_uploads",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "uploaded_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["uploaded_by"],
            ["participants.id"],
            name=op.f("fk_roster_uploads_uploaded_by_participants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roster_uploads")),
    )
    with op.batch_alter_table("roster_uploads", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_roster_uploads_uploaded_by"), ["uploaded_by"], unique=False
        )

    op.create_table(
        "dashboard_jobs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("running_key", sa.String(length=128), nullable=True),
        sa.Column(
            "requested_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "scope_unit_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("period_start", sa.Date(), nullable=True),
        sa.Column("period_end", sa.Date(), nullable=True),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("step", sa.String(length=128), nullable=False),
        sa.Column("done", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("total", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "upload_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('report', 'roster')", name=op.f("ck_dashboard_jobs_kind")),
        sa.CheckConstraint(
            "status IN ('running', 'done', 'failed')", name=op.f("ck_dashboard_jobs_status")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["participants.id"],
            name=op.f("fk_dashboard_jobs_requested_by_participants"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["scope_unit_id"],
            ["units.id"],
            name=op.f("fk_dashboard_jobs_scope_unit_id_units"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["upload_id"],
            ["roster_uploads.id"],
            name=op.f("fk_dashboard_jobs_upload_id_roster_uploads"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["report_versions.id"],
            name=op.f("fk_dashboard_jobs_version_id_report_versions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboard_jobs")),
        sa.UniqueConstraint("running_key", name=op.f("uq_dashboard_jobs_running_key")),
    )
    with op.batch_alter_table("dashboard_jobs", schema=None) as batch_op:
        batch_op.create_index("ix_dashboard_jobs_scope_unit_id", ["scope_unit_id"], unique=False)
    # A report compiled from the dashboard's page is kept as a version like the chat's.
    with op.batch_alter_table("report_versions", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_report_versions_trigger"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_report_versions_trigger"), TRIGGERS_AFTER)


def downgrade() -> None:
    # The versions compiled on the web read as the chat's, the door nearest to it.
    op.execute("UPDATE report_versions SET trigger = 'chat' WHERE trigger = 'web'")
    with op.batch_alter_table("report_versions", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_report_versions_trigger"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_report_versions_trigger"), TRIGGERS_BEFORE)
    with op.batch_alter_table("dashboard_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_dashboard_jobs_scope_unit_id")

    op.drop_table("dashboard_jobs")
    with op.batch_alter_table("roster_uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_roster_uploads_uploaded_by"))

    op.drop_table("roster_uploads")
