"""Simulated participants that register through invite links over the sandbox's HTTP API.

Shared by the demo, the end-to-end tests and the registration benchmark, so all three
exercise exactly what a student does: tap the link, give a name, get the welcome.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.sandbox.client import SandboxClient, SandboxError
from bot.views.registration import NameCb

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
    if "注册完成" not in (done[2].get("text") or ""):
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


# ------------------------------------------------------------------ quiz takers


class QuizBehaviour:
    """What a simulated participant does besides answering."""

    PLAIN = "plain"
    TIMES_OUT = "times_out"  # lets one question's time run out
    PRESSES_TWICE = "presses_twice"  # presses every answer twice at once
    RESUMES = "resumes"  # leaves midway and comes back with /quiz


@dataclass
class QuizRun:
    """What one simulated participant saw, counted from the chat alone."""

    telegram_id: int
    behaviour: str
    right: int = 0  # "✅" toasts
    timed_out: int = 0  # "⏰" notes seen; under load one can pass unseen during a resume
    second_presses_refused: int = 0
    result_text: str = ""

    @property
    def timed_out_in_result(self) -> int:
        """Questions the result lists as run out ("时间到，未作答")."""
        return self.result_text.count("你的答案：时间到，未作答")


async def _next_state(
    client: SandboxClient,
    chat: int,
    message: dict[str, Any],
    timeout: float,
    run: QuizRun,
    *,
    moved_on: bool = False,
) -> dict[str, Any]:
    """The quiz message after its next edit; a time-out note there counts a time-out.

    ``moved_on``: the button pressed was gone, so the edit that took it away may be the
    one already in hand (a time-out that landed while ticking options): no wait for more.
    """
    current = next(
        (m for m in await client.messages(chat) if m["message_id"] == message["message_id"]),
        message,
    )
    if current["edit_count"] == message["edit_count"] and not moved_on:
        current = await client.wait_for_edit(
            chat, message["message_id"], message["edit_count"], timeout
        )
    if "⏰" in (current.get("text") or ""):
        run.timed_out += 1
    return current


_SHOWN = re.compile(r"第 (\d+)/\d+ 题")


def _shown_seq(message: dict[str, Any]) -> int | None:
    """The question number a quiz message shows ("第 2/5 题")."""
    found = _SHOWN.search(message.get("text") or "")
    return int(found.group(1)) if found else None


def knowledge_of(questions: Iterable[Any]) -> dict[str, frozenset[str]]:
    """What a student who studied the bank knows: stem -> the right options' texts."""
    return {q.stem: frozenset(q.options[i] for i in q.correct) for q in questions}


def _known_letters(
    message: dict[str, Any], knowledge: Mapping[str, frozenset[str]] | None
) -> set[str]:
    """The letters a knowledgeable student would press, read off the question as shown."""
    if not knowledge:
        return set()
    text = message.get("text") or ""
    for stem, right in knowledge.items():
        if stem in text:
            letters = set()
            for line in text.splitlines():
                letter, _, option = line.partition(". ")
                if len(letter) == 1 and option in right:
                    letters.add(letter)
            return letters
    return set()


def _is_answer(data: str) -> bool:
    return data.startswith("a:")


async def _wait_for_button(
    client: SandboxClient,
    chat: int,
    after: int,
    wanted: Callable[[str], bool],
    timeout: float,
) -> dict[str, Any]:
    """The first message after the ``after``-th that carries a wanted button.

    Other messages may arrive in between (an announcement, say), as in a real chat.
    """
    seen = after
    while True:
        messages = await client.wait_for_messages(chat, seen + 1, timeout=timeout)
        for message in messages[after:]:
            if any(wanted(b["callback_data"]) for b in _buttons(message)):
                return message
        seen = len(messages)


def _buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The message's callback buttons (link buttons carry no data to press)."""
    markup = message.get("reply_markup") or {}
    rows = markup.get("inline_keyboard", [])
    return [button for row in rows for button in row if "callback_data" in button]


async def take_quiz(
    client: SandboxClient,
    telegram_id: int,
    campaign_id: int,
    behaviour: str,
    rng: random.Random,
    *,
    question_seconds: float,
    timeout: float = 60.0,
    knowledge: Mapping[str, frozenset[str]] | None = None,
    skill: float = 0.0,
) -> QuizRun:
    """Open /quiz, start the campaign, answer every question, read the result."""
    run = QuizRun(telegram_id, behaviour)
    chat = telegram_id
    before = len(await client.messages(chat))
    await client.send_text(chat, "/quiz")
    wanted = f"qz:{campaign_id}"
    listing = await _wait_for_button(client, chat, before, lambda data: data == wanted, timeout)
    count = len(await client.messages(chat))
    await client.press(chat, listing["message_id"], wanted)
    message = await _wait_for_button(client, chat, count, _is_answer, timeout)
    seq = 0
    timed_out_once = False
    resumed_once = False
    while True:
        seq += 1
        buttons = _buttons(message)
        if not buttons:  # finished: the result arrives as a message of its own
            break
        if behaviour == QuizBehaviour.TIMES_OUT and not timed_out_once:
            timed_out_once = True
            message = await _next_state(client, chat, message, question_seconds + 15, run)
            continue
        if behaviour == QuizBehaviour.RESUMES and not resumed_once and seq == 2:
            resumed_once = True
            left_at = _shown_seq(message)
            count = len(await client.messages(chat))
            await client.send_text(chat, "/quiz")
            listing = await _wait_for_button(
                client, chat, count, lambda data: data == wanted, timeout
            )
            count = len(await client.messages(chat))
            await client.press(chat, listing["message_id"], wanted)
            message = await _wait_for_button(client, chat, count, _is_answer, timeout)
            buttons = _buttons(message)
            # A slow resume: the question we left may have run out meanwhile.
            back_at = _shown_seq(message)
            if left_at is not None and back_at is not None and back_at > left_at:
                run.timed_out += back_at - left_at
        answers = [b for b in buttons if b["callback_data"].startswith("a:")]
        submit = [b for b in buttons if b["callback_data"].startswith("as:")]
        try:
            known = _known_letters(message, knowledge) if rng.random() < skill else None
            if submit:
                picks = [b for b in answers if b["text"][-1] in known] if known else []
                for button in picks or rng.sample(answers, rng.choice((1, 2))):
                    edits = message["edit_count"]
                    await client.press(chat, message["message_id"], button["callback_data"])
                    message = await client.wait_for_edit(
                        chat, message["message_id"], edits, timeout
                    )
                final = submit[0]["callback_data"]
            else:
                picks = [b for b in answers if b["text"][-1] in known] if known else []
                final = (picks[0] if picks else rng.choice(answers))["callback_data"]
            presses = 2 if behaviour == QuizBehaviour.PRESSES_TWICE else 1
            queries = await asyncio.gather(
                *(client.press(chat, message["message_id"], final) for _ in range(presses))
            )
        except SandboxError:
            # The question moved on under our finger: its time ran out while we chose.
            message = await _next_state(client, chat, message, timeout, run, moved_on=True)
            continue
        toasts = [
            (await client.wait_for_callback_answer(query, timeout)) or {} for query in queries
        ]
        texts = [str(t.get("text") or "") for t in toasts]
        run.right += sum("✅" in text for text in texts)
        run.second_presses_refused += sum("已经记录" in text or "过去了" in text for text in texts)
        message = await _next_state(client, chat, message, timeout, run)
    # The result may come after other messages queued for the chat (an announcement, say).
    messages = await client.messages(chat)
    async with asyncio.timeout(timeout):
        while not _result_in(messages):
            messages = await client.wait_for_messages(chat, len(messages) + 1, timeout)
    run.result_text = _result_in(messages)
    return run


def _result_in(messages: list[dict[str, Any]]) -> str:
    return next(
        (m.get("text") or "" for m in reversed(messages) if "答题完成" in (m.get("text") or "")),
        "",
    )
