"""deleting an activity keeps its lecture

Revision ID: 0032
Revises: 0030
Create Date: 2026-12-07 11:40:00.000000

``lectures.activity_id`` was ``ON DELETE CASCADE``: deleting a lecture's activity, or a
unit (whose activities go with it), would have deleted the lecture and its check-ins,
figures the report has counted. The lecture now stays, without its activity
(``SET NULL``), as one scheduled while the roster held no unit does.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0032"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FK = "fk_lectures_activity_id_activities"


def _on_delete(action: str) -> None:
    with op.batch_alter_table("lectures") as batch_op:
        batch_op.drop_constraint(batch_op.f(FK), type_="foreignkey")
        batch_op.create_foreign_key(
            batch_op.f(FK), "activities", ["activity_id"], ["id"], ondelete=action
        )


def upgrade() -> None:
    _on_delete("SET NULL")


def downgrade() -> None:
    _on_delete("CASCADE")
