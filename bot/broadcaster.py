"""The broadcaster: works the ``deliveries`` outbox at Telegram's pace, across restarts.

One :class:`Broadcaster` per bot process. Its loop claims batches of pending deliveries
of running broadcasts and hands them to a pool of ``PUFA_BROADCAST_CONCURRENCY`` workers;
every request first takes a slot from one shared :class:`SendLimiter`
(``PUFA_BROADCAST_RATE`` messages/s, 1/s per chat, 20/min per group).

What Telegram answers decides each delivery, and is written before the worker takes
another one (many answers share one write):

- accepted: ``sent`` with the message id;
- ``429``: every worker stops for ``retry_after`` seconds, then the same delivery is retried;
- ``403``: ``blocked``, and the participant's ``blocked_at`` is set;
- network errors and ``5xx``: retried with backoff a few times, then ``failed``;
- any other error: ``failed`` with Telegram's reason. One recipient never stops the rest.

Crash safety: a claim is ``status = 'sending'`` with ``claimed_by``/``claimed_at``. Live
processes renew their claims; a claim by a process that is gone (same host, pid not
running) or older than the lease goes back to ``pending``. So after a kill nobody is
skipped, and only the deliveries in flight at that moment (at most one per worker) can
be sent twice. The broadcaster uses a Bot of its own, without the retry middleware of the
handlers' Bot, so a 429 is waited out once, here, for everyone.

The channel: an article meant for it has one ``channel_posts`` row per broadcast, claimed
by the housekeeping loop the same way (a conditional ``UPDATE``, a lease, recovery) and
sent by a task of its own with the article's link button only. Its errors (the bot is no
admin there: 400/403) are recorded with Telegram's reason and shown in the progress
message; they never hold up the deliveries to people.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import Response, SendMessage, SendPhoto, TelegramMethod
from aiogram.types import BufferedInputFile, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import TELEGRAM_API_URL, Settings
from bot.i18n import Gettext, Translator
from bot.metrics import NO_METRICS, Metrics
from bot.pacing import SendLimiter
from bot.services import ServiceContext
from bot.views.publicity import (
    article_markup,
    channel_markup,
    control_keyboard,
    tracked_url,
)
from quizzes.permissions import Permissions
from quizzes.publicity import (
    Article,
    Audience,
    Broadcast,
    BroadcastAction,
    BroadcastState,
    ChannelPost,
    ControlResult,
    Delivery,
    DeliveryStatus,
    Outcome,
    Progress,
    channel_chat,
    eta_seconds,
    format_duration,
    may_control,
    next_state,
)
from storage.models import utcnow
from storage.publicity import SENDING_FIRST, PublicityRepository
from storage.repositories import UnitRepository

log = logging.getLogger(__name__)

# Only to name the method in an error, as aiogram's exceptions do.
_ERROR_METHODS: dict[str, type[TelegramMethod[Any]]] = {
    "sendMessage": SendMessage,
    "sendPhoto": SendPhoto,
}
# aiogram reads error answers with ``Response[Message]``, a generic model pydantic caches
# only weakly; holding it here spares rebuilding it (milliseconds) for every 403.
_RESPONSE_MODELS = (Response[Message],)
# A progress message refused for a passing reason (429, 5xx, network) is tried again at
# the next looks, this many times in all.
_REPORT_TRIES = 20


# ---------------------------------------------------------------------- claims


def new_claimer() -> str:
    """``host:pid:nonce``: who holds a claim, and a way to tell that it is gone."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(4)}"


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is dead too (Linux)
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def claimer_is_dead(claimer: str, me: str) -> bool:
    """True when ``claimer`` is certainly not running: an earlier life of this pid, or a
    process of this host that no longer exists. Other hosts are left to the lease."""
    try:
        host, pid_text, _nonce = claimer.rsplit(":", 2)
        my_host, my_pid_text, _my_nonce = me.rsplit(":", 2)
        pid, my_pid = int(pid_text), int(my_pid_text)
    except ValueError:
        return False
    if host != my_host:
        return False
    if pid == my_pid:
        return claimer != me
    return not _pid_running(pid)


# ---------------------------------------------------------------------- the service


@dataclass(frozen=True, slots=True)
class _Release:
    delivery: Delivery


@dataclass
class _Active:
    broadcast: Broadcast
    article: Article


class Broadcaster:
    """Sends every running broadcast; see the module docstring."""

    metrics: Metrics = NO_METRICS  # the bot app hands it the process's own

    def __init__(
        self,
        context: ServiceContext,
        *,
        bot: Bot | None = None,
        rate: float | None = None,
        concurrency: int | None = None,
        claimer: str | None = None,
        lease_s: float = 60.0,
        poll_s: float = 1.0,
        progress_every_s: float = 3.0,
        max_attempts: int = 4,
        backoff_s: float = 0.5,
        publish_fallback_s: float | None = 0.0,
    ) -> None:
        self.settings: Settings = context.settings
        self.session_factory: async_sessionmaker[AsyncSession] = context.session_factory
        self.translator: Translator = context.translator
        self.rate = rate or context.settings.broadcast_rate
        self.concurrency = concurrency or context.settings.broadcast_concurrency
        self.claimer = claimer or new_claimer()
        self.lease_s = lease_s
        self.poll_s = poll_s
        self.progress_every_s = progress_every_s
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        # Scheduled articles are published by a scheduler job when one runs (see
        # bot.publicity_jobs); this loop publishes those still waiting this long after
        # their time (None: never), so a job lost in a crash cannot strand an article.
        self.publish_fallback_s = publish_fallback_s
        self.batch = max(2 * self.concurrency, min(500, int(self.rate)))
        # An explicit rate (benchmarks, tests) paces this broadcaster alone.
        self.limiter = SendLimiter(self.rate) if rate else context.limiter
        self._bot = bot
        self._own_bot = bot is None
        self._queue: asyncio.Queue[Delivery | None] = asyncio.Queue()
        self._in_flight = 0
        self._active: dict[int, _Active] = {}
        self._states: dict[int, BroadcastState] = {}
        self._photo_locks: dict[int, asyncio.Lock] = {}
        self._file_ids: dict[int, str] = {}
        self._bodies: dict[tuple[int, str, str | None], tuple[str, str, str | None]] = {}
        self._outbox: list[tuple[Outcome | _Release, asyncio.Future[None]]] = []
        self._flush = asyncio.Event()
        self._wake = asyncio.Event()
        self._force_report: set[int] = set()
        self._report_again: set[int] = set()  # a progress message to try again
        self._report_tries: dict[int, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._channel_tasks: set[asyncio.Task[None]] = set()
        self._writer: asyncio.Task[None] | None = None
        self._last_recovery = -1e9
        self._drained_until = 0.0
        self._finishing = False
        self._last_report: dict[int, float] = {}
        self._stopping = False

    # ------------------------------------------------------------------ lifecycle

    @property
    def bot(self) -> Bot:
        if self._bot is None:
            settings = self.settings
            api = (
                TelegramAPIServer.from_base(settings.bot_api_url)
                if settings.bot_api_url != TELEGRAM_API_URL
                else None
            )
            session = (
                AiohttpSession(api=api, limit=self.concurrency + 4)
                if api
                else AiohttpSession(limit=self.concurrency + 4)
            )
            self._bot = Bot(
                settings.token,
                session=session,
                default=DefaultBotProperties(parse_mode=ParseMode.HTML),
            )
        return self._bot

    async def start(self) -> None:
        """Resume whatever was running (after a restart too) and keep sending."""
        if self._task is not None:
            return
        self._stopping = False
        self._writer = asyncio.create_task(self._write_loop(), name="broadcast-writer")
        self._workers = [
            asyncio.create_task(self._work(), name=f"broadcast-worker-{i}")
            for i in range(self.concurrency)
        ]
        self._task = asyncio.create_task(self._run(), name="broadcaster")

    async def stop(self) -> None:
        """Stop claiming, let requests in flight finish and record them, release the rest."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        try:  # let the loop finish what it is doing (a final progress edit, say)
            await asyncio.wait_for(asyncio.shield(self._task), timeout=5.0)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None
        queued: list[Delivery] = []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not None:
                queued.append(item)
                self._in_flight -= 1
        for _ in self._workers:
            self._queue.put_nowait(None)
        _done, pending = await asyncio.wait(self._workers, timeout=10.0)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        self._workers = []
        if self._channel_tasks:
            # A post cut short stays claimed; the next life of this process takes it back.
            _done, pending = await asyncio.wait(self._channel_tasks, timeout=10.0)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            self._channel_tasks.clear()
        for delivery in queued:
            self._outbox.append((_Release(delivery), asyncio.get_running_loop().create_future()))
        await self._write_pending()
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None
        if self._own_bot and self._bot is not None:
            await self._bot.session.close()
            self._bot = None

    def wake(self) -> None:
        """Look at the tables now (a broadcast was started or changed in this process)."""
        self._drained_until = 0.0
        self._wake.set()

    # ------------------------------------------------------------------ public API

    async def start_broadcast(
        self,
        article_id: int,
        *,
        created_by: int,
        locale: str,
        progress_chat_id: int | None,
        test_participant_id: int | None = None,
    ) -> Broadcast:
        """Write the broadcast and its deliveries in one transaction, then start sending."""
        async with self.session_factory() as session:
            repo = PublicityRepository(session)
            broadcast = await repo.start_broadcast(
                article_id,
                created_by=created_by,
                locale=locale,
                progress_chat_id=progress_chat_id,
                test_participant_id=test_participant_id,
                channel=self.settings.publicity_channel,
            )
            article = await repo.article(article_id)
            await repo.commit()
        if article is not None and self._task is not None:  # start sending right away
            self._active[broadcast.id] = _Active(broadcast, article)
            self._states[broadcast.id] = broadcast.state
        self._force_report.add(broadcast.id)
        self.wake()
        return broadcast

    async def control(
        self,
        broadcast_id: int,
        action: BroadcastAction,
        telegram_id: int,
        permissions: Permissions,
    ) -> ControlResult:
        """Pause, resume or cancel, for the broadcast's creator or an admin."""
        async with self.session_factory() as session:
            repo = PublicityRepository(session)
            broadcast = await repo.broadcast(broadcast_id)
            if broadcast is None:
                return ControlResult.NOT_FOUND
            article = await repo.article(broadcast.article_id)
            audience = article.audience if article is not None else Audience()
            units = await UnitRepository(session).by_ids(audience.unit_ids)
            if not may_control(broadcast, telegram_id, permissions, audience, units):
                return ControlResult.NOT_ALLOWED
            new = next_state(broadcast.state, action)
            if new is None or not await repo.set_state(
                broadcast_id, broadcast.state, new, utcnow()
            ):
                return ControlResult.STALE
            await repo.commit()
        self._states[broadcast_id] = new
        self._force_report.add(broadcast_id)
        self.wake()
        return ControlResult.DONE

    async def publish_overdue(self, now: datetime) -> None:
        """The fallback for a lost publishing job: articles due ``publish_fallback_s``
        ago are published, under the same rule as the job (beyond the scheduler's grace:
        missed, the author told)."""
        from bot.publicity_jobs import grace_of, publish_or_miss

        fallback = timedelta(seconds=self.publish_fallback_s or 0.0)
        for broadcast in await publish_or_miss(
            self.session_factory,
            self.bot,
            self.translator,
            self.settings,
            now,
            grace=grace_of(self.settings),
            due_before=now - fallback,
        ):
            log.info(
                "broadcaster: article %d is due, broadcast %d started",
                broadcast.article_id,
                broadcast.id,
            )
            self._force_report.add(broadcast.id)

    async def send_missed(self, article_id: int) -> Broadcast | None:
        """Send a missed article now (its author's or an admin's choice); ``None`` when
        it is not missed (any more)."""
        async with self.session_factory() as session:
            repo = PublicityRepository(session)
            broadcast = await repo.send_missed(
                article_id,
                utcnow(),
                self.settings.default_locale,
                channel=self.settings.publicity_channel,
            )
            await repo.commit()
        if broadcast is not None:
            self._force_report.add(broadcast.id)
            self.wake()
        return broadcast

    async def progress(self, broadcast_id: int) -> Progress:
        async with self.session_factory() as session:
            return await PublicityRepository(session).progress(broadcast_id)

    async def wait_until_finished(self, broadcast_id: int, timeout: float = 60.0) -> Broadcast:
        """For tests and the CLI: poll until the broadcast is done or cancelled."""
        async with asyncio.timeout(timeout):
            while True:
                async with self.session_factory() as session:
                    broadcast = await PublicityRepository(session).broadcast(broadcast_id)
                if broadcast is not None and broadcast.state.final:
                    return broadcast
                await asyncio.sleep(0.05)

    # ------------------------------------------------------------------ the loop

    async def _run(self) -> None:
        next_look = 0.0
        while not self._stopping:
            try:
                if (
                    self._running()
                    and self._queue.qsize() < self.concurrency
                    and time.monotonic() >= self._drained_until
                ):
                    claimed = await self._claim()
                    if claimed >= self.batch:
                        continue  # more is waiting: keep the queue fed
                    if claimed == 0:
                        # Nothing pending here: claim again at the next round, not at
                        # every answer; once the last answer is in, look at once (the
                        # broadcast may be finished).
                        self._drained_until = next_look
                        self._finishing = True
                if time.monotonic() >= next_look or self._force_report:
                    await self._look()
                    next_look = time.monotonic() + self.poll_s
                    continue  # it may have found broadcasts to claim from
                if self._finishing and self._in_flight == 0:
                    self._finishing = False
                    await self._look()
                    next_look = time.monotonic() + self.poll_s
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("broadcaster loop failed; retrying")
                await asyncio.sleep(1.0)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, next_look - time.monotonic())):
                    await self._wake.wait()
            self._wake.clear()

    def _running(self) -> bool:
        return any(state is BroadcastState.RUNNING for state in self._states.values())

    async def _look(self) -> None:
        """Housekeeping: recover lost claims, publish due articles, refresh states,
        finish completed broadcasts and edit progress messages."""
        now = utcnow()
        async with self.session_factory() as session:
            repo = PublicityRepository(session)
            if time.monotonic() - self._last_recovery >= self.lease_s / 4:
                await repo.renew(self.claimer, now)
                recovered = await repo.recover(
                    now, self.lease_s, lambda c: claimer_is_dead(c, self.claimer)
                )
                if recovered:
                    log.info(
                        "broadcaster: %d deliveries of a lost sender back to pending", recovered
                    )
                self._last_recovery = time.monotonic()
                await repo.commit()
        if self.publish_fallback_s is not None:
            await self.publish_overdue(now)
        async with self.session_factory() as session:
            repo = PublicityRepository(session)
            active = await repo.active_broadcasts()
            for broadcast in active:
                if broadcast.id not in self._active:
                    article = await repo.article(broadcast.article_id)
                    if article is None:
                        continue
                    self._active[broadcast.id] = _Active(broadcast, article)
                self._active[broadcast.id].broadcast = broadcast
            await repo.commit()
            posts: list[ChannelPost] = []
            if not self._stopping and any(b.state is BroadcastState.RUNNING for b in active):
                posts = await repo.claim_channel_posts(self.claimer, now)
                await repo.commit()
        for post in posts:
            task = asyncio.create_task(self._post_to_channel(post), name=f"channel-{post.id}")
            self._channel_tasks.add(task)
            task.add_done_callback(self._channel_tasks.discard)
        # Requests arriving from here on wait; reports to try again are forced.
        again, self._report_again = self._report_again, set()
        forced_now = set(self._force_report) | again
        current = {b.id for b in active}
        self._states = {b.id: b.state for b in active}
        finished = [bid for bid in list(self._active) if bid not in current]
        for broadcast in active:
            if broadcast.state is BroadcastState.RUNNING:
                async with self.session_factory() as session:
                    repo = PublicityRepository(session)
                    done = await repo.finish_if_complete(broadcast.id, utcnow())
                    await repo.commit()
                if done:
                    log.info("broadcaster: broadcast %d done", broadcast.id)
                    self._states.pop(broadcast.id, None)
                    finished.append(broadcast.id)
                    continue
            forced = broadcast.id in forced_now
            last = self._last_report.get(broadcast.id, -1e9)
            due = time.monotonic() - last >= self.progress_every_s
            if forced or (broadcast.state is BroadcastState.RUNNING and due):
                self._last_report[broadcast.id] = time.monotonic()
                await self._report(broadcast.id, force=forced)
        for broadcast_id in finished:
            await self._report(broadcast_id, force=True)
            self._active.pop(broadcast_id, None)
            self._last_report.pop(broadcast_id, None)
        for broadcast_id in sorted(again - current - set(finished)):
            await self._report(broadcast_id, force=True)  # finished at an earlier look
        if finished:
            sending = {active.article.id for active in self._active.values()}
            self._bodies = {k: v for k, v in self._bodies.items() if k[0] in sending}
        self._force_report -= forced_now

    async def _claim(self) -> int:
        async with self.session_factory() as session:
            repo = PublicityRepository(session)
            deliveries = await repo.claim(self.claimer, self.batch, utcnow())
            await repo.commit()
        if {d.broadcast_id for d in deliveries} - set(self._active):
            await self._look()  # started elsewhere since we last looked
        for delivery in deliveries:
            self._in_flight += 1
            self._queue.put_nowait(delivery)
        return len(deliveries)

    # ------------------------------------------------------------------ workers

    async def _work(self) -> None:
        while True:
            delivery = await self._queue.get()
            if delivery is None:
                return
            try:
                outcome: Outcome | _Release | None = None
                if self._states.get(delivery.broadcast_id) is BroadcastState.RUNNING:
                    outcome = await self._deliver(delivery)
                await self._submit(outcome or _Release(delivery))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("broadcaster: delivery %d went wrong", delivery.id)
                await self._submit(_Release(delivery))
            finally:
                self._in_flight -= 1
                if self._queue.qsize() < self.concurrency or self._in_flight == 0:
                    self._wake.set()

    async def _deliver(self, delivery: Delivery) -> Outcome | None:
        """Send one delivery until Telegram decides it; ``None``: paused meanwhile."""
        active = self._active.get(delivery.broadcast_id)
        if active is None:
            return None
        attempts = 0
        failures = 0
        while True:
            if self._states.get(delivery.broadcast_id) is not BroadcastState.RUNNING:
                return None
            await self.limiter.acquire(delivery.chat_id, bulk=True)
            attempts += 1
            try:
                message_id = await self._send(active.article, delivery)
            except TelegramRetryAfter as error:
                log.warning("broadcaster: 429, everyone waits %s s", error.retry_after)
                self.metrics.refused(429, "broadcast")
                self.limiter.hold(error.retry_after)
                continue
            except TelegramForbiddenError as error:
                self.metrics.refused(403, "broadcast")
                return Outcome(delivery, DeliveryStatus.BLOCKED, attempts, error=error.message)
            except (TelegramServerError, TelegramNetworkError) as error:
                failures += 1
                if failures >= self.max_attempts:
                    return Outcome(delivery, DeliveryStatus.FAILED, attempts, error=_reason(error))
                # Telegram is in trouble for everyone: everyone backs off, so an outage
                # fails a handful of deliveries, not the whole list.
                self.limiter.hold(self.backoff_s * 2 ** (failures - 1))
                continue
            except (TelegramUnauthorizedError, TelegramNotFound) as error:
                # The token or the API address is wrong: no recipient is to blame.
                log.error("broadcaster: the Bot API refuses us (%s); waiting", error.message)
                self.limiter.hold(30.0)
                return None
            except TelegramAPIError as error:
                return Outcome(delivery, DeliveryStatus.FAILED, attempts, error=error.message)
            except Exception as error:  # a bad article must not stop the broadcast
                log.exception("broadcaster: delivery %d failed", delivery.id)
                return Outcome(delivery, DeliveryStatus.FAILED, attempts, error=_reason(error))
            self.metrics.sent("broadcast")
            return Outcome(delivery, DeliveryStatus.SENT, attempts, message_id=message_id)

    async def _send(self, article: Article, delivery: Delivery) -> int:
        """Send one article to one recipient; the message id Telegram gave it."""
        file_id = article.photo_file_id or self._file_ids.get(article.id)
        if article.has_photo and file_id is None:
            _ = self.translator.bind(delivery.locale)
            markup = article_markup(article, delivery.participant_id, _, self.settings.link_base)
            file_id, message_id = await self._upload_cover(article, delivery.chat_id, markup)
            if message_id is not None:
                return message_id
        if isinstance(self.bot.session, AiohttpSession):
            api_method = "sendPhoto" if file_id is not None else "sendMessage"
            body = self._request_body(article, delivery, file_id)
            result = await self._call(api_method, body, delivery.chat_id)
            return int(result["message_id"])
        _ = self.translator.bind(delivery.locale)
        markup = article_markup(article, delivery.participant_id, _, self.settings.link_base)
        keyboard = InlineKeyboardMarkup.model_validate(markup)
        if file_id is not None:
            message = await self.bot.send_photo(
                delivery.chat_id, file_id, caption=article.text, reply_markup=keyboard
            )
        else:
            message = await self.bot.send_message(
                delivery.chat_id, article.text, reply_markup=keyboard
            )
        return message.message_id

    def _request_body(self, article: Article, delivery: Delivery, file_id: str | None) -> bytes:
        """The JSON of one send. Everything but the chat and the tracked link is the same
        for every recipient of an article in one language, so it is encoded once."""
        key = (article.id, delivery.locale, file_id)
        parts = self._bodies.get(key)
        if parts is None:
            _ = self.translator.bind(delivery.locale)
            rows = article_markup(article, 0, _, "")["inline_keyboard"]
            link_row = rows.pop() if article.link else None
            content: dict[str, Any] = {"parse_mode": "HTML"}
            if file_id is not None:
                content.update(photo=file_id, caption=article.text)
            else:
                content["text"] = article.text
            head = json.dumps(content, ensure_ascii=False)[:-1]
            buttons = json.dumps(rows, ensure_ascii=False)[1:-1]
            label = json.dumps(link_row[0]["text"], ensure_ascii=False) if link_row else None
            parts = self._bodies[key] = (head, buttons, label)
        head, buttons, label = parts
        rows_json = [buttons] if buttons else []
        if label is not None:
            url = tracked_url(self.settings.link_base, article, delivery.participant_id)
            rows_json.append(f'[{{"text":{label},"url":{json.dumps(url)}}}]')
        markup = '{"inline_keyboard":[' + ",".join(rows_json) + "]}"
        return f'{head},"chat_id":{delivery.chat_id},"reply_markup":{markup}}}'.encode()

    async def _call(self, api_method: str, body: bytes, chat_id: int) -> dict[str, Any]:
        """One Bot API request as plain JSON, the result as plain JSON.

        The hot path of a broadcast: no request or response models are built, which
        is most of the CPU a send costs with aiogram's methods. Errors are still
        aiogram's exceptions (aiogram reads the error answer), so they are handled
        exactly like those of any other call.
        """
        session = self.bot.session
        assert isinstance(session, AiohttpSession)
        http = await session.create_session()
        url = session.api.api_url(token=self.bot.token, method=api_method)
        payload = aiohttp.BytesPayload(body, content_type="application/json")
        try:
            async with http.post(
                url,
                data=payload,
                timeout=aiohttp.ClientTimeout(total=float(session.timeout)),
            ) as response:
                status, raw = response.status, await response.text()
        except TimeoutError as error:
            method = _ERROR_METHODS[api_method].model_construct(chat_id=chat_id)
            raise TelegramNetworkError(method, "Request timeout error") from error
        except aiohttp.ClientError as error:
            method = _ERROR_METHODS[api_method].model_construct(chat_id=chat_id)
            raise TelegramNetworkError(method, f"{type(error).__name__}: {error}") from error
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        result = data.get("result") if isinstance(data, dict) else None
        if status == 200 and isinstance(result, dict) and data.get("ok"):
            return result
        method = _ERROR_METHODS[api_method].model_construct(chat_id=chat_id)
        if not isinstance(data, dict):  # a proxy's error page, say
            if status >= 500:
                raise TelegramServerError(method, f"HTTP {status}")
            raise TelegramNetworkError(method, f"HTTP {status}: not a Bot API answer")
        session.check_response(self.bot, method, status, raw)  # raises the matching error
        raise TelegramNetworkError(method, f"HTTP {status}: unexpected answer")

    async def _upload_cover(
        self, article: Article, chat_id: int | str, markup: dict[str, Any] | None
    ) -> tuple[str | None, int | None]:
        """Upload a cover given as bytes with the first send; later sends use its file id.

        Returns ``(file_id, None)`` when another send uploaded it meanwhile, else the new
        file id and the id of the message that carried it.
        """
        lock = self._photo_locks.setdefault(article.id, asyncio.Lock())
        async with lock:
            if article.id in self._file_ids:
                return self._file_ids[article.id], None
            async with self.session_factory() as session:
                repo = PublicityRepository(session)
                stored = await repo.article(article.id)
                data = await repo.photo_bytes(article.id)
            if stored is not None and stored.photo_file_id:
                self._file_ids[article.id] = stored.photo_file_id
                return stored.photo_file_id, None
            if data is None:
                raise ValueError(f"article {article.id} has no cover to send")
            message = await self.bot.send_photo(
                chat_id,
                BufferedInputFile(data, filename="cover.jpg"),
                caption=article.text,
                reply_markup=InlineKeyboardMarkup.model_validate(markup) if markup else None,
            )
            if not message.photo:
                return None, message.message_id
            file_id = message.photo[-1].file_id
            async with self.session_factory() as session:
                repo = PublicityRepository(session)
                await repo.set_photo_file_id(article.id, file_id)
                await repo.commit()
            self._file_ids[article.id] = file_id
            return file_id, message.message_id

    # ------------------------------------------------------------------ the channel

    async def _post_to_channel(self, post: ChannelPost) -> None:
        """Send a claimed channel post until Telegram decides it, and record that."""
        active = self._active.get(post.broadcast_id)
        if active is None or post.chat is None:
            async with self.session_factory() as session:
                repo = PublicityRepository(session)
                await repo.release_channel_post(self.claimer, post.id)
                await repo.commit()
            return
        chat = channel_chat(post.chat)
        pace_key = chat if isinstance(chat, int) else -1
        attempts = failures = 0
        message_id: int | None = None
        error: str | None = None
        while True:
            await self.limiter.acquire(pace_key, bulk=True)
            attempts += 1
            try:
                message_id = await self._send_to_channel(active.article, chat)
            except TelegramRetryAfter as problem:
                self.limiter.hold(problem.retry_after)
                continue
            except (TelegramServerError, TelegramNetworkError) as problem:
                failures += 1
                if failures < self.max_attempts:
                    await asyncio.sleep(self.backoff_s * 2 ** (failures - 1))
                    continue
                error = _reason(problem)
            except (TelegramUnauthorizedError, TelegramNotFound) as problem:
                log.error("broadcaster: the Bot API refuses us (%s); waiting", problem.message)
                async with self.session_factory() as session:
                    repo = PublicityRepository(session)
                    await repo.release_channel_post(self.claimer, post.id)
                    await repo.commit()
                return
            except TelegramAPIError as problem:  # 400/403: not an admin there, no such chat
                error = problem.message
            except Exception as problem:
                log.exception("broadcaster: channel post %d failed", post.id)
                error = _reason(problem)
            break
        status = DeliveryStatus.SENT if error is None else DeliveryStatus.FAILED
        if error is not None:
            log.warning(
                "broadcaster: channel %s refused article %d: %s",
                post.chat,
                active.article.id,
                error,
            )
        async with self.session_factory() as session:
            repo = PublicityRepository(session)
            await repo.record_channel_post(
                post.id, status, attempts, utcnow(), message_id=message_id, error=error
            )
            await repo.commit()
        self._force_report.add(post.broadcast_id)
        self._wake.set()

    async def _send_to_channel(self, article: Article, chat: int | str) -> int:
        """One post to the channel: the article with its link button, no "read" button."""
        _ = self.translator.bind(self.settings.default_locale)
        markup = channel_markup(article, _, self.settings.link_base)
        keyboard = InlineKeyboardMarkup.model_validate(markup) if markup else None
        file_id = article.photo_file_id or self._file_ids.get(article.id)
        if article.has_photo and file_id is None:
            file_id, message_id = await self._upload_cover(article, chat, markup)
            if message_id is not None:
                return message_id
        if file_id is not None:
            message = await self.bot.send_photo(
                chat, file_id, caption=article.text, reply_markup=keyboard
            )
        else:
            message = await self.bot.send_message(chat, article.text, reply_markup=keyboard)
        return message.message_id

    # ------------------------------------------------------------------ recording

    async def _submit(self, item: Outcome | _Release) -> None:
        """Queue an answer for the next write and wait until it is in the database."""
        future = asyncio.get_running_loop().create_future()
        self._outbox.append((item, future))
        self._flush.set()
        await future

    async def _write_loop(self) -> None:
        while True:
            await self._flush.wait()
            self._flush.clear()
            await self._write_pending()

    async def _write_pending(self) -> None:
        while self._outbox:
            batch, self._outbox = self._outbox, []
            outcomes = [item for item, _ in batch if isinstance(item, Outcome)]
            released = [item.delivery.id for item, _ in batch if isinstance(item, _Release)]
            while True:
                try:
                    async with self.session_factory() as session:
                        repo = PublicityRepository(session)
                        await repo.record(outcomes, utcnow())
                        await repo.release(self.claimer, released)
                        await repo.commit()
                    break
                except Exception:
                    # Nothing more is sent until answers can be recorded: the workers
                    # are waiting for this write.
                    log.exception("broadcaster: could not record %d answers", len(batch))
                    await asyncio.sleep(1.0)
            for _, future in batch:
                if not future.done():
                    future.set_result(None)

    # ------------------------------------------------------------------ progress

    async def _report(self, broadcast_id: int, *, force: bool) -> None:
        """Edit (or first send) the progress message; one process does it at a time."""
        async with self.session_factory() as session:
            repo = PublicityRepository(session)
            if not await repo.take_progress_turn(
                broadcast_id, utcnow(), self.progress_every_s, force=force
            ):
                return
            await repo.commit()
            broadcast = await repo.broadcast(broadcast_id)
            if broadcast is None or broadcast.progress_chat_id is None:
                return
            message_id = broadcast.progress_message_id
            if message_id == SENDING_FIRST and force:
                return  # another process is sending the first message right now
            if message_id is None and not await repo.claim_progress_message(broadcast_id):
                return  # another process just claimed the first message
            await repo.commit()
            article = await repo.article(broadcast.article_id)
            progress = await repo.progress(broadcast_id)
            channel = await repo.channel_post(broadcast_id)
            reasons = await repo.failure_reasons(broadcast_id) if progress.failed else []
            await repo.commit()
        if article is None:
            return
        _ = self.translator.bind(broadcast.locale)
        text = self.progress_text(broadcast, article, progress, channel, reasons)
        markup = control_keyboard(broadcast.id, broadcast.state, _)
        chat_id = broadcast.progress_chat_id
        assert chat_id is not None
        first = message_id in (None, SENDING_FIRST)
        try:
            await self.limiter.acquire(chat_id)
            # SENDING_FIRST at a later turn: its sender is gone; show the progress anew.
            if not first:
                try:
                    await self.bot.edit_message_text(
                        text=text,
                        chat_id=chat_id,
                        message_id=message_id,
                        reply_markup=markup,
                    )
                    self._report_tries.pop(broadcast_id, None)
                    return
                except TelegramBadRequest as error:
                    if "not modified" in error.message:
                        return
                    # Deleted, too old to edit...: the progress goes on in a new message.
                    log.info("broadcaster: progress of %d anew: %s", broadcast_id, error)
            message = await self.bot.send_message(chat_id, text, reply_markup=markup)
            async with self.session_factory() as session:
                repo = PublicityRepository(session)
                await repo.set_progress_message(broadcast_id, message.message_id)
                await repo.commit()
            self._report_tries.pop(broadcast_id, None)
        except TelegramAPIError as error:
            if isinstance(error, TelegramRetryAfter):
                self.limiter.hold(error.retry_after)
            if first:  # let the next turn send it, in this process or another
                async with self.session_factory() as session:
                    repo = PublicityRepository(session)
                    await repo.release_progress_message(broadcast_id)
                    await repo.commit()
            tries = self._report_tries[broadcast_id] = self._report_tries.get(broadcast_id, 0) + 1
            if tries < _REPORT_TRIES and isinstance(
                error, TelegramRetryAfter | TelegramServerError | TelegramNetworkError
            ):
                log.warning("broadcaster: progress of %d not shown yet: %s", broadcast_id, error)
                self._report_again.add(broadcast_id)
            else:
                log.error("broadcaster: progress of %d not shown: %s", broadcast_id, error)
                self._report_tries.pop(broadcast_id, None)

    def progress_text(
        self,
        broadcast: Broadcast,
        article: Article,
        progress: Progress,
        channel: ChannelPost | None = None,
        reasons: Sequence[tuple[str, int]] = (),
    ) -> str:
        """The progress message; once some deliveries failed, why (the people who blocked
        the bot, and Telegram's most frequent answers to the others)."""
        _ = self.translator.bind(broadcast.locale)
        elapsed = ((broadcast.finished_at or utcnow()) - broadcast.started_at).total_seconds()
        hours, minutes, seconds = format_duration(eta_seconds(progress, elapsed, self.rate))
        state = broadcast.state.value
        if broadcast.state is BroadcastState.DONE and progress.total and not progress.sent:
            state = "none_delivered"
        lines = [
            _(f"publicity.progress.{state}", title=article.title),
            _(
                "publicity.progress.counts",
                sent=progress.sent,
                failed=progress.failed,
                blocked=progress.blocked,
                remaining=progress.remaining,
                total=progress.total,
            ),
        ]
        if progress.blocked:
            lines.append(_("publicity.progress.blocked", count=progress.blocked))
        for error, count in reasons:
            lines.append(_("publicity.progress.failed_reason", reason=error or "?", count=count))
        if channel is not None:
            lines.append(channel_line(channel, broadcast, _))
        if broadcast.state is BroadcastState.RUNNING:
            lines.append(_("publicity.progress.eta", eta=f"{hours}:{minutes:02}:{seconds:02}"))
        return "\n".join(lines)


def channel_line(post: ChannelPost, broadcast: Broadcast, _: Gettext) -> str:
    """The channel post's line of the progress message."""
    if post.chat is None:
        return _("publicity.progress.channel_unset")
    if post.status is DeliveryStatus.SENT:
        return _("publicity.progress.channel_sent", channel=post.chat)
    if post.status is DeliveryStatus.FAILED:
        return _("publicity.progress.channel_failed", channel=post.chat, reason=post.error or "?")
    if broadcast.state.final:
        return _("publicity.progress.channel_skipped", channel=post.chat)
    return _("publicity.progress.channel_pending", channel=post.chat)


def _reason(error: BaseException) -> str:
    text = getattr(error, "message", None) or str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}"[:255]
