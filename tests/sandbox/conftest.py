from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.sandbox.config import SandboxConfig
from bot.sandbox.server import RunningSandbox, run_sandbox

# Limits loose enough that functional tests never meet them.
RELAXED = {"per_chat_burst": 1000, "global_burst": 10000, "group_per_minute": 10000}


def make_bot(running: RunningSandbox, token: str | None = None) -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(running.url))
    return Bot(token or running.config.token, session=session)


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    async with run_sandbox(SandboxConfig(**RELAXED)) as running:  # type: ignore[arg-type]
        yield running


@pytest.fixture
async def bot(sandbox: RunningSandbox) -> AsyncIterator[Bot]:
    tg = make_bot(sandbox)
    yield tg
    await tg.session.close()


SandboxFactory = Callable[..., AbstractAsyncContextManager[tuple[RunningSandbox, Bot]]]


@pytest.fixture
def sandbox_with() -> SandboxFactory:
    """``async with sandbox_with(per_chat_burst=2) as (running, bot): ...``"""

    @asynccontextmanager
    async def factory(**fields: Any) -> AsyncIterator[tuple[RunningSandbox, Bot]]:
        async with run_sandbox(SandboxConfig(**fields)) as running:
            tg = make_bot(running)
            try:
                yield running, tg
            finally:
                await tg.session.close()

    return factory
