"""The scope of a breakdown: the rows (schools) a report is broken down by, and the map
from every unit of the scope to its row. Shared by every figure's query."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CTE, Select, Subquery, select, true

from quizzes.units import Unit, UnitKind
from storage.models import UnitRow

Query = Select[*tuple[Any, ...]]


class Scope:
    """The rows of a breakdown and the map from every unit in the scope to its row."""

    def __init__(self, unit: Unit) -> None:
        self.unit = unit
        rows = select(UnitRow.id, UnitRow.path)
        if unit.kind in (UnitKind.DIVISION, UnitKind.REGIMENT):
            rows = rows.where(
                UnitRow.kind == UnitKind.SCHOOL.value,
                UnitRow.path.startswith(unit.path, autoescape=False),
            )
        else:
            rows = rows.where(UnitRow.id == unit.id)
        self.rows: Subquery = rows.subquery("row_unit")
        member = UnitRow.__table__.alias("member")
        # unit_id -> row_id (NULL: in the scope but under no row unit). A few hundred rows.
        self.map: CTE = (
            select(member.c.id.label("unit_id"), self.rows.c.id.label("row_id"))
            .select_from(member)
            .outerjoin(self.rows, member.c.path.startswith(self.rows.c.path, autoescape=False))
            .where(member.c.path.startswith(unit.path, autoescape=False))
            .cte("unit_map")
            # Computed once per statement; inlined, SQLite would match every fact row
            # against every school's path.
            .prefix_with("MATERIALIZED")
        )

    def in_scope(self, unit_id: Any) -> Any:
        """``unit_id`` is a unit of the scope: narrows a per-unit count before the map
        is joined to it, so that a school's report does not count the whole tree first.
        Not needed for a root of the tree (the map's join drops other trees' units)."""
        if self.unit.parent_id is None:
            return true()
        return unit_id.in_(select(self.map.c.unit_id))

    def per_row(self, per_unit: Subquery, *columns: Any) -> Query:
        """``(row_id, *columns)`` of a query counted per unit (column ``unit_id``)."""
        return select(self.map.c.row_id, *columns).join(
            self.map, self.map.c.unit_id == per_unit.c.unit_id
        )
