"""Who is asking, by network address, for rate limits on the web pages."""

from __future__ import annotations

import contextlib
import ipaddress

from aiohttp import web

__all__ = ["client_address"]


def client_address(request: web.Request) -> str:
    """Behind the deployment's nginx (a peer on this host or a private network) the
    address nginx appended last to X-Forwarded-For, else the peer itself (a client on the
    internet cannot pose as another)."""
    peer = request.remote or "?"
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(peer).is_private:
            forwarded = request.headers.get("X-Forwarded-For", "").split(",")[-1].strip()
            return forwarded or peer
    return peer
