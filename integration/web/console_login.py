"""The console login cookie: signed, time-limited (itsdangerous), naming a live login row.

The cookie holds the account id, the login's id (a row of ``console_logins``), the bound position
and a CSRF token; it is signed with the service's secret key so it survives a restart of the
service (pages reconnect by themselves). It is worth something only while its login row exists:
logging out or disabling the account deletes the row (:mod:`..console_logins`), and the
console's sockets of that login are closed (:class:`LiveConsoles`).
"""

from __future__ import annotations

import asyncio
import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path

from aiohttp import web
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

__all__ = [
    "CLOSE_LOGGED_OUT",
    "COOKIE_NAME",
    "LiveConsoles",
    "LoginCookie",
    "LoginCookieCodec",
    "clear_login_cookie",
    "load_secret_key",
    "set_login_cookie",
]

COOKIE_NAME = "visioregul_session"


@dataclass(frozen=True, slots=True)
class LoginCookie:
    """What a console login cookie carries."""

    account_id: int
    login_id: str
    """The row of ``console_logins`` that keeps this login alive."""
    position: str | None
    csrf_token: str

    def with_position(self, position: str | None) -> LoginCookie:
        """The same login bound to another position."""
        return replace(self, position=position)


class LoginCookieCodec:
    """Signs and verifies console login cookies."""

    def __init__(self, secret_key: bytes, max_age: int) -> None:
        self.secret_key = secret_key
        """The service's signing key, for the other short-lived values it signs."""
        self._serializer = URLSafeTimedSerializer(secret_key, salt="visioregul.console")
        self.max_age = max_age

    def new(self, account_id: int, login_id: str, position: str | None) -> LoginCookie:
        """A fresh login with a new CSRF token."""
        return LoginCookie(account_id, login_id, position, secrets.token_urlsafe(24))

    def dumps(self, login: LoginCookie) -> str:
        """The cookie value for ``login``."""
        return self._serializer.dumps(
            {"a": login.account_id, "l": login.login_id, "p": login.position, "c": login.csrf_token}
        )

    def loads(self, value: str | None) -> LoginCookie | None:
        """The login in a cookie value; None when absent, forged, expired or of an old format."""
        if not value:
            return None
        try:
            data = self._serializer.loads(value, max_age=self.max_age)
            return LoginCookie(int(data["a"]), str(data["l"]), data.get("p"), str(data["c"]))
        except (BadSignature, SignatureExpired, KeyError, TypeError, ValueError):
            return None


def _cookie_header(value: str, max_age: int, *, framed: bool, secure: bool) -> str:
    """The ``Set-Cookie`` value of the login cookie.

    Written by hand: Python's ``http.cookies`` (3.11, used by aiohttp) refuses the
    ``Partitioned`` attribute. Framed by a CAD of another site, the cookie must be sent in a
    third-party context (``SameSite=None``, which requires ``Secure``) and be kept in that site's
    partition (``Partitioned``: browsers that block third-party cookies keep partitioned ones).
    The CSRF token it carries still guards every unsafe request.
    """
    parts = [f"{COOKIE_NAME}={value}", "Path=/", f"Max-Age={max_age}", "HttpOnly"]
    if framed:
        parts += ["Secure", "SameSite=None", "Partitioned"]
    else:
        parts += [*(["Secure"] if secure else []), "SameSite=Strict"]
    return "; ".join(parts)


def set_login_cookie(
    response: web.StreamResponse,
    value: str,
    max_age: int,
    *,
    framed: bool,
    secure: bool,
) -> None:
    """Set the console login cookie on ``response`` (framed: for an iframe of another site)."""
    response.headers.add("Set-Cookie", _cookie_header(value, max_age, framed=framed, secure=secure))


def clear_login_cookie(response: web.StreamResponse, *, framed: bool, secure: bool) -> None:
    """Remove the console login cookie (with the attributes it was set with, or a framed
    browser would keep it)."""
    response.headers.add("Set-Cookie", _cookie_header('""', 0, framed=framed, secure=secure))


CLOSE_LOGGED_OUT = 4401
"""WebSocket close code of a console whose login was revoked (logout, account disabled)."""


@dataclass
class LiveConsoles:
    """The console WebSockets open per login, so that revoking a login closes them."""

    recheck_interval: float = 30.0
    """How often an open console checks that its login still exists (revoked elsewhere: the
    command line, another instance)."""
    _sockets: dict[str, set[web.WebSocketResponse]] = field(default_factory=dict)

    def add(self, login_id: str, ws: web.WebSocketResponse) -> None:
        """A console socket of ``login_id`` opened."""
        self._sockets.setdefault(login_id, set()).add(ws)

    def count(self) -> int:
        """How many console sockets are open."""
        return sum(len(sockets) for sockets in self._sockets.values())

    def discard(self, login_id: str, ws: web.WebSocketResponse) -> None:
        """A console socket of ``login_id`` closed."""
        sockets = self._sockets.get(login_id)
        if sockets is not None:
            sockets.discard(ws)
            if not sockets:
                del self._sockets[login_id]

    async def close(self, login_ids: list[str] | set[str]) -> None:
        """Close every socket of these logins (revoked)."""
        sockets = [ws for login_id in login_ids for ws in self._sockets.get(login_id, ())]
        # A socket that fails to close (its peer already gone) must not keep the others open.
        await asyncio.gather(
            *(ws.close(code=CLOSE_LOGGED_OUT, message=b"logged out") for ws in sockets),
            return_exceptions=True,
        )


def load_secret_key(data_dir: Path) -> bytes:
    """The service's signing key, created on first start (mode 0600) so logins survive restarts."""
    path = data_dir / "secret.key"
    if path.exists():
        return path.read_bytes()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    # Written whole under another name, then linked: instances starting together on one shared
    # folder all end with the key that was linked first (a link never replaces a file).
    draft = data_dir / f".secret.key.{os.getpid()}.{secrets.token_hex(4)}"
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(key)
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(draft, path)
        except FileExistsError:
            return path.read_bytes()
    finally:
        draft.unlink(missing_ok=True)
    return key
