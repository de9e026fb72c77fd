"""The caller's side of a link: ``/p/<token>``.

Fetching the page changes nothing: mail scanners, link previews and in-app views fetch links
before the person does, any number of times. A valid link shows the patient's page, and the
browser gets a random key (a cookie scoped to the link) if it has none: the key binds nothing by
itself. The page's script opens the link when it connects its socket (see :mod:`.signalling`),
and the link becomes that browser's only once its video is published; from then on other
browsers get the refusal. Every refusal (unknown, expired, revoked, ended session, bound to
another browser) gets the same page, the same status and the same response time: the page must
not tell a guesser anything.
"""

from __future__ import annotations

import asyncio
import html
import re
import time
from collections.abc import Mapping
from pathlib import Path

from aiohttp import web

from visioregul.integration import appkeys
from visioregul.integration.client_address import client_address
from visioregul.integration.language import browser_language
from visioregul.integration.ratelimit import RateLimitExceeded
from visioregul.integration.sessions.links import DEVICE_KEY_PATTERN, new_device_key

from .inline import inline_scripts, new_nonce, policy_with_nonce

__all__ = ["STATIC_DIR", "routes"]

routes = web.RouteTableDef()

STATIC_DIR = Path(__file__).with_name("static")
DEVICE_COOKIE = "visioregul_link"
_REFUSAL_FLOOR = 0.25
"""Seconds every refusal takes at least, so that no reason answers faster than another."""


# A section's tag alone on its line stands for the whole line (the page reads as if the line
# were not there); a section is ``{{#name}}...{{/name}}``.
_STANDALONE_TAG = re.compile(r"^[ \t]*(\{\{[#/][a-z_]+\}\})[ \t]*\n", re.MULTILINE)
_SECTION = re.compile(r"\{\{#(?P<name>[a-z_]+)\}\}(?P<body>.*?)\{\{/(?P=name)\}\}", re.DOTALL)


def _sections(text: str, shown: frozenset[str]) -> str:
    """``text`` with each ``{{#name}}...{{/name}}`` kept when ``name`` is in ``shown``, else
    dropped: one page serves both roles of a link, each block written once."""
    text = _STANDALONE_TAG.sub(r"\1", text)
    return _SECTION.sub(lambda match: match["body"] if match["name"] in shown else "", text)


def _render(
    request: web.Request,
    name: str,
    status: int,
    shown: frozenset[str] = frozenset(),
    raw: Mapping[str, str] | None = None,
) -> web.Response:
    """The page ``name`` in the reader's language, with the sections named in ``shown``;
    ``{{=name}}`` stands for ``raw[name]`` as it is (the inline scripts and their nonce)."""
    catalogue = request.app[appkeys.CATALOGUE]
    language = browser_language(request)
    text = _sections((STATIC_DIR / name).read_text(encoding="utf-8"), shown)
    verbatim = raw or {}

    def fill(key: str) -> str:
        if key.startswith("="):
            return verbatim[key[1:]]
        # Placeholders stand in text only (never in attributes): quotes need no escaping.
        return html.escape(catalogue.get(language, key), quote=False)

    # Placeholders are ``{{key}}``; values come from the catalogue, escaped.
    parts = text.split("{{")
    out = [parts[0]]
    for part in parts[1:]:
        key, _, rest = part.partition("}}")
        out.append(fill(key.strip()) + rest)
    body = "".join(out).replace('lang="fr"', f'lang="{html.escape(language)}"', 1)
    return web.Response(text=body, status=status, content_type="text/html")


@routes.get("/p/{token:.+}")
async def open_link(request: web.Request) -> web.StreamResponse:
    """The page of a patient's or third party's link (GET and HEAD); records nothing."""
    started = time.monotonic()
    token = request.match_info["token"]
    try:
        await request.app[appkeys.LINK_LIMITER].hit(client_address(request))
    except RateLimitExceeded:
        return _render(request, "link-refused.html", 429)
    device_key = request.cookies.get(DEVICE_COOKIE)
    access = await request.app[appkeys.SESSION_SERVICE].links.check(token, device_key)
    if access is None:
        await _sleep_until(started + _REFUSAL_FLOOR)
        return _render(request, "link-refused.html", 404)
    # A third party's page runs the same script with its own wording (its camera, no commands,
    # no documents): the sections of its role.
    scripts = inline_scripts()
    nonce = new_nonce()
    response = _render(
        request,
        "link.html",
        200,
        frozenset({access.role}),
        {"nonce": nonce, "early": scripts.early, "bundle": scripts.bundle},
    )
    response.headers["Content-Security-Policy"] = policy_with_nonce(nonce)
    # The script makes the page about 75 KB, 20 KB compressed. Nothing in it comes from the
    # request, so compression tells nothing of its nonce.
    response.enable_compression()
    if device_key is None or not DEVICE_KEY_PATTERN.fullmatch(device_key):
        response.set_cookie(
            DEVICE_COOKIE,
            new_device_key(),
            path=f"/p/{token}",
            httponly=True,
            samesite="Lax",
            secure=request.app[appkeys.SETTINGS].console.secure_cookies,
            max_age=request.app[appkeys.SETTINGS].sessions.link_ttl,
        )
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


async def _sleep_until(deadline: float) -> None:
    delay = deadline - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)
