"""Live console logins: opened at sign-in, checked on each request and socket, revoked server-side.

A console cookie is signed, so its signature alone would stay valid until it expires; the row
named by the cookie is what makes it worth something. Logging out deletes that row; disabling an
account deletes all of its rows. Functions take the caller's ``AsyncSession`` and never commit.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from .store.models import ConsoleLogin, utcnow

__all__ = ["is_live", "open_login", "purge_expired", "revoke", "revoke_account"]


async def open_login(session: AsyncSession, account_id: int, max_age: int) -> str:
    """Record a new login of ``account_id`` lasting ``max_age`` seconds; return its id."""
    login_id = secrets.token_urlsafe(16)
    now = utcnow()
    session.add(
        ConsoleLogin(
            id=login_id,
            account_id=account_id,
            created_at=now,
            expires_at=now + timedelta(seconds=max_age),
        )
    )
    await session.flush()
    return login_id


async def is_live(session: AsyncSession, login_id: str, account_id: int) -> bool:
    """Whether the login exists, belongs to ``account_id`` and has not expired."""
    login = await session.get(ConsoleLogin, login_id)
    return login is not None and login.account_id == account_id and login.expires_at > utcnow()


async def revoke(session: AsyncSession, login_id: str) -> None:
    """End one login (logout); nothing happens when it is already gone."""
    await session.execute(delete(ConsoleLogin).where(ConsoleLogin.id == login_id))


async def revoke_account(session: AsyncSession, account_id: int) -> list[str]:
    """End every login of an account (disabled, removed); return the ids that were live."""
    ids = list(
        await session.scalars(select(ConsoleLogin.id).where(ConsoleLogin.account_id == account_id))
    )
    if ids:
        await session.execute(delete(ConsoleLogin).where(ConsoleLogin.account_id == account_id))
    return ids


async def purge_expired(session: AsyncSession) -> int:
    """Delete the rows of logins whose cookie has expired anyway; return how many."""
    result = await session.execute(delete(ConsoleLogin).where(ConsoleLogin.expires_at <= utcnow()))
    return int(getattr(result, "rowcount", 0) or 0)
