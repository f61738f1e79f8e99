"""The chat's button that opens a campaign on the participant pages as a Mini App."""

from __future__ import annotations

from aiogram.types import WebAppInfo


def pages_web_app(public_url: str | None, campaign_id: int) -> WebAppInfo | None:
    """The campaign on the participant pages, opened as a Mini App inside Telegram; None
    unless the public address is https, the only kind Telegram opens as a web app."""
    if not public_url or not public_url.startswith("https://"):
        return None
    return WebAppInfo(url=f"{public_url.rstrip('/')}/m/app?campaign={campaign_id}")
