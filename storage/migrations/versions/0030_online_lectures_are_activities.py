"""online lectures are activities of the kind online_lecture

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 11:00:00.000000

Every lecture gets its activity, as scheduling one makes it from now on:

- kind ``online_lecture``, theme 宪法 (no lecture had a theme before), title and speaker
  the lecture's (cut to the activity's lengths), held on the day it starts in the
  bureau's time zone (``PUFA_TIMEZONE`` from the environment or ``.env``, as the bot's
  settings read it; Asia/Shanghai by default);
- organised by the lowest unit whose subtree holds its whole audience, or by the first
  root unit for an audience of everyone (a database without any unit leaves it without
  one, as scheduling does);
- status confirmed (only staff schedule a lecture, and its attendance is the bot's own
  check-ins: nothing for the bureau to confirm), or cancelled for a cancelled lecture;
  recorded and confirmed by whoever scheduled it, when they have a participant row, at
  the time it was scheduled; source ``lecture``.

The check-ins stay in ``lecture_checkins``: they are the activity's participation
records, and the report counts them as before.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op
from pydantic_settings import BaseSettings, SettingsConfigDict

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# The tables as this revision knows them (the models may change later).
units = sa.table(
    "units", sa.column("id", BigId), sa.column("parent_id", BigId), sa.column("path", sa.String)
)
participants = sa.table("participants", sa.column("id", BigId), sa.column("telegram_id", BigId))
lectures = sa.table(
    "lectures",
    sa.column("id", BigId),
    sa.column("title", sa.String),
    sa.column("speaker", sa.String),
    sa.column("starts_at", sa.DateTime(timezone=True)),
    sa.column("audience", sa.JSON),
    sa.column("created_by", BigId),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("status", sa.String),
    sa.column("activity_id", BigId),
)
activities = sa.table(
    "activities",
    sa.column("id", BigId),
    sa.column("kind", sa.String),
    sa.column("theme", sa.String),
    sa.column("held_on", sa.Date),
    sa.column("title", sa.String),
    sa.column("unit_id", BigId),
    sa.column("students", BigId),
    sa.column("teachers", BigId),
    sa.column("parents", BigId),
    sa.column("speaker", sa.String),
    sa.column("speaker_organisation", sa.String),
    sa.column("status", sa.String),
    sa.column("source", sa.String),
    sa.column("recorded_by", BigId),
    sa.column("recorded_at", sa.DateTime(timezone=True)),
    sa.column("reviewed_by", BigId),
    sa.column("reviewed_at", sa.DateTime(timezone=True)),
    sa.column("review_note", sa.String),
)

TITLE, SPEAKER = 200, 80  # activities.title, activities.speaker


class _Zone(BaseSettings):
    """The time zone setting alone, read as :class:`bot.config.Settings` reads it (the
    environment, then ``.env``), without the rest of the settings the bot needs."""

    model_config = SettingsConfigDict(
        env_prefix="PUFA_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )
    timezone: str = "Asia/Shanghai"


def _organiser(audience: object, paths: dict[int, str], roots: list[int]) -> int | None:
    """As :func:`quizzes.activities.lecture_organiser` decides it."""
    unit_ids = (audience.get("units") or []) if isinstance(audience, dict) else []
    chains = [
        [int(part) for part in paths[int(u)].strip("/").split("/") if part]
        for u in unit_ids
        if int(u) in paths
    ]
    chains = [chain for chain in chains if chain]
    if chains:
        common = chains[0]
        for chain in chains[1:]:
            length = 0
            while length < min(len(common), len(chain)) and common[length] == chain[length]:
                length += 1
            common = common[:length]
        if common:
            return common[-1]
    return min(roots) if roots else None


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def upgrade() -> None:
    with op.batch_alter_table("lectures") as batch_op:
        batch_op.add_column(sa.Column("activity_id", BigId, nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_lectures_activity_id_activities"),
            "activities",
            ["activity_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_unique_constraint(batch_op.f("uq_lectures_activity_id"), ["activity_id"])

    connection = op.get_bind()
    zone = ZoneInfo(_Zone().timezone or "Asia/Shanghai")
    paths = {int(i): str(p) for i, p in connection.execute(sa.select(units.c.id, units.c.path))}
    roots = sorted(
        int(i)
        for (i,) in connection.execute(sa.select(units.c.id).where(units.c.parent_id.is_(None)))
    )
    people = {
        int(t): int(i)
        for i, t in connection.execute(
            sa.select(participants.c.id, participants.c.telegram_id).where(
                participants.c.telegram_id.is_not(None)
            )
        )
    }
    taken = {
        (int(u), d, k, t)
        for u, d, k, t in connection.execute(
            sa.select(
                activities.c.unit_id, activities.c.held_on, activities.c.kind, activities.c.title
            )
        )
    }
    rows = connection.execute(
        sa.select(
            lectures.c.id,
            lectures.c.title,
            lectures.c.speaker,
            lectures.c.starts_at,
            lectures.c.audience,
            lectures.c.created_by,
            lectures.c.created_at,
            lectures.c.status,
        ).order_by(lectures.c.id)
    ).all()
    for lecture_id, title, speaker, starts_at, audience, created_by, created_at, status in rows:
        organiser = _organiser(audience, paths, roots)
        if organiser is None:
            continue
        local = _aware(starts_at).astimezone(zone)
        held_on = local.date()
        tries = [
            title[: TITLE - len(suffix)] + suffix
            for suffix in ("", f"（{local:%H:%M}）", f"（#{lecture_id}）")
        ]
        chosen = next(t for t in tries if (organiser, held_on, "online_lecture", t) not in taken)
        taken.add((organiser, held_on, "online_lecture", chosen))
        recorder = people.get(int(created_by)) if created_by else None
        activity_id = connection.execute(
            activities.insert()
            .values(
                kind="online_lecture",
                theme="constitution",
                held_on=held_on,
                title=chosen,
                unit_id=organiser,
                students=0,
                teachers=0,
                parents=0,
                speaker=(speaker or "")[:SPEAKER],
                speaker_organisation="",
                status="cancelled" if status == "cancelled" else "confirmed",
                source="lecture",
                recorded_by=recorder,
                recorded_at=created_at,
                reviewed_by=recorder,
                reviewed_at=created_at,
                review_note="",
            )
            .returning(activities.c.id)
        ).scalar_one()
        connection.execute(
            lectures.update().where(lectures.c.id == lecture_id).values(activity_id=activity_id)
        )


def downgrade() -> None:
    # The column goes first: on PostgreSQL deleting the activities would otherwise take
    # their lectures with them (ON DELETE CASCADE).
    with op.batch_alter_table("lectures") as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_lectures_activity_id"), type_="unique")
        batch_op.drop_constraint(
            batch_op.f("fk_lectures_activity_id_activities"), type_="foreignkey"
        )
        batch_op.drop_column("activity_id")
    op.execute(activities.delete().where(activities.c.kind == "online_lecture"))
