"""ICE servers (STUN, TURN) from plain settings, and the configuration peers are built with.

TURN credentials follow coturn's ``use-auth-secret`` scheme (the "TURN REST API"): the username is
``<expiry unix time>:<participant id>`` and the password is base64(HMAC-SHA1(secret, username)), so
the TURN server checks them with the shared secret alone and they expire by themselves.

No public server is ever used by default: aiortc falls back to ``stun.l.google.com`` when
``iceServers`` is None, so :func:`rtc_configuration` always passes a list, empty when nothing is
configured.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterable, Sequence

from aiortc import RTCConfiguration, RTCIceServer

__all__ = ["browser_ice_servers", "ice_servers", "rtc_configuration", "turn_credentials"]

DEFAULT_TURN_TTL = 6 * 3600
"""Lifetime of TURN credentials, seconds: longer than any regulation call."""


def turn_credentials(
    secret: str, participant_id: str, *, ttl: float = DEFAULT_TURN_TTL, now: float | None = None
) -> tuple[str, str]:
    """A TURN ``(username, credential)`` pair valid for ``ttl`` seconds from ``now``."""
    if not secret:
        raise ValueError("the TURN secret is empty")
    if ttl <= 0:
        raise ValueError("the TURN credential lifetime must be positive")
    expiry = int((time.time() if now is None else now) + ttl)
    username = f"{expiry}:{participant_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


def ice_servers(
    *,
    stun_urls: Iterable[str] = (),
    turn_urls: Iterable[str] = (),
    turn_secret: str | None = None,
    participant_id: str = "server",
    ttl: float = DEFAULT_TURN_TTL,
    now: float | None = None,
) -> list[RTCIceServer]:
    """The ICE servers for one participant (a browser, or the server's own peers).

    ``stun_urls`` start with ``stun:``/``stuns:``, ``turn_urls`` with ``turn:``/``turns:`` (for
    example ``turns:turn.example.org:443?transport=tcp``). TURN needs ``turn_secret``, the
    ``static-auth-secret`` of coturn. Returns an empty list when nothing is configured.
    """
    servers: list[RTCIceServer] = []
    stun = [url.strip() for url in stun_urls if url.strip()]
    turn = [url.strip() for url in turn_urls if url.strip()]
    for url in stun:
        if not url.startswith(("stun:", "stuns:")):
            raise ValueError(f"not a STUN URL: {url!r}")
    for url in turn:
        if not url.startswith(("turn:", "turns:")):
            raise ValueError(f"not a TURN URL: {url!r}")
    if stun:
        servers.append(RTCIceServer(urls=stun))
    if turn:
        if not turn_secret:
            raise ValueError("TURN URLs need the TURN secret")
        username, credential = turn_credentials(turn_secret, participant_id, ttl=ttl, now=now)
        servers.append(RTCIceServer(urls=turn, username=username, credential=credential))
    return servers


def rtc_configuration(servers: Sequence[RTCIceServer]) -> RTCConfiguration:
    """A peer configuration using exactly ``servers`` (an empty list means host candidates only)."""
    return RTCConfiguration(iceServers=list(servers))


def browser_ice_servers(servers: Sequence[RTCIceServer]) -> list[dict[str, object]]:
    """``servers`` as the JSON a page passes to ``new RTCPeerConnection({iceServers})``."""
    result: list[dict[str, object]] = []
    for server in servers:
        entry: dict[str, object] = {
            "urls": list(server.urls) if isinstance(server.urls, list) else [server.urls]
        }
        if server.username is not None:
            entry["username"] = server.username
        if server.credential is not None:
            entry["credential"] = server.credential
        result.append(entry)
    return result
