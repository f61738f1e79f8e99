"""Settings from the environment and ``.env``, prefix ``PUFA_``.

A missing or malformed setting stops start-up with one line naming it
(:func:`load_settings`); the bot token is a secret and never appears in a repr or log.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.i18n import SUPPORTED_LOCALES

TELEGRAM_API_URL = "https://api.telegram.org"
_TOKEN_RE = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_PATH_RE = re.compile(r"^(/[A-Za-z0-9_-]+)+$")
_CHANNEL_RE = re.compile(r"^(-\d{1,20}|@[A-Za-z][A-Za-z0-9_]{3,31})$")
# Derives the webhook secret from the token (HMAC-SHA256): a fixed label, never changed.
_WEBHOOK_SECRET_LABEL = b"pufa-bot webhook secret v1"


class SettingsError(Exception):
    """Raised with one human-readable line per bad setting."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PUFA_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    bot_token: SecretStr | None = None
    bot_api_url: str = TELEGRAM_API_URL
    database_url: str = "sqlite+aiosqlite:///./pufa.db"
    redis_url: str | None = None
    admin_ids: Annotated[frozenset[int], NoDecode] = Field(default_factory=frozenset)
    timezone: str = "Asia/Shanghai"
    default_locale: str = "zh-CN"
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_path: str = "/telegram/webhook"
    listen_host: str = "127.0.0.1"
    listen_port: int = Field(default=8080, ge=0, le=65535)
    # Updates handled at once by one process; keep it below the database pool (2 x 10).
    max_concurrent_updates: int = Field(default=16, ge=1, le=1000)
    # How long an update's id is remembered as handled, so that a copy Telegram delivers
    # again (to this process or another) is ignored; 0 turns the check off.
    update_dedupe_ttl_s: int = Field(default=24 * 3600, ge=0)
    # Publicity: messages/s all broadcasts together may send (Telegram allows about 30/s
    # in bulk; the rest is left for replies), requests in flight, base of tracked links.
    broadcast_rate: float = Field(default=25.0, gt=0, le=100_000)
    broadcast_concurrency: int = Field(default=16, ge=1, le=1000)
    public_url: str | None = None
    # A channel articles may also be posted to (chosen per article): -100123... or
    # @username, with the bot an admin there. Unset: no channel.
    publicity_channel: str | None = None
    # Who issues certificates, as printed on them (the bureau or the school); unset: the
    # name of the top unit.
    issuer: str | None = Field(default=None, max_length=40)
    # Erase the personal data of people inactive this many years (daily, 03:30); none: keep.
    retention_years: int | None = Field(default=None, ge=1, le=50)
    # Scheduler: a job missed while the bot was down still fires at start-up this late.
    scheduler_grace_s: int = Field(default=6 * 3600, ge=0)
    # How often each process re-reads the tables to rebuild its plan (0: only at start).
    scheduler_replan_s: int = Field(default=300, ge=0)
    # Report compilation, crontab expressions in ``timezone`` separated by ";".
    report_cron: Annotated[tuple[str, ...], NoDecode] = ("0 8 * * 1", "0 8 1 * *")
    # Logs: text lines, or one JSON object per line for a log collector.
    log_format: Literal["text", "json"] = "text"
    # When set, /metrics answers only requests with "Authorization: Bearer <token>".
    metrics_token: SecretStr | None = None
    # Where the staff dashboard is served on the bot's web server (no trailing slash).
    admin_path: str = "/admin"
    # How old the dashboard's figures may be before a page starts their refresh (seconds);
    # 0 computes them for every page (exact, but a large division's pages then cost most
    # of a second each).
    dashboard_refresh_s: int = Field(default=10, ge=0, le=3600)
    # False: this process serves the web pages (dashboard, participant pages, links) and
    # runs the scheduled jobs, but takes no updates (no polling, no webhook set): a
    # process of its own for the pages, beside the one that answers the chat.
    receive_updates: bool = True

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _TOKEN_RE.match(value.get_secret_value()):
            raise ValueError("must look like 123456:ABC-def (digits, colon, letters)")
        return value

    @field_validator("bot_api_url", "webhook_url", "public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _database(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _admin_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part for part in re.split(r"[,\s]+", value.strip()) if part]
            try:
                return frozenset(int(part) for part in parts)
            except ValueError:
                raise ValueError("must be Telegram user ids separated by commas") from None
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("default_locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        if value not in SUPPORTED_LOCALES:
            raise ValueError(f"must be one of {', '.join(SUPPORTED_LOCALES)}")
        return value

    @field_validator("report_cron", mode="before")
    @classmethod
    def _crontabs(cls, value: object) -> object:
        from bot.crontab import CrontabError, crontab_trigger

        if isinstance(value, str):
            value = tuple(part.strip() for part in value.split(";") if part.strip())
        for expression in value if isinstance(value, tuple | list) else ():
            try:
                crontab_trigger(str(expression), ZoneInfo("UTC"))
            except CrontabError as error:
                raise ValueError(str(error)) from None
        return value

    @field_validator("publicity_channel")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not _CHANNEL_RE.match(value):
            raise ValueError("must be a channel id such as -1001234567890 or @username")
        return value

    @field_validator("admin_path")
    @classmethod
    def _admin_path(cls, value: str) -> str:
        value = value.rstrip("/")
        if not _PATH_RE.match(value):
            raise ValueError("must be a path such as /admin (letters, digits, - and _)")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _SECRET_RE.match(value.get_secret_value()):
            raise ValueError("must be 1-256 characters of A-Z a-z 0-9 _ -")
        return value

    @property
    def token(self) -> str:
        """The bot token; only commands that talk to Telegram ask for it."""
        if self.bot_token is None:
            raise SettingsError("PUFA_BOT_TOKEN is not set")
        return self.bot_token.get_secret_value()

    @property
    def webhook_secret_token(self) -> str:
        """What Telegram must send in ``X-Telegram-Bot-Api-Secret-Token``: the configured
        secret, else one derived from the bot token, the same in every process."""
        if self.webhook_secret is not None:
            return self.webhook_secret.get_secret_value()
        digest = hmac.new(self.token.encode(), _WEBHOOK_SECRET_LABEL, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def uses_webhook(self) -> bool:
        return bool(self.webhook_url)

    @property
    def link_base(self) -> str:
        """Where tracked links point: ``PUFA_PUBLIC_URL``, else the webhook's public base,
        else this process's own web server."""
        if self.public_url:
            return self.public_url
        if self.webhook_url:
            return self.webhook_url
        return f"http://{self.listen_host}:{self.listen_port}"


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning pydantic's report into one line per bad ``PUFA_`` variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        lines = []
        for problem in error.errors():
            name = "PUFA_" + "_".join(str(part) for part in problem["loc"]).upper()
            if problem["type"] == "missing":
                lines.append(f"{name} is not set")
            else:
                message = problem["msg"].removeprefix("Value error, ")
                lines.append(f"{name}: {message}")
        raise SettingsError("; ".join(lines)) from None
