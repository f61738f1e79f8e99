"""publicity

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-29 22:44:13.881328
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lectures",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("speaker", sa.String(length=255), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("link", sa.String(length=2048), nullable=True),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column(
            "created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.CheckConstraint(
            "status IN ('scheduled', 'cancelled')", name=op.f("ck_lectures_status")
        ),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_lectures_window")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lectures")),
    )
    with op.batch_alter_table("lectures", schema=None) as batch_op:
        batch_op.create_index("ix_lectures_starts_at", ["starts_at"], unique=False)

    op.create_table(
        "articles",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("photo_file_id", sa.String(length=255), nullable=True),
        sa.Column("photo_bytes", sa.LargeBinary(), nullable=True),
        sa.Column("link", sa.String(length=2048), nullable=True),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column(
            "author_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("publish_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("link_secret", sa.String(length=64), nullable=False),
        sa.Column(
            "lecture_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'scheduled', 'published', 'cancelled')",
            name=op.f("ck_articles_status"),
        ),
        sa.ForeignKeyConstraint(
            ["lecture_id"],
            ["lectures.id"],
            name=op.f("fk_articles_lecture_id_lectures"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_articles")),
    )
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_articles_lecture_id"), ["lecture_id"], unique=False)
        batch_op.create_index(
            "ix_articles_status_publish_at", ["status", "publish_at"], unique=False
        )

    op.create_table(
        "article_reads",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "article_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "participant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_article_reads_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_article_reads_participant_id_participants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article_reads")),
        sa.UniqueConstraint(
            "article_id", "participant_id", name=op.f("uq_article_reads_article_id_participant_id")
        ),
    )
    with op.batch_alter_table("article_reads", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_article_reads_participant_id"), ["participant_id"], unique=False
        )

    op.create_table(
        "broadcasts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "article_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column(
            "created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("total", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("test_send", sa.Boolean(), nullable=False),
        sa.Column(
            "progress_chat_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "progress_message_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("progress_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('running', 'paused', 'cancelled', 'done')", name=op.f("ck_broadcasts_state")
        ),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_broadcasts_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcasts")),
    )
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.create_index("ix_broadcasts_article_id", ["article_id"], unique=False)
        batch_op.create_index("ix_broadcasts_state", ["state"], unique=False)

    op.create_table(
        "lecture_checkins",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "lecture_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "participant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lecture_id"],
            ["lectures.id"],
            name=op.f("fk_lecture_checkins_lecture_id_lectures"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_lecture_checkins_participant_id_participants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lecture_checkins")),
        sa.UniqueConstraint(
            "lecture_id",
            "participant_id",
            name=op.f("uq_lecture_checkins_lecture_id_participant_id"),
        ),
    )
    with op.batch_alter_table("lecture_checkins", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lecture_checkins_participant_id"), ["participant_id"], unique=False
        )

    op.create_table(
        "link_clicks",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "article_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "participant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("token", sa.String(length=96), nullable=False),
        sa.Column("clicks", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("clicked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_clicked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_link_clicks_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_link_clicks_participant_id_participants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_clicks")),
        sa.UniqueConstraint(
            "article_id", "participant_id", name=op.f("uq_link_clicks_article_id_participant_id")
        ),
    )
    with op.batch_alter_table("link_clicks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_link_clicks_participant_id"), ["participant_id"], unique=False
        )

    op.create_table(
        "deliveries",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "broadcast_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "participant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("chat_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("error", sa.String(length=255), nullable=True),
        sa.Column(
            "attempts", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'failed', 'blocked')",
            name=op.f("ck_deliveries_status"),
        ),
        sa.ForeignKeyConstraint(
            ["broadcast_id"],
            ["broadcasts.id"],
            name=op.f("fk_deliveries_broadcast_id_broadcasts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_deliveries_participant_id_participants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint(
            "broadcast_id",
            "participant_id",
            name=op.f("uq_deliveries_broadcast_id_participant_id"),
        ),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_deliveries_broadcast_id_status", ["broadcast_id", "status"], unique=False
        )
        batch_op.create_index("ix_deliveries_participant_id", ["participant_id"], unique=False)
        batch_op.create_index("ix_deliveries_status_id", ["status", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_status_id")
        batch_op.drop_index("ix_deliveries_participant_id")
        batch_op.drop_index("ix_deliveries_broadcast_id_status")

    op.drop_table("deliveries")
    with op.batch_alter_table("link_clicks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_link_clicks_participant_id"))

    op.drop_table("link_clicks")
    with op.batch_alter_table("lecture_checkins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lecture_checkins_participant_id"))

    op.drop_table("lecture_checkins")
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.drop_index("ix_broadcasts_state")
        batch_op.drop_index("ix_broadcasts_article_id")

    op.drop_table("broadcasts")
    with op.batch_alter_table("article_reads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_article_reads_participant_id"))

    op.drop_table("article_reads")
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_index("ix_articles_status_publish_at")
        batch_op.drop_index(batch_op.f("ix_articles_lecture_id"))

    op.drop_table("articles")
    with op.batch_alter_table("lectures", schema=None) as batch_op:
        batch_op.drop_index("ix_lectures_starts_at")

    op.drop_table("lectures")
