"""Console login sessions: a signed, time-limited cookie (itsdangerous).

The cookie holds the account id, the bound position and a CSRF token; it is signed with the
service's secret key so it survives a restart of the service (pages reconnect by themselves).
Revocation is by account: every request re-reads the account and refuses a disabled one.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

__all__ = ["COOKIE_NAME", "ConsoleSession", "SessionCodec", "load_secret_key"]

COOKIE_NAME = "visioregul_session"


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """What a console login carries."""

    account_id: int
    position: str | None
    csrf_token: str

    def with_position(self, position: str | None) -> ConsoleSession:
        """The same session bound to another position."""
        return replace(self, position=position)


class SessionCodec:
    """Signs and verifies console session cookies."""

    def __init__(self, secret_key: bytes, max_age: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="visioregul.console")
        self.max_age = max_age

    def new(self, account_id: int, position: str | None) -> ConsoleSession:
        """A fresh session with a new CSRF token."""
        return ConsoleSession(account_id, position, secrets.token_urlsafe(24))

    def dumps(self, session: ConsoleSession) -> str:
        """The cookie value for ``session``."""
        return self._serializer.dumps(
            {"a": session.account_id, "p": session.position, "c": session.csrf_token}
        )

    def loads(self, value: str | None) -> ConsoleSession | None:
        """The session in a cookie value; None when absent, forged or expired."""
        if not value:
            return None
        try:
            data = self._serializer.loads(value, max_age=self.max_age)
            return ConsoleSession(int(data["a"]), data.get("p"), str(data["c"]))
        except (BadSignature, SignatureExpired, KeyError, TypeError, ValueError):
            return None


def load_secret_key(data_dir: Path) -> bytes:
    """The service's signing key, created on first start (mode 0600) so logins survive restarts."""
    path = data_dir / "secret.key"
    if path.exists():
        return path.read_bytes()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    path.touch(mode=0o600)
    path.write_bytes(key)
    return key
