"""The unit tree as text, for ``pufa units list`` and the demo."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import default_translator
from quizzes.units import Unit
from storage.repositories import Repositories


async def unit_tree_lines(session: AsyncSession, locale: str | None = None) -> list[str]:
    repo = Repositories.over(session)
    _ = default_translator().bind(locale).plain
    registered = await repo.participants.count_registered_by_school()
    lines: list[str] = []

    async def walk(unit: Unit, depth: int) -> None:
        lines.append(
            _(
                "units.tree.retired_line" if unit.retired else "units.tree.line",
                indent="  " * depth,
                name=unit.name,
                kind=_(f"units.kind.{unit.kind.value}"),
                students=unit.students_enrolled,
                teachers=unit.teachers_enrolled,
                registered=registered.get(unit.id, "-"),
            )
        )
        for child in await repo.units.children(unit.id, retired=True):
            await walk(child, depth + 1)

    for root in await repo.units.roots():
        await walk(root, 0)
    return lines
