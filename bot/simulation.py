"""Simulated participants that register through invite links over the sandbox's HTTP API.

Shared by the demo, the end-to-end tests and the registration benchmark, so all three
exercise exactly what a student does: tap the link, give a name, get the welcome.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.sandbox.client import SandboxClient
from handlers.keyboards import NameCb

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶"
GIVEN = "浩然子涵欣怡梓萱宇轩一诺雨桐俊杰思远佳琪明轩嘉怡晨曦天佑诗涵博文雅婷志强晓东"


@dataclass(frozen=True, slots=True)
class SimulatedParticipant:
    telegram_id: int
    first_name: str
    code: str
    school_id: int
    types_name: bool  # half type a name, half take the Telegram name with the button


def chinese_name(rng: random.Random) -> str:
    given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
    return rng.choice(SURNAMES) + given


def plan_participants(
    invites: Sequence[tuple[str, int]], count: int, *, first_id: int = 7_000_000_000, seed: int = 7
) -> list[SimulatedParticipant]:
    """``count`` participants spread over ``invites`` (code, school id), reproducibly."""
    rng = random.Random(seed)
    people = []
    for index in range(count):
        code, school_id = (
            invites[index % len(invites)] if index < len(invites) else rng.choice(invites)
        )
        people.append(
            SimulatedParticipant(
                telegram_id=first_id + index,
                first_name=chinese_name(rng),
                code=code,
                school_id=school_id,
                types_name=rng.random() < 0.5,
            )
        )
    return people


async def register(client: SandboxClient, person: SimulatedParticipant, timeout: float) -> float:
    """Tap the invite link and answer the name question; seconds until the welcome arrived."""
    started = time.perf_counter()
    chat = person.telegram_id
    await client.send_text(chat, f"/start {person.code}", first_name=person.first_name)
    asked = await client.wait_for_messages(chat, 2, timeout=timeout)
    if person.types_name:
        await client.send_text(chat, person.first_name + "同学", first_name=person.first_name)
    else:
        await client.press(chat, asked[1]["message_id"], NameCb().pack())
    done = await client.wait_for_messages(chat, 3, timeout=timeout)
    if "登记完成" not in (done[2].get("text") or ""):
        raise RuntimeError(f"participant {chat} did not finish: {done[2].get('text')!r}")
    return time.perf_counter() - started


async def register_all(
    client: SandboxClient,
    people: Sequence[SimulatedParticipant],
    *,
    concurrency: int = 25,
    timeout: float = 60.0,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[float]:
    """Register everyone, ``concurrency`` at a time; returns each registration's latency."""
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(person: SimulatedParticipant) -> None:
        async with gate:
            latencies.append(await register(client, person, timeout))
        if on_progress is not None:
            on_progress(len(latencies), len(people))

    await asyncio.gather(*(one(person) for person in people))
    return latencies


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]
