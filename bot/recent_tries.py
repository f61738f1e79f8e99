"""Counting recent tries of a recovery code, so that guessing one takes forever: the
participant pages count them per client address, the chat's ``/link`` per person."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

RECOVERY_TRIES = 5  # per key and minute


@dataclass
class Tries:
    """Recent tries per key (an address, a person) in a sliding minute, in this process."""

    limit: int
    window_s: float = 60.0
    now: Callable[[], float] = time.monotonic
    seen: dict[str, deque[float]] = field(default_factory=dict)

    def allow(self, key: str) -> bool:
        now = self.now()
        recent = self.seen.setdefault(key, deque())
        while recent and now - recent[0] >= self.window_s:
            recent.popleft()
        if len(recent) >= self.limit:
            return False
        recent.append(now)
        if len(self.seen) > 10_000:  # forget the quiet ones rather than grow without end
            self.seen = {k: v for k, v in self.seen.items() if v and now - v[-1] < self.window_s}
        return True
