"""What the figures say needs attention: the data behind the report's drafted
二、存在的问题 and 三、下一步工作打算.

Each finding is a fact from the statistics (never a judgement the figures cannot
support); the template words it, and the editor keeps, rewrites or drops it.
"""

from __future__ import annotations

from dataclasses import dataclass

from quizzes.statistics import Statistics

# Below these the report names the gap (a bureau's usual expectations; change freely).
REGISTRATION_TARGET = 0.8
READ_TARGET = 0.5
NAMED_AT_MOST = 5  # schools named in one sentence; the rest are counted


@dataclass(frozen=True, slots=True)
class Findings:
    registration_rate: float | None = None  # set when below the target
    uneven: bool = False  # some schools stand out downwards, or have not started
    read_rate: float | None = None  # reads ÷ deliveries, set when below the target
    without_activity: tuple[str, ...] = ()  # schools with no confirmed offline activity
    without_vice_principal: tuple[str, ...] = ()
    pending: int = 0  # schools' entries awaiting the bureau

    @property
    def any(self) -> bool:
        return bool(
            self.registration_rate is not None
            or self.uneven
            or self.read_rate is not None
            or self.without_activity
            or self.without_vice_principal
            or self.pending
        )


def findings_of(stats: Statistics) -> Findings:
    total = stats.total
    registration = total.registration_rate
    read_rate = total.reads / total.deliveries if total.deliveries else None
    activities = stats.activities
    without_activity: tuple[str, ...] = ()
    without_vice_principal: tuple[str, ...] = ()
    if activities.recorded and len(stats.schools) > 1:
        without_activity = tuple(
            s.name for s in stats.schools if activities.of_school(s.unit_id)[0] == 0
        )
        without_vice_principal = tuple(
            s.name for s in stats.schools if s.unit_id not in activities.with_vice_principal
        )
    return Findings(
        registration_rate=(
            registration
            if registration is not None and registration < REGISTRATION_TARGET
            else None
        ),
        uneven=bool(stats.lowest(3) or stats.not_started()),
        read_rate=read_rate if read_rate is not None and read_rate < READ_TARGET else None,
        without_activity=without_activity,
        without_vice_principal=without_vice_principal,
        pending=activities.pending,
    )
