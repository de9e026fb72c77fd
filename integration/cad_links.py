"""The CAD's deep link into the console: a short-lived signed token (JWT), used once.

The CAD signs, for one regulator at one position and optionally one call, a token that lives a
minute at most (``cad_link`` settings: its issuers, each with a shared secret for HS256 or the
CAD's public key for RS256/ES256, the audience, the longest lifetime). The service checks the
signature with the issuer's own key and algorithm only (never the algorithm the token names),
the issuer, the audience, the expiry and the lifetime, then records its ``jti`` in the database
so that no instance of the service accepts it twice. An issuer may be bound to one centre: its
token then signs in that centre's regulators only (checked with the account, by the console).
PyJWT does the JOSE; nothing here knows HTTP: a refusal is a :class:`CadLinkRefused` naming its
reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import jwt
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from .settings import CadIssuer, CadLinkSettings
from .store.models import CadLinkToken, utcnow
from .telephony.facts import normalize_position

__all__ = [
    "UNVERIFIED",
    "CadLink",
    "CadLinkRefused",
    "Refusal",
    "consume",
    "purge_used",
    "verify",
]

log = logging.getLogger(__name__)

MAX_TOKEN_LENGTH = 4096
"""Longer than any honest token (a few hundred characters); refused before parsing."""
_MAX_JTI = 128
_MAX_CALL = 128


class Refusal(StrEnum):
    """Why a token opens nothing (each has its own French text on the refusal page)."""

    INVALID = "invalid"
    """Not a token, forged, of an unknown issuer, for another audience, or missing a claim."""
    EXPIRED = "expired"
    """Past its ``exp``, or issued in the future."""
    TOO_LONG_LIVED = "too_long_lived"
    """``exp - iat`` longer than ``cad_link.max_lifetime``."""
    REPLAYED = "replayed"
    """Its ``jti`` was used already."""
    UNKNOWN_ACCOUNT = "unknown_account"
    """No enabled regulator or doctor of that username."""
    POSITION_NOT_ALLOWED = "position_not_allowed"
    """Not a position, or not one the account may take."""
    DISABLED = "disabled"
    """The deep link is off (no issuer configured)."""
    RATE_LIMITED = "rate_limited"
    """Too many attempts from one client address."""


UNVERIFIED = frozenset({Refusal.INVALID, Refusal.DISABLED, Refusal.RATE_LIMITED})
"""Refusals of a token whose signature was not (or not successfully) checked: what it claims
names nobody for sure."""


class CadLinkRefused(Exception):
    """The token is refused; ``reason`` says why, ``claims`` what could be read (for the audit)."""

    def __init__(self, reason: Refusal, claims: dict[str, object] | None = None) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.claims = claims or {}


@dataclass(frozen=True, slots=True)
class CadLink:
    """What a verified token asks for."""

    issuer: str
    jti: str
    username: str
    """The regulator (``sub``)."""
    position: str
    """The desk phone's endpoint (``position``), normalized."""
    call: str | None
    """The call (``call``: the call id, or an Asterisk Uniqueid or Linkedid), if named."""
    expires_at: datetime
    centre: str | None = None
    """The code of the only centre whose regulators the issuer may sign in (its settings'
    ``centre``); None: any centre's."""


def _unverified(token: str) -> dict[str, object]:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise CadLinkRefused(Refusal.INVALID) from None
    if not isinstance(claims, dict):
        raise CadLinkRefused(Refusal.INVALID)
    return claims


def _readable(claims: dict[str, object]) -> dict[str, object]:
    """The claims worth an audit line, cut short (they are not trusted yet)."""
    return {
        key: str(claims[key])[:128]
        for key in ("iss", "sub", "jti", "position", "call")
        if key in claims
    }


def _key(issuer: CadIssuer) -> str:
    if issuer.algorithm == "HS256":
        assert issuer.secret is not None  # checked by the settings
        return issuer.secret.get_secret_value()
    assert issuer.public_key is not None
    return issuer.public_key


def verify(token: str, settings: CadLinkSettings, now: datetime | None = None) -> CadLink:
    """Check ``token``'s signature, issuer, audience, expiry, lifetime and claims.

    Raise :class:`CadLinkRefused` otherwise. The ``jti`` is not consumed here (:func:`consume`).
    """
    if not settings.issuers:
        raise CadLinkRefused(Refusal.DISABLED)
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise CadLinkRefused(Refusal.INVALID)
    unverified = _unverified(token)
    seen = _readable(unverified)
    issuer = next((i for i in settings.issuers if i.issuer == unverified.get("iss")), None)
    if issuer is None:
        raise CadLinkRefused(Refusal.INVALID, seen)
    now = now or datetime.now(UTC)
    try:
        claims = jwt.decode(
            token,
            _key(issuer),
            algorithms=[issuer.algorithm],
            audience=settings.audience,
            issuer=issuer.issuer,
            leeway=settings.clock_skew,
            options={"require": ["exp", "iat", "jti", "sub", "aud", "iss"], "verify_iat": True},
        )
    except jwt.ExpiredSignatureError:
        raise CadLinkRefused(Refusal.EXPIRED, seen) from None
    except jwt.ImmatureSignatureError:
        raise CadLinkRefused(Refusal.EXPIRED, seen) from None
    except jwt.PyJWTError as exc:
        log.info("CAD link token of %s refused: %s", issuer.issuer, exc)
        raise CadLinkRefused(Refusal.INVALID, seen) from None
    exp, iat = claims["exp"], claims["iat"]
    if not isinstance(exp, int | float) or not isinstance(iat, int | float):
        raise CadLinkRefused(Refusal.INVALID, seen)
    if exp - iat > settings.max_lifetime:
        raise CadLinkRefused(Refusal.TOO_LONG_LIVED, seen)
    # PyJWT checks ``exp`` against its own clock; ``now`` lets tests and callers pin it.
    if exp + settings.clock_skew <= now.timestamp() or iat - settings.clock_skew > now.timestamp():
        raise CadLinkRefused(Refusal.EXPIRED, seen)
    jti, sub, position, call = (claims.get(k) for k in ("jti", "sub", "position", "call"))
    if not isinstance(jti, str) or not 8 <= len(jti) <= _MAX_JTI:
        raise CadLinkRefused(Refusal.INVALID, seen)
    if not isinstance(sub, str) or not 1 <= len(sub) <= 64:
        raise CadLinkRefused(Refusal.INVALID, seen)
    if not isinstance(position, str):
        raise CadLinkRefused(Refusal.INVALID, seen)
    normalized = normalize_position(position[:80])
    if normalized is None:
        raise CadLinkRefused(Refusal.POSITION_NOT_ALLOWED, seen)
    if call is not None and (not isinstance(call, str) or not 1 <= len(call) <= _MAX_CALL):
        raise CadLinkRefused(Refusal.INVALID, seen)
    return CadLink(
        issuer=issuer.issuer,
        jti=jti,
        username=sub,
        position=normalized,
        call=call,
        expires_at=datetime.fromtimestamp(exp, UTC),
        centre=issuer.centre,
    )


async def consume(db: AsyncSession, link: CadLink) -> None:
    """Record ``link``'s ``jti`` as used; raise ``CadLinkRefused(REPLAYED)`` if it was already.

    The primary key decides, in the database: two instances given the same token at once cannot
    both succeed. Runs in a savepoint, so that the caller's transaction goes on after a replay
    (to write the audit entry).
    """
    try:
        async with db.begin_nested():
            db.add(
                CadLinkToken(
                    issuer=link.issuer, jti=link.jti, used_at=utcnow(), expires_at=link.expires_at
                )
            )
    except IntegrityError:
        raise CadLinkRefused(
            Refusal.REPLAYED,
            {"iss": link.issuer, "sub": link.username, "jti": link.jti},
        ) from None


async def purge_used(db: AsyncSession) -> int:
    """Delete the used tokens past their expiry (refused as expired anyway); return how many."""
    result = await db.execute(delete(CadLinkToken).where(CadLinkToken.expires_at <= utcnow()))
    return int(getattr(result, "rowcount", 0) or 0)
