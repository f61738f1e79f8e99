"""themes on articles and campaigns

Articles and quiz campaigns carry a theme (a ``quizzes.themes.Theme`` value), as
activities do, so that the report counts them per theme. Existing rows get one by
these rules (frozen here as they were when this migration was written):

- a campaign takes the theme of its question banks when they all have the same one,
  else ``other`` (其他). A bundled bank's theme is known by its file name (宪法,
  民法典, 国家安全, 禁毒, 未成年人保护 for both minors protection and delinquency
  prevention, 防诈骗 for the bullying and fraud bank: 30 of its 39 questions rest on the
  anti-fraud law); another bank's is the one theme its name names, if exactly one;
- an article is ``other``, except an online lecture's announcement, reminder or
  cancellation notice: its lecture's theme, and lectures carry none yet, so 宪法 (the
  theme of the bureau's 网络公开课); a reminder to read an article takes that article's.

Revision ID: 0031
Revises: 0029
Create Date: 2026-12-07 10:50:00.000000
"""

import json
from collections.abc import Sequence
from pathlib import PurePath

import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BUNDLED = {
    "constitution.zh.yaml": "constitution",
    "civil_code.zh.yaml": "civil_code",
    "national_security.zh.yaml": "national_security",
    "anti_drug.zh.yaml": "anti_drug",
    "minors_protection.zh.yaml": "minors",
    "delinquency_prevention.zh.yaml": "minors",
    "bullying_fraud.zh.yaml": "anti_fraud",
}
_NAME_WORDS = {
    "constitution": ("宪法",),
    "civil_code": ("民法典",),
    "national_security": ("国家安全",),
    "anti_drug": ("禁毒", "毒品"),
    "anti_bullying": ("欺凌",),
    "anti_fraud": ("诈骗", "反诈"),
    "minors": ("未成年人",),
}


def _bank_theme(name: str, source_filename: str) -> str | None:
    bundled = _BUNDLED.get(PurePath(source_filename or "").name)
    if bundled is not None:
        return bundled
    named = {theme for theme, words in _NAME_WORDS.items() if any(w in name for w in words)}
    return named.pop() if len(named) == 1 else None


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch_op:
        batch_op.add_column(
            sa.Column("theme", sa.String(length=40), server_default="other", nullable=False)
        )
    with op.batch_alter_table("campaigns") as batch_op:
        batch_op.add_column(
            sa.Column("theme", sa.String(length=40), server_default="other", nullable=False)
        )
    op.execute("UPDATE articles SET theme = 'constitution' WHERE lecture_id IS NOT NULL")
    op.execute(
        "UPDATE articles SET theme = (SELECT original.theme FROM articles AS original"
        " WHERE original.id = articles.reminder_of) WHERE reminder_of IS NOT NULL"
    )
    connection = op.get_bind()
    banks = {
        bank_id: _bank_theme(name, source_filename)
        for bank_id, name, source_filename in connection.execute(
            sa.text("SELECT id, name, source_filename FROM question_banks")
        )
    }
    for campaign_id, bank_ids in connection.execute(sa.text("SELECT id, bank_ids FROM campaigns")):
        ids = json.loads(bank_ids) if isinstance(bank_ids, str) else (bank_ids or [])
        themes = {banks.get(bank_id) for bank_id in ids}
        theme = themes.pop() if len(themes) == 1 else None
        if theme is not None:
            connection.execute(
                sa.text("UPDATE campaigns SET theme = :theme WHERE id = :id"),
                {"theme": theme, "id": campaign_id},
            )


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch_op:
        batch_op.drop_column("theme")
    with op.batch_alter_table("articles") as batch_op:
        batch_op.drop_column("theme")
