"""A console user changes their own password: the current one is required, the new one follows
the account rules (:mod:`.accounts`), is hashed with Argon2id, and every other console login of
the account is revoked (a password known to someone else stops working everywhere but here).
Functions take the caller's ``AsyncSession`` and never commit."""

from __future__ import annotations

import asyncio

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from .accounts import (
    PASSWORD_MAX_LENGTH,
    PASSWORD_MIN_LENGTH,
    AccountError,
    PasswordTooLong,
    WeakPassword,
    hash_password,
    verify_password,
)
from .store.models import Account, ConsoleLogin

__all__ = ["SamePassword", "WrongPassword", "change_password"]


class WrongPassword(AccountError):
    """The current password given is not the account's."""

    error_id = "wrong-password"


class SamePassword(AccountError):
    """The new password is the current one."""

    error_id = "same-password"


def _check(password: str) -> None:
    if len(password) < PASSWORD_MIN_LENGTH:
        raise WeakPassword("password too short", min_length=PASSWORD_MIN_LENGTH)
    if len(password) > PASSWORD_MAX_LENGTH:
        raise PasswordTooLong("password too long", max_length=PASSWORD_MAX_LENGTH)


async def change_password(
    session: AsyncSession, account: Account, current: str, new: str, keep_login: str
) -> list[str]:
    """Set ``account``'s password to ``new`` if ``current`` is right; revoke its other logins
    (all but ``keep_login``) and return their ids, so their consoles can be closed."""
    if not await asyncio.to_thread(verify_password, account.password_hash, current):
        raise WrongPassword("wrong current password")
    _check(new)
    if new == current:
        raise SamePassword("the new password is the current one")
    account.password_hash = await asyncio.to_thread(hash_password, new)
    account.must_change_password = False  # a temporary password is now the account's own
    others = select(ConsoleLogin.id).where(
        ConsoleLogin.account_id == account.id, ConsoleLogin.id != keep_login
    )
    revoked = list(await session.scalars(others))
    if revoked:
        await session.execute(delete(ConsoleLogin).where(ConsoleLogin.id.in_(revoked)))
    await session.flush()
    return revoked
