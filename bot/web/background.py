"""Work a dashboard request starts and does not wait for (a report compiling, a roster
importing): kept as tasks of the web app, so that none is dropped half-way by the garbage
collector, and cancelled when the app shuts down (the job's row then goes stale, and the
same work may be started again)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)


class Background:
    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[None]] = set()

    def start(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background work failed", exc_info=task.exception())

    async def wait(self) -> None:
        """Until every task started so far (and any they start) has ended."""
        while self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)

    async def close(self, _app: web.Application | None = None) -> None:
        for task in list(self.tasks):
            task.cancel()
        await self.wait()


BACKGROUND = web.AppKey("dashboard_background", Background)


def background_of(app: web.Application) -> Background:
    """The app's one :class:`Background`, made (and closed with the app) on first use,
    which is when the routes that use it are added."""
    if BACKGROUND not in app:
        app[BACKGROUND] = Background()
        app.on_cleanup.append(app[BACKGROUND].close)
    return app[BACKGROUND]
