"""Account administration from the command line: list, disable, remove.

Disabling is the normal way to end someone's access: the account can no longer sign in, its live
console logins are revoked at once, and every history that names it stays readable. Removing is
for an account that never did anything (created by mistake): an account whose name appears in a
session's log or in the audit log beyond its own creation is refused, so that no history ends up
naming somebody unknown. Functions take the caller's ``AsyncSession`` and never commit.
"""

from __future__ import annotations

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from . import console_logins
from .accounts import AccountError, get_account_by_username
from .sessions.models import SessionEvent, VisioSession
from .store.models import Account, AuditEntry

__all__ = [
    "AccountHasHistory",
    "UnknownAccount",
    "disable_account",
    "list_accounts",
    "remove_account",
]

_ADMIN_ACTIONS = ("account.saved", "account.disabled")
"""Audit actions about an account that are not its history (what an admin did to it)."""


class UnknownAccount(AccountError):
    """No account has that name."""

    def __init__(self, username: str) -> None:
        super().__init__(f"no account named {username!r}")


class AccountHasHistory(AccountError):
    """The account appears in session logs or in the audit log: it can only be disabled."""

    def __init__(self, username: str) -> None:
        super().__init__(
            f"account {username!r} has a history (sessions or audit entries name it) and cannot "
            f"be removed; disable it instead: visioregul account disable {username}"
        )


async def list_accounts(session: AsyncSession) -> list[Account]:
    """Every account, by username."""
    return list(await session.scalars(select(Account).order_by(Account.username)))


async def disable_account(session: AsyncSession, username: str) -> tuple[Account, int]:
    """Disable the account and revoke its live logins; return it and how many were revoked."""
    account = await get_account_by_username(session, username)
    if account is None:
        raise UnknownAccount(username)
    account.disabled = True
    revoked = await console_logins.revoke_account(session, account.id)
    await session.flush()
    return account, len(revoked)


async def remove_account(session: AsyncSession, username: str) -> Account:
    """Delete an account that has no history; raise ``AccountHasHistory`` otherwise."""
    account = await get_account_by_username(session, username)
    if account is None:
        raise UnknownAccount(username)
    name = account.username
    named = await session.scalar(
        select(
            or_(
                exists().where(AuditEntry.actor == name, AuditEntry.action.not_in(_ADMIN_ACTIONS)),
                exists().where(or_(VisioSession.created_by == name, VisioSession.ended_by == name)),
                exists().where(SessionEvent.actor == name),
            )
        )
    )
    if named:
        raise AccountHasHistory(name)
    await console_logins.revoke_account(session, account.id)
    await session.delete(account)
    await session.flush()
    return account
