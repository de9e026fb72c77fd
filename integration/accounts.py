"""Console accounts: creation, password checks, sign-in.

Every function that touches the database takes the caller's ``AsyncSession`` and never commits:
the caller owns the transaction (``async with sessionmaker.begin() as session: ...``).

Passwords are hashed with Argon2id. Hashing is deliberately slow and memory-hungry, so the async
functions run it in a worker thread to keep the event loop (calls, WebSockets) responsive.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Sequence
from typing import Any, ClassVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from . import positions as declared
from .store.models import Account, Position, Role, account_positions, utcnow

__all__ = [
    "PASSWORD_MAX_LENGTH",
    "PASSWORD_MIN_LENGTH",
    "AccountError",
    "InvalidDisplayName",
    "InvalidPosition",
    "InvalidUsername",
    "PasswordTooLong",
    "UsernameTaken",
    "WeakPassword",
    "account_positions_of",
    "authenticate",
    "create_account",
    "declared_positions",
    "ensure_account",
    "get_account",
    "get_account_by_username",
    "hash_password",
    "normalize_username",
    "password_needs_rehash",
    "verify_password",
]

PASSWORD_MIN_LENGTH = 12
"""Shortest password accepted."""
PASSWORD_MAX_LENGTH = 1024
"""Longest password accepted: hashing an arbitrarily long one would be a cheap way to load us."""

_USERNAME_RE = re.compile(r"[a-z0-9._-]{3,64}")
_DISPLAY_NAME_MAX_LENGTH = 128

_hasher = PasswordHasher()


class AccountError(Exception):
    """An account operation that cannot be done as asked.

    ``error_id`` is a stable slug that the user interface translates; ``message`` is English for
    logs and API clients.
    """

    status_code: ClassVar[int] = 400
    error_id: ClassVar[str] = "account-error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details


class InvalidUsername(AccountError):
    """The username is not 3 to 64 characters among ``a-z 0-9 . _ -``."""

    error_id = "invalid-username"


class UsernameTaken(AccountError):
    """Another account already has this username (compared case-insensitively)."""

    status_code = 409
    error_id = "username-taken"


class WeakPassword(AccountError):
    """The password is shorter than :data:`PASSWORD_MIN_LENGTH`."""

    error_id = "weak-password"


class PasswordTooLong(AccountError):
    """The password is longer than :data:`PASSWORD_MAX_LENGTH`."""

    error_id = "password-too-long"


class InvalidDisplayName(AccountError):
    """The display name is empty or too long."""

    error_id = "invalid-display-name"


class InvalidPosition(AccountError):
    """A position is empty, too long, or does not match ``telephony.position_pattern``."""

    error_id = "invalid-position"


def hash_password(password: str) -> str:
    """Hash ``password`` with Argon2id (CPU- and memory-heavy: avoid calling it on the loop)."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``; a malformed hash never matches."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    """Whether ``password_hash`` was made with weaker parameters than the current ones."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@functools.cache
def _dummy_hash() -> str:
    # Hashed once, on the first unknown username: verifying against it costs what a real check
    # costs, so response times do not reveal which usernames exist.
    return hash_password("visioregul-no-such-account")


def _verify_dummy(password: str) -> None:
    verify_password(_dummy_hash(), password)


def normalize_username(username: str) -> str:
    """The stored form of ``username`` (lower case, surrounding spaces removed).

    Raises :class:`InvalidUsername` if it is not 3 to 64 characters among ``a-z 0-9 . _ -``.
    """
    # ASCII first: some non-ASCII letters lower-case to ASCII ones (KELVIN SIGN -> "k").
    normalized = username.strip().lower()
    if not username.isascii() or not _USERNAME_RE.fullmatch(normalized):
        raise InvalidUsername(
            "username must be 3 to 64 characters among a-z, 0-9, '.', '_' and '-'",
            username=username,
        )
    return normalized


def _check_password(password: str) -> None:
    if len(password) < PASSWORD_MIN_LENGTH:
        raise WeakPassword(
            f"password must be at least {PASSWORD_MIN_LENGTH} characters long",
            min_length=PASSWORD_MIN_LENGTH,
        )
    if len(password) > PASSWORD_MAX_LENGTH:
        raise PasswordTooLong(
            f"password must be at most {PASSWORD_MAX_LENGTH} characters long",
            max_length=PASSWORD_MAX_LENGTH,
        )


def _check_display_name(display_name: str) -> str:
    cleaned = display_name.strip()
    if not cleaned or len(cleaned) > _DISPLAY_NAME_MAX_LENGTH:
        raise InvalidDisplayName(
            f"display name must be 1 to {_DISPLAY_NAME_MAX_LENGTH} characters long",
            max_length=_DISPLAY_NAME_MAX_LENGTH,
        )
    return cleaned


def _check_positions(
    position: str | None, positions: Sequence[str], pattern: str | None
) -> tuple[str | None, list[str]]:
    """The default position and every position the account may take (the default first)."""
    try:
        allowed = [declared.check_position(p, pattern) for p in positions]
        default = declared.check_position(position, pattern) if position is not None else None
    except declared.InvalidPosition as exc:
        raise InvalidPosition(exc.message, position=exc.position) from exc
    if default is None and allowed:
        default = allowed[0]
    ordered = list(dict.fromkeys([default, *allowed] if default else allowed))
    return default, ordered


async def _grant_positions(
    session: AsyncSession, account: Account, endpoints: Sequence[str]
) -> None:
    """Make ``endpoints`` exactly the positions ``account`` may take, declaring missing ones."""
    granted = await declared.declare_positions(session, endpoints, centre_id=account.centre_id)
    await session.execute(
        delete(account_positions).where(account_positions.c.account_id == account.id)
    )
    if granted:
        await session.execute(
            insert(account_positions),
            [{"account_id": account.id, "position_id": p.id} for p in granted],
        )


async def account_positions_of(session: AsyncSession, account: Account) -> list[str]:
    """The positions ``account`` may take, sorted: those it was given, or every position its
    centre declares when it was given none (a centre that does not assign desks)."""
    rows = await session.scalars(
        select(Position.endpoint)
        .join(account_positions, account_positions.c.position_id == Position.id)
        .where(account_positions.c.account_id == account.id)
        .order_by(Position.endpoint)
    )
    given = list(rows)
    if given:
        return given
    return await declared.declared_positions(session, centre_id=account.centre_id)


async def declared_positions(session: AsyncSession) -> list[str]:
    """Every position the centre declares (what the telephony may take for a regulator's desk)."""
    return await declared.declared_positions(session)


async def get_account(session: AsyncSession, account_id: int) -> Account | None:
    """The account with id ``account_id``, if any."""
    return await session.get(Account, account_id)


async def display_names(session: AsyncSession, usernames: Sequence[str]) -> dict[str, str]:
    """The display names of those of ``usernames`` that are accounts, by username."""
    if not usernames:
        return {}
    result = await session.execute(
        select(Account.username, Account.display_name).where(Account.username.in_(set(usernames)))
    )
    return {username: display_name for username, display_name in result.all()}


async def get_account_by_username(session: AsyncSession, username: str) -> Account | None:
    """The account named ``username`` (case-insensitively), if any."""
    try:
        normalized = normalize_username(username)
    except InvalidUsername:
        return None
    result = await session.execute(select(Account).where(Account.username == normalized))
    return result.scalar_one_or_none()


async def create_account(
    session: AsyncSession,
    username: str,
    password: str,
    *,
    display_name: str,
    role: Role,
    position: str | None = None,
    positions: Sequence[str] = (),
    position_pattern: str | None = None,
) -> Account:
    """Create an enabled account and flush it (so it has its id).

    The account may take ``positions`` and ``position`` (its default, else the first of
    ``positions``); positions not yet declared are declared, if they match ``position_pattern``.

    Raises :class:`InvalidUsername`, :class:`WeakPassword`, :class:`PasswordTooLong`,
    :class:`InvalidDisplayName`, :class:`InvalidPosition` or :class:`UsernameTaken`.
    """
    normalized = normalize_username(username)
    _check_password(password)
    display_name = _check_display_name(display_name)
    position, allowed = _check_positions(position, positions, position_pattern)
    if await get_account_by_username(session, normalized) is not None:
        raise UsernameTaken(f"username {normalized!r} is taken", username=normalized)
    account = Account(
        username=normalized,
        display_name=display_name,
        role=Role(role),
        position=position,
        disabled=False,
        password_hash=await asyncio.to_thread(hash_password, password),
    )
    try:
        # A savepoint, so that losing a race for the name leaves the caller's transaction usable.
        async with session.begin_nested():
            session.add(account)
    except IntegrityError as exc:
        raise UsernameTaken(f"username {normalized!r} is taken", username=normalized) from exc
    await _grant_positions(session, account, allowed)
    return account


async def ensure_account(
    session: AsyncSession,
    username: str,
    password: str,
    *,
    display_name: str,
    role: Role,
    position: str | None = None,
    positions: Sequence[str] = (),
    position_pattern: str | None = None,
) -> Account:
    """Create the account, or bring an existing one to exactly these values.

    Idempotent: an existing account gets the new password, name, role and positions, and is
    enabled again. Meant for provisioning (the demo's account), not for users' own changes.
    """
    existing = await get_account_by_username(session, username)
    if existing is None:
        return await create_account(
            session,
            username,
            password,
            display_name=display_name,
            role=role,
            position=position,
            positions=positions,
            position_pattern=position_pattern,
        )
    # Everything is checked before anything changes: a refused call leaves the account as it was.
    _check_password(password)
    display_name = _check_display_name(display_name)
    position, allowed = _check_positions(position, positions, position_pattern)
    role = Role(role)
    existing.password_hash = await asyncio.to_thread(hash_password, password)
    existing.display_name = display_name
    existing.role = role
    existing.position = position
    existing.disabled = False
    await session.flush()
    await _grant_positions(session, existing, allowed)
    return existing


async def authenticate(session: AsyncSession, username: str, password: str) -> Account | None:
    """The account if ``password`` is right for ``username`` and the account is enabled.

    Unknown, disabled and wrong-password cases all return ``None`` and take about the same time.
    On success, ``last_login_at`` is set and an outdated hash is upgraded.
    """
    account = await get_account_by_username(session, username)
    if account is None:
        await asyncio.to_thread(_verify_dummy, password)
        return None
    if not await asyncio.to_thread(verify_password, account.password_hash, password):
        return None
    if account.disabled:
        return None
    if password_needs_rehash(account.password_hash):
        account.password_hash = await asyncio.to_thread(hash_password, password)
    account.last_login_at = utcnow()
    await session.flush()
    return account
