"""``pufa run`` stops in order on SIGTERM (what systemctl and docker send), as on Ctrl+C."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from bot.app import until_stopped


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_a_stop_signal_ends_the_wait_and_leaves_the_default_handler(signum: int) -> None:
    waiting = asyncio.create_task(until_stopped())
    await asyncio.sleep(0)  # the handlers are in place once the task has started
    assert not waiting.done()
    os.kill(os.getpid(), signum)
    await asyncio.wait_for(waiting, 5)  # returns, rather than the process being killed
    assert signal.getsignal(signum) in (signal.SIG_DFL, signal.default_int_handler)
