"""The tokens kept for a retry are sealed: only the service's key opens them, each for its own
invitation, until the link expires."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from visioregul.integration.sessions.models import Invitation, VisioSession
from visioregul.integration.sessions.retry_tokens import (
    RetryToken,
    RetryTokens,
    purge_expired_tokens,
)
from visioregul.integration.sessions.tokens import new_token
from visioregul.integration.store.models import utcnow

SECRET = bytes(range(32))


async def _invitation(db: AsyncSession, expires_in: timedelta) -> Invitation:
    session = VisioSession(id=secrets.token_hex(16), state="created", created_by="arm1")
    db.add(session)
    await db.flush()
    invitation = Invitation(
        id=secrets.token_hex(16),
        session_id=session.id,
        role="patient",
        channel="sms",
        destination="+33612345678",
        token_hash=secrets.token_hex(32),
        created_by="arm1",
        expires_at=utcnow() + expires_in,
    )
    db.add(invitation)
    await db.flush()
    return invitation


def test_given_a_sealed_token_then_only_its_key_and_its_invitation_open_it() -> None:
    tokens = RetryTokens.from_secret(SECRET)
    token, _hash = new_token()
    sealed = tokens.seal("a" * 32, token)
    assert token.encode() not in sealed
    assert tokens.seal("a" * 32, token) != sealed, "a fresh nonce each time"
    assert tokens.open("a" * 32, sealed) == token
    assert tokens.open("b" * 32, sealed) is None
    assert RetryTokens.from_secret(bytes(32)).open("a" * 32, sealed) is None


async def test_given_kept_tokens_then_found_until_forgotten_or_expired(
    session: AsyncSession,
) -> None:
    tokens = RetryTokens.from_secret(SECRET)
    live = await _invitation(session, timedelta(hours=1))
    expired = await _invitation(session, timedelta(seconds=-1))
    token, _hash = new_token()
    await tokens.keep(session, live.id, token, live.expires_at)
    await tokens.keep(session, expired.id, token, expired.expires_at)
    await session.flush()
    assert await tokens.find(session, live.id) == token
    assert await tokens.find(session, expired.id) is None
    assert await RetryTokens.from_secret(bytes(32)).find(session, live.id) is None

    assert await purge_expired_tokens(session) == 1
    assert await session.scalar(select(func.count()).select_from(RetryToken)) == 1
    await tokens.forget(session, live.id)
    assert await tokens.find(session, live.id) is None
