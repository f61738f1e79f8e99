"""participants without Telegram: web identities and devices, telegram_id nullable

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 07:46:50.513128
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "web_devices",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("participant_id", BigId, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_web_devices_participant_id_participants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_devices")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_web_devices_token_hash")),
    )
    with op.batch_alter_table("web_devices", schema=None) as batch_op:
        batch_op.create_index("ix_web_devices_participant_id", ["participant_id"], unique=False)

    op.create_table(
        "web_identities",
        sa.Column("participant_id", BigId, nullable=False),
        sa.Column("recovery_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_web_identities_participant_id_participants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("participant_id", name=op.f("pk_web_identities")),
        sa.UniqueConstraint("recovery_hash", name=op.f("uq_web_identities_recovery_hash")),
    )
    # A web participant has no Telegram id, and their attempts no chat.
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.alter_column("telegram_id", existing_type=BigId, nullable=True)
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.alter_column("chat_id", existing_type=BigId, nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.alter_column("chat_id", existing_type=BigId, nullable=False)
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.alter_column("telegram_id", existing_type=BigId, nullable=False)

    op.drop_table("web_identities")
    with op.batch_alter_table("web_devices", schema=None) as batch_op:
        batch_op.drop_index("ix_web_devices_participant_id")

    op.drop_table("web_devices")
