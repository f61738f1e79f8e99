"""Token buckets modelling Telegram's sending limits."""

from __future__ import annotations

import math

from bot.sandbox.config import SandboxConfig


class TokenBucket:
    """A bucket of ``capacity`` tokens refilled continuously at ``rate`` tokens/s."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = max(capacity, 1.0)
        self.tokens = self.capacity
        self.stamp = now

    def wait_time(self, now: float) -> float:
        """Seconds until one token is available (0 if one is available now)."""
        elapsed = now - self.stamp
        if elapsed > 0:
            self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
            self.stamp = now
        if self.tokens >= 1.0:
            return 0.0
        if self.rate <= 0:
            return math.inf
        return (1.0 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1.0


class RateLimiter:
    """Per-chat, per-group and global buckets; a rejected send consumes nothing."""

    MAX_RETRY_AFTER = 3600

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self._chats: dict[int, TokenBucket] = {}
        self._groups: dict[int, TokenBucket] = {}
        self._global: TokenBucket | None = None

    def reset(self) -> None:
        """Forget all buckets (after the limits changed)."""
        self._chats.clear()
        self._groups.clear()
        self._global = None

    def acquire(self, chat_id: int, now: float) -> int | None:
        """Take a token for one message to ``chat_id``; return ``retry_after`` if refused."""
        cfg = self.config
        if not cfg.enforce_limits:
            return None
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = self._chats[chat_id] = TokenBucket(cfg.per_chat_per_s, cfg.per_chat_burst, now)
        glob = self._global
        if glob is None:
            glob = self._global = TokenBucket(cfg.global_per_s, cfg.global_burst, now)
        wait = max(chat.wait_time(now), glob.wait_time(now))
        group: TokenBucket | None = None
        if chat_id < 0:
            group = self._groups.get(chat_id)
            if group is None:
                per_minute = float(cfg.group_per_minute)
                group = self._groups[chat_id] = TokenBucket(per_minute / 60.0, per_minute, now)
            wait = max(wait, group.wait_time(now))
        if wait > 0:
            if math.isinf(wait):
                return self.MAX_RETRY_AFTER
            return max(1, min(self.MAX_RETRY_AFTER, math.ceil(wait)))
        chat.take()
        glob.take()
        if group is not None:
            group.take()
        return None
