"""Practitioners signing in through Pro Santé Connect: their accounts, their sign-ins under way,
their console logins.

An account is found by the practitioner's national identifier (RPPS/ADELI, set with
``visioregul account practitioner``); an unknown practitioner is refused, or given an account
in the configured centre when the settings allow it. A console login that came from the
provider keeps the provider's ``sub``, ``sid`` and ID token: its back-channel logout names them,
and signing out sends the ID token back as ``id_token_hint``. Functions take the caller's
``AsyncSession`` and never commit.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from . import console_logins
from .accounts import AccountError, get_account_by_username, hash_password
from .oidc import PendingSignIn, state_hash
from .store.models import Account, ConsoleLogin, ProviderSignIn, Role, utcnow

__all__ = [
    "InvalidPractitionerId",
    "PractitionerIdTaken",
    "account_of",
    "open_provider_login",
    "provider_login",
    "provision",
    "purge_expired_sign_ins",
    "remember_sign_in",
    "revoke_provider_logins",
    "set_practitioner_id",
    "take_sign_in",
]

SIGN_IN_TTL = 600
"""Seconds a practitioner has at the provider before the sign-in must start again."""

_PRACTITIONER_ID = re.compile(r"[0-9A-Za-z]{8,32}")


class InvalidPractitionerId(AccountError):
    """A national identifier is 8 to 32 letters and digits (RPPS with its prefix, ADELI)."""

    error_id = "invalid-practitioner-id"


class PractitionerIdTaken(AccountError):
    """Another account already has that national identifier."""

    error_id = "practitioner-id-taken"


def normalize_practitioner_id(value: str) -> str:
    """The stored form of a national identifier; :class:`InvalidPractitionerId` otherwise."""
    cleaned = value.strip()
    if not _PRACTITIONER_ID.fullmatch(cleaned):
        raise InvalidPractitionerId(
            "a national identifier is 8 to 32 letters and digits", practitioner_id=value
        )
    return cleaned


# -- sign-ins under way ----------------------------------------------------------------------


async def remember_sign_in(session: AsyncSession, pending: PendingSignIn) -> None:
    """Keep what the provider's answer must match (the state only as its hash)."""
    now = utcnow()
    session.add(
        ProviderSignIn(
            state_hash=state_hash(pending.state),
            nonce=pending.nonce,
            code_verifier=pending.code_verifier,
            created_at=now,
            expires_at=now + timedelta(seconds=SIGN_IN_TTL),
        )
    )
    await session.flush()


async def take_sign_in(session: AsyncSession, state: str) -> PendingSignIn | None:
    """The sign-in that sent ``state``, removed so that it is used once; None when unknown,
    already used or expired."""
    row = await session.get(ProviderSignIn, state_hash(state), with_for_update=True)
    if row is None:
        return None
    await session.execute(delete(ProviderSignIn).where(ProviderSignIn.state_hash == row.state_hash))
    if row.expires_at <= utcnow():
        return None
    return PendingSignIn(state=state, nonce=row.nonce, code_verifier=row.code_verifier)


async def purge_expired_sign_ins(session: AsyncSession) -> int:
    """Delete sign-ins abandoned at the provider; return how many."""
    result = await session.execute(
        delete(ProviderSignIn).where(ProviderSignIn.expires_at <= utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


# -- accounts --------------------------------------------------------------------------------


async def account_of(session: AsyncSession, national_id: str) -> Account | None:
    """The account of the practitioner with this national identifier, if any."""
    return await session.scalar(select(Account).where(Account.practitioner_id == national_id))


async def set_practitioner_id(
    session: AsyncSession, username: str, national_id: str | None
) -> Account:
    """Give the account ``username`` this national identifier (None: none, password only)."""
    account = await get_account_by_username(session, username)
    if account is None:
        raise AccountError(f"no account named {username!r}")
    value = normalize_practitioner_id(national_id) if national_id is not None else None
    if value is not None:
        other = await account_of(session, value)
        if other is not None and other.id != account.id:
            raise PractitionerIdTaken(
                f"account {other.username!r} already has this national identifier",
                practitioner_id=value,
            )
    account.practitioner_id = value
    await session.flush()
    return account


async def provision(
    session: AsyncSession,
    national_id: str,
    *,
    display_name: str,
    centre_id: int,
    role: Role,
) -> Account:
    """An account for a practitioner the centre accepts without declaring them first: named
    after the identifier, no usable password (a random one, never told), no position of its
    own (any of the centre's)."""
    value = normalize_practitioner_id(national_id)
    # Argon2 is CPU-heavy: off the event loop.
    password_hash = await asyncio.to_thread(hash_password, secrets.token_urlsafe(32))
    account = Account(
        username=f"psc-{value.lower()}",
        display_name=(display_name.strip() or value)[:128],
        role=role,
        centre_id=centre_id,
        disabled=False,
        practitioner_id=value,
        password_hash=password_hash,
    )
    try:
        async with session.begin_nested():
            session.add(account)
    except IntegrityError as exc:  # the same practitioner signing in twice at once
        raise PractitionerIdTaken("already provisioned", practitioner_id=value) from exc
    return account


# -- console logins from the provider --------------------------------------------------------


async def open_provider_login(
    session: AsyncSession,
    account_id: int,
    max_age: int,
    *,
    sub: str,
    sid: str | None,
    id_token: str,
) -> str:
    """A console login (as a password's) that remembers the provider's session."""
    login_id = await console_logins.open_login(session, account_id, max_age)
    login = await session.get(ConsoleLogin, login_id)
    assert login is not None  # just flushed in this transaction
    login.provider_sub = sub[:255]
    login.provider_sid = sid[:255] if sid else None
    login.provider_id_token = id_token
    await session.flush()
    return login_id


async def provider_login(session: AsyncSession, login_id: str) -> ConsoleLogin | None:
    """The console login ``login_id`` when it came from the provider."""
    login = await session.get(ConsoleLogin, login_id)
    return login if login is not None and login.provider_sub is not None else None


async def revoke_provider_logins(
    session: AsyncSession, *, sub: str | None, sid: str | None
) -> list[tuple[str, int]]:
    """End the console logins of a provider session (``sid``), or all of a subject's when the
    logout names no session; return each login's id and account."""
    if sid is not None:
        condition = ConsoleLogin.provider_sid == sid
        if sub is not None:
            condition = condition & (ConsoleLogin.provider_sub == sub)
    elif sub is not None:
        condition = ConsoleLogin.provider_sub == sub
    else:
        return []
    rows = list(
        await session.execute(select(ConsoleLogin.id, ConsoleLogin.account_id).where(condition))
    )
    if rows:
        await session.execute(delete(ConsoleLogin).where(ConsoleLogin.id.in_([r[0] for r in rows])))
    return [(row[0], row[1]) for row in rows]
