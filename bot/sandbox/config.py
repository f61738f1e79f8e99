"""Settings of the local Telegram Bot API emulator."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, fields

# Fields that may be changed while the sandbox runs (control API ``/sandbox/limits``).
RUNTIME_FIELDS = frozenset(
    {
        "enforce_limits",
        "per_chat_per_s",
        "per_chat_burst",
        "global_per_s",
        "global_burst",
        "group_per_minute",
        "latency_ms",
        "callback_query_ttl_s",
        "update_ttl_s",
        "webhook_timeout_s",
        "webhook_max_attempts",
        "webhook_retry_initial_s",
        "webhook_retry_max_s",
    }
)


@dataclass
class SandboxConfig:
    """What the emulated Telegram looks like and how strict it is.

    Every token in ``tokens`` (defaults to ``{token}``) addresses the same bot; any other
    token gets ``401 Unauthorized``.
    """

    token: str = "123456:SANDBOX-token"
    tokens: set[str] = field(default_factory=set)
    bot_id: int = 123456
    bot_username: str = "pufa_sandbox_bot"
    bot_first_name: str = "普法助手"
    enforce_limits: bool = True
    per_chat_per_s: float = 1.0
    per_chat_burst: int = 3
    global_per_s: float = 30.0
    global_burst: int = 30
    group_per_minute: int = 20
    latency_ms: float = 0.0
    callback_query_ttl_s: float = 15.0
    update_ttl_s: float = 86400
    # The first update's id; 0: a random one, as Telegram picks after a quiet week. Ids
    # then rise by one, so two sandboxes (or two runs) do not hand out the same ids to a
    # bot that remembers which it has handled.
    first_update_id: int = 0
    # Webhook delivery, as Telegram does it: an update answered with anything but 2xx, or
    # not answered within ``webhook_timeout_s``, is sent again (same ``update_id``) after
    # a back-off doubling from ``webhook_retry_initial_s`` up to ``webhook_retry_max_s``;
    # after ``webhook_max_attempts`` posts (0: until it is ``update_ttl_s`` old) it is
    # dropped.
    webhook_timeout_s: float = 60.0
    webhook_max_attempts: int = 0
    webhook_retry_initial_s: float = 0.05
    webhook_retry_max_s: float = 2.0

    def __post_init__(self) -> None:
        if not self.tokens:
            self.tokens = {self.token}
        if self.first_update_id <= 0:
            self.first_update_id = secrets.randbelow(2**31 - 2**24) + 1

    def update(self, **changes: object) -> None:
        """Change runtime fields, checking names and types."""
        types = {f.name: f.type for f in fields(self)}
        for name, value in changes.items():
            if name not in RUNTIME_FIELDS:
                raise ValueError(f"unknown or read-only sandbox setting: {name}")
            kind = types[name]
            if kind == "bool":
                if not isinstance(value, bool):
                    raise ValueError(f"{name} must be a boolean")
                setattr(self, name, value)
            elif kind == "int":
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ValueError(f"{name} must be a non-negative integer")
                setattr(self, name, value)
            else:
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    raise ValueError(f"{name} must be a non-negative number")
                setattr(self, name, float(value))

    def limits(self) -> dict[str, object]:
        """The runtime fields and their values."""
        return {name: getattr(self, name) for name in sorted(RUNTIME_FIELDS)}
