"""Report versions and their files; who receives scheduled reports."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from quizzes.participants import GrantKind
from quizzes.reports import Recipient, ReportVersion, Trigger
from quizzes.statistics import Period
from quizzes.units import Unit
from storage.models import GrantRow, ParticipantRow
from storage.models_reports import ReportFileRow, ReportVersionRow


def _version(row: ReportVersionRow) -> ReportVersion:
    return ReportVersion(
        id=row.id,
        scope_unit_id=row.scope_unit_id,
        scope_name=row.scope_name,
        period=Period(row.period_start, row.period_end),
        locale=row.locale,
        trigger=Trigger(row.trigger),
        compiled_by=row.compiled_by,
        compiled_at=row.compiled_at,
    )


class ReportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def commit(self) -> None:
        await self.session.commit()

    async def save(
        self,
        scope: Unit,
        period: Period,
        *,
        locale: str,
        trigger: Trigger,
        compiled_by: int | None,
        compiled_at: datetime,
        files: Mapping[str, bytes],
    ) -> ReportVersion:
        row = ReportVersionRow(
            scope_unit_id=scope.id,
            scope_name=scope.name,
            period_start=period.start,
            period_end=period.end,
            locale=locale,
            trigger=trigger.value,
            compiled_by=compiled_by,
            compiled_at=compiled_at,
        )
        self.session.add(row)
        await self.session.flush()
        self.session.add_all(
            ReportFileRow(version_id=row.id, name=name, content=content)
            for name, content in files.items()
        )
        await self.session.flush()
        return _version(row)

    async def get(self, version_id: int) -> ReportVersion | None:
        row = await self.session.get(ReportVersionRow, version_id)
        return _version(row) if row else None

    async def latest(
        self, scope_unit_ids: Iterable[int] | None = None, limit: int = 10
    ) -> list[ReportVersion]:
        """The newest versions first; only those of ``scope_unit_ids`` when given."""
        query = select(ReportVersionRow)
        if scope_unit_ids is not None:
            query = query.where(ReportVersionRow.scope_unit_id.in_(list(scope_unit_ids)))
        query = query.order_by(ReportVersionRow.compiled_at.desc(), ReportVersionRow.id.desc())
        return [_version(row) for row in await self.session.scalars(query.limit(limit))]

    async def files(self, version_id: int, names: Iterable[str]) -> dict[str, bytes]:
        rows = await self.session.execute(
            select(ReportFileRow.name, ReportFileRow.content).where(
                ReportFileRow.version_id == version_id, ReportFileRow.name.in_(list(names))
            )
        )
        return {name: bytes(content) for name, content in rows}

    async def names(self, version_ids: Iterable[int]) -> dict[int, list[str]]:
        """The names of the files kept of each version (none read), in name order."""
        rows = await self.session.execute(
            select(ReportFileRow.version_id, ReportFileRow.name)
            .where(ReportFileRow.version_id.in_(list(version_ids)))
            .order_by(ReportFileRow.version_id, ReportFileRow.name)
        )
        found: dict[int, list[str]] = {}
        for version_id, name in rows:
            found.setdefault(version_id, []).append(name)
        return found

    async def admin_recipients(
        self, configured: Iterable[int], default_locale: str
    ) -> list[Recipient]:
        """Configured admins and granted admins, minus anyone who has blocked the bot.

        A configured admin who never wrote to the bot has no participant row; they get
        the report in the default language (Telegram refuses if they never started it).
        """
        configured = set(configured)
        granted = select(GrantRow.participant_id).where(GrantRow.kind == GrantKind.ADMIN.value)
        rows = await self.session.execute(
            select(ParticipantRow.telegram_id, ParticipantRow.locale, ParticipantRow.blocked_at)
            .where(ParticipantRow.telegram_id.in_(configured) | ParticipantRow.id.in_(granted))
            .where(ParticipantRow.telegram_id.is_not(None))  # no chat to send it to
            .order_by(ParticipantRow.telegram_id)
        )
        recipients: dict[int, Recipient] = {}
        known: set[int] = set()
        for telegram_id, locale, blocked_at in rows:
            if telegram_id is None:  # excluded above; this tells the type checker
                continue
            known.add(telegram_id)
            if blocked_at is None:
                recipients[telegram_id] = Recipient(telegram_id, locale)
        for telegram_id in sorted(configured - known):
            recipients[telegram_id] = Recipient(telegram_id, default_locale)
        return sorted(recipients.values(), key=lambda r: r.telegram_id)
