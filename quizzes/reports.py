"""Compiled report versions: what was compiled, for which scope and period, and how."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from quizzes.statistics import Period


class Trigger(StrEnum):
    SCHEDULED = "scheduled"
    CHAT = "chat"
    CLI = "cli"
    WEB = "web"  # compiled from the dashboard's reports page


@dataclass(frozen=True, slots=True)
class ReportVersion:
    id: int
    scope_unit_id: int
    scope_name: str
    period: Period
    locale: str
    trigger: Trigger
    compiled_by: int | None
    compiled_at: datetime


@dataclass(frozen=True, slots=True)
class Recipient:
    telegram_id: int
    locale: str
