"""The participant pages opened as the Telegram Mini App: who the launch data signs in.

The web door verifies the launch data Telegram hands the page against the bot token;
here the Telegram account it names becomes a device of that account's chat participant,
bound by the same cookie as the pages' own devices
(:mod:`bot.application.web_participants`), so one person is one participant whichever
door they use.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from bot.application.web_participants import WebDevice, device_token_hash, signed_in
from storage.unit_of_work import UnitOfWork

__all__ = ["MINI_APP_FRESH", "MiniAppRefusal", "mini_app_sign_in"]

# Launch data signs in for this long after Telegram issued it; a clock this far behind
# Telegram's is tolerated.
MINI_APP_FRESH = timedelta(days=1)
MINI_APP_SKEW = timedelta(minutes=5)


class MiniAppRefusal(StrEnum):
    STALE = "stale"  # issued over a day ago (or ahead of our clock): open the app again
    NOT_REGISTERED = "not_registered"  # not registered in chat: register there first


async def mini_app_sign_in(
    uow: UnitOfWork,
    telegram_id: int,
    issued_at: datetime,
    *,
    kept_token: str | None,
    key: bytes,
    now: datetime,
) -> WebDevice | MiniAppRefusal:
    """The chat participant of the Telegram account whose launch data (its signature
    already checked) was issued at ``issued_at``, signed in on this device. A device
    signed in as them already keeps its token; any other becomes a device of theirs."""
    if not now - MINI_APP_FRESH <= issued_at <= now + MINI_APP_SKEW:
        return MiniAppRefusal.STALE
    participant = await uow.participants.by_telegram_id(telegram_id)
    if participant is None or not participant.registered:
        await uow.commit()
        return MiniAppRefusal.NOT_REGISTERED
    kept = await signed_in(uow, kept_token, key=key, now=now)
    if kept is not None and kept.participant.id == participant.id:
        return WebDevice(kept_token or "", participant)
    token = secrets.token_urlsafe(32)
    await uow.web_identities.add_device(participant.id, device_token_hash(token), now)
    await uow.commit()
    return WebDevice(token, participant)
