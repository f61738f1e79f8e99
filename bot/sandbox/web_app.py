"""Mini App launch data as Telegram hands it to a web app opened from a bot's button.

Telegram passes ``initData``: a query string of the launch's fields (the user as compact
JSON, ``auth_date`` in Unix seconds, a ``query_id``...) and ``hash``, the HMAC-SHA256 of
the other fields sorted by name and joined as ``key=value`` lines, under the key
HMAC-SHA256("WebAppData", bot token) (core.telegram.org/bots/webapps, "Validating data
received via the Mini App"). The sandbox signs with the bot's own token, so a bot checks
it with aiogram's ``safe_parse_webapp_init_data`` exactly as it would Telegram's.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Any
from urllib.parse import quote, urlencode


def init_data_hash(token: str, fields: dict[str, str]) -> str:
    """The ``hash`` Telegram puts beside ``fields``."""
    check = "\n".join(f"{name}={value}" for name, value in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    return hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()


def signed_init_data(
    token: str,
    user: dict[str, Any],
    auth_date: int,
    *,
    query_id: str | None = None,
    start_param: str | None = None,
) -> str:
    """``initData`` for ``user`` (a Bot API User object) opening a Mini App at
    ``auth_date``, signed with ``token``."""
    person = {key: value for key, value in user.items() if key != "is_bot"}
    person["allows_write_to_pm"] = True
    fields = {
        "query_id": query_id or "AA" + secrets.token_urlsafe(18),
        "user": json.dumps(person, ensure_ascii=False, separators=(",", ":")),
        "auth_date": str(auth_date),
    }
    if start_param is not None:
        fields["start_param"] = start_param
    fields["hash"] = init_data_hash(token, fields)
    return urlencode(fields, quote_via=quote)
