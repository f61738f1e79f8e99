"""Pacing sends under Telegram's limits, shared by everything one bot process sends in bulk.

One limiter per process (``ServiceContext.limiter``): article broadcasts and campaign
announcements running at the same time share the global rate instead of adding up.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable


class SendLimiter:
    """Paces requests for all workers: ``rate`` per second overall, ``per_chat_s`` between
    two messages to one chat, ``group_per_minute`` to one group; :meth:`hold` stops
    everyone (a 429's ``retry_after``).

    Slots are reserved in order, ``1/rate`` apart, so any number of workers together
    never exceed the rate, and a late wake-up does not shift the slots after it.
    """

    def __init__(
        self,
        rate: float,
        *,
        per_chat_s: float = 1.0,
        group_per_minute: int = 20,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = 1.0 / rate
        self.per_chat_s = per_chat_s
        self.group_per_minute = group_per_minute
        self.clock = clock
        self._next = 0.0
        self._hold_until = 0.0
        self._holds = 0
        self._chat_last: dict[int, float] = {}
        self._group_sends: dict[int, deque[float]] = {}
        self._marks = 0

    @property
    def held_until(self) -> float:
        return self._hold_until

    def hold(self, seconds: float) -> None:
        until = self.clock() + seconds
        if until > self._hold_until:
            self._hold_until = until
            self._holds += 1
        self._next = max(self._next, self._hold_until)

    def _chat_ready(self, chat_id: int, now: float) -> float:
        ready = self._chat_last.get(chat_id, -1e9) + self.per_chat_s
        if chat_id < 0:
            sends = self._group_sends.get(chat_id)
            if sends:
                while sends and sends[0] <= now - 60.0:
                    sends.popleft()
                if len(sends) >= self.group_per_minute:
                    ready = max(ready, sends[0] + 60.0)
        return ready

    def _mark(self, chat_id: int, now: float) -> None:
        self._chat_last[chat_id] = now
        if chat_id < 0:
            self._group_sends.setdefault(chat_id, deque()).append(now)
        self._marks += 1
        if self._marks % 4096 == 0:
            horizon = now - max(self.per_chat_s, 60.0)
            for key in [k for k, at in self._chat_last.items() if at < horizon]:
                del self._chat_last[key]
                self._group_sends.pop(key, None)

    async def acquire(self, chat_id: int) -> None:
        """Wait for a slot to send one message to ``chat_id``."""
        while True:
            now = self.clock()
            ready = self._chat_ready(chat_id, now)
            if ready > now:
                await asyncio.sleep(ready - now)
                continue
            slot = max(now, self._next, self._hold_until)
            self._next = slot + self.interval
            holds = self._holds
            if slot > now:
                await asyncio.sleep(slot - now)
            now = self.clock()
            if self._holds != holds and now < self._hold_until:
                continue  # a 429 came in while we waited: queue up behind it
            if self._chat_ready(chat_id, now) > now:
                continue  # another worker took this chat meanwhile
            self._mark(chat_id, now)
            return
