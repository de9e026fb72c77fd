"""Centre administration: who may manage which centre, the centres, their settings and positions.

A **centre administrator** (``admin``) manages their own centre only: another centre is answered
exactly like an unknown one. A **platform administrator** (``platform_admin``) manages every
centre and alone creates centres. Regulators and doctors manage nothing (the authorization table
already refuses them; :func:`check_admin` refuses them again here).

Positions: an account given some positions may take only those; an account given none may take
every position of its centre. Removing a position is therefore refused while an account of the
centre has it as its only given position: that account would silently gain every desk of the
centre. Sessions keep the position they were at as text, so removing one never touches history.

Saving a centre, adding or removing a position calls a hook (:data:`CentreSaved`) inside the same
transaction, so that the service's directory of centres reloads what it caches (each centre's time
zone, which centre a desk belongs to). A centre declared in the configuration file
(``[[centres]]``) keeps its name and time zone there: they are written again at each start, so
the console refuses to change them (:class:`CentreInConfiguration`).

Everything an administrator does goes to the audit log (actor, target, centre). Functions take
the caller's ``AsyncSession`` and never commit; they raise :class:`~.errors.DomainError`\\ s.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from . import audit
from . import positions as declared
from .authorization import Principal
from .errors import DomainError
from .settings import CENTRE_CODE
from .store.models import Account, Centre, Position, Role, account_positions

__all__ = [
    "ADMIN_ROLES",
    "FRENCH_TIME_ZONES",
    "AccountNameTaken",
    "AccountNotFound",
    "AccountRefused",
    "CentreCodeTaken",
    "CentreInConfiguration",
    "CentreNotFound",
    "CentreSaved",
    "InvalidCentre",
    "InvalidTimeZone",
    "PasswordChangeRequired",
    "PositionInUse",
    "PositionNotDeclared",
    "RoleNotAllowed",
    "SelfChangeRefused",
    "add_position",
    "check_admin",
    "check_centre",
    "create_centre",
    "grantable_roles",
    "position_holders",
    "record",
    "remove_position",
    "save_centre",
    "visible_centres",
]

ADMIN_ROLES: frozenset[Role] = frozenset({Role.ADMIN, Role.PLATFORM_ADMIN})
"""The roles that administer (and see no session, call or video)."""

FRENCH_TIME_ZONES: tuple[str, ...] = (
    "Europe/Paris",
    "America/Guadeloupe",
    "America/Martinique",
    "America/Cayenne",
    "America/Miquelon",
    "America/St_Barthelemy",
    "America/Marigot",
    "Indian/Reunion",
    "Indian/Mayotte",
    "Pacific/Noumea",
    "Pacific/Tahiti",
    "Pacific/Marquesas",
    "Pacific/Gambier",
    "Pacific/Wallis",
    "Indian/Kerguelen",
)
"""The time zones of France's territories, offered first (any IANA zone is accepted)."""

_NAME_MAX_LENGTH = 128

CentreSaved = Callable[[AsyncSession], Awaitable[None]]
"""Called after a centre is created or its settings saved, in the same transaction."""


class CentreNotFound(DomainError):
    """No such centre, or one the administrator does not manage (answered alike)."""

    error_id = "centre_not_found"


class AccountNotFound(DomainError):
    """No such account in the centre (another centre's is answered alike)."""

    error_id = "account_not_found"


class RoleNotAllowed(DomainError):
    """A role the administrator may not give, or an account they may not manage (a platform
    administrator's, for a centre administrator)."""

    error_id = "role_not_allowed"


class SelfChangeRefused(DomainError):
    """An administrator may not deactivate, demote or reset themselves (``action``)."""

    error_id = "self_change_refused"


class AccountRefused(DomainError):
    """The account's values break the account rules (``error_id`` says which: ``weak_password``,
    ``invalid_username``, ``invalid_display_name``, ``password_too_long``, ``invalid_position``)."""

    error_id = "invalid_account"


class AccountNameTaken(DomainError):
    """Another account already has this username."""

    error_id = "username_taken"


class PositionNotDeclared(DomainError):
    """An account may be given only positions its centre declares."""

    error_id = "position_not_declared"


class PositionInUse(DomainError):
    """The position is the only one some accounts were given (``accounts``): removing it would
    let them take every position of the centre."""

    error_id = "position_in_use"


class InvalidTimeZone(DomainError):
    """Not an IANA time zone (``Europe/Paris``)."""

    error_id = "invalid_time_zone"


class InvalidCentre(DomainError):
    """A centre's code (``invalid_centre_code``) or name (``invalid_centre_name``) is invalid."""

    error_id = "invalid_centre"


class CentreCodeTaken(DomainError):
    """Another centre already has this code."""

    error_id = "centre_code_taken"


class CentreInConfiguration(DomainError):
    """The centre is declared in the configuration file (``[[centres]]``), which sets its name and
    time zone at each start: they are changed there."""

    error_id = "centre_in_configuration"


class PasswordChangeRequired(DomainError):
    """The account's password was reset by an administrator: it must choose its own first."""

    error_id = "password_change_required"


def check_admin(admin: Principal) -> None:
    """Raise :class:`RoleNotAllowed` unless ``admin`` administers."""
    if admin.role not in ADMIN_ROLES or admin.username is None:
        raise RoleNotAllowed()


def grantable_roles(admin: Principal) -> list[Role]:
    """The roles ``admin`` may give: every one for a platform administrator, all but platform
    administrator for a centre administrator."""
    if admin.role is Role.PLATFORM_ADMIN:
        return list(Role)
    return [role for role in Role if role is not Role.PLATFORM_ADMIN]


async def check_centre(db: AsyncSession, admin: Principal, centre_id: int) -> Centre:
    """The centre ``admin`` manages; raise :class:`CentreNotFound` for another or none."""
    check_admin(admin)
    if admin.role is not Role.PLATFORM_ADMIN and centre_id != admin.centre_id:
        raise CentreNotFound()
    centre = await db.get(Centre, centre_id)
    if centre is None:
        raise CentreNotFound()
    return centre


async def visible_centres(db: AsyncSession, admin: Principal) -> list[Centre]:
    """The centres ``admin`` manages, by name: every one, or their own."""
    check_admin(admin)
    query = select(Centre).order_by(Centre.name, Centre.id)
    if admin.role is not Role.PLATFORM_ADMIN:
        query = query.where(Centre.id == admin.centre_id)
    return list(await db.scalars(query))


async def record(
    db: AsyncSession,
    admin: Principal,
    action: str,
    centre: Centre,
    target: str,
    **details: Any,
) -> None:
    """Write what ``admin`` did to ``target`` of ``centre`` in the audit log."""
    assert admin.username is not None  # check_admin ran
    await audit.record(
        db,
        actor=admin.username,
        action=action,
        target=target,
        details={"centre_id": centre.id, "centre": centre.code, **details},
    )


def _check_time_zone(time_zone: str | None) -> str | None:
    if time_zone is None or not time_zone.strip():
        return None  # the service's
    cleaned = time_zone.strip()
    if cleaned not in zoneinfo.available_timezones():
        raise InvalidTimeZone(time_zone=time_zone)
    return cleaned


def _check_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > _NAME_MAX_LENGTH:
        raise InvalidCentre("invalid_centre_name", max_length=_NAME_MAX_LENGTH)
    return cleaned


async def _saved(db: AsyncSession, on_saved: CentreSaved | None) -> None:
    await db.flush()
    if on_saved is not None:
        await on_saved(db)


async def create_centre(
    db: AsyncSession,
    admin: Principal,
    code: str,
    name: str,
    time_zone: str | None,
    on_saved: CentreSaved | None = None,
) -> Centre:
    """Create a centre (platform administrators only)."""
    check_admin(admin)
    if admin.role is not Role.PLATFORM_ADMIN:
        raise RoleNotAllowed()
    cleaned = code.strip().lower()
    if not CENTRE_CODE.fullmatch(cleaned):
        raise InvalidCentre("invalid_centre_code")
    centre_name = _check_name(name)
    zone = _check_time_zone(time_zone)
    if await db.scalar(select(Centre.id).where(Centre.code == cleaned)) is not None:
        raise CentreCodeTaken(code=cleaned)
    centre = Centre(code=cleaned, name=centre_name, time_zone=zone)
    db.add(centre)
    await _saved(db, on_saved)
    await record(db, admin, "centre.created", centre, cleaned, name=centre_name, time_zone=zone)
    return centre


async def save_centre(
    db: AsyncSession,
    admin: Principal,
    centre_id: int,
    name: str,
    time_zone: str | None,
    on_saved: CentreSaved | None = None,
    configured: frozenset[str] = frozenset(),
) -> Centre:
    """Save a centre's name and time zone (None or empty: the service's); a centre whose code is
    among ``configured`` (``[[centres]]``) is refused with :class:`CentreInConfiguration`."""
    centre = await check_centre(db, admin, centre_id)
    if centre.code in configured:
        raise CentreInConfiguration(code=centre.code)
    centre_name = _check_name(name)
    zone = _check_time_zone(time_zone)
    before = {"name": centre.name, "time_zone": centre.time_zone}
    centre.name, centre.time_zone = centre_name, zone
    await _saved(db, on_saved)
    await record(
        db,
        admin,
        "centre.saved",
        centre,
        centre.code,
        before=before,
        name=centre_name,
        time_zone=zone,
    )
    return centre


async def position_holders(
    db: AsyncSession, admin: Principal, centre_id: int
) -> dict[str, list[str]]:
    """The centre's positions, sorted, each with the usernames given it explicitly."""
    await check_centre(db, admin, centre_id)
    holders: dict[str, list[str]] = {
        endpoint: [] for endpoint in await declared.declared_positions(db, centre_id=centre_id)
    }
    rows = await db.execute(
        select(Position.endpoint, Account.username)
        .join(account_positions, account_positions.c.position_id == Position.id)
        .join(Account, Account.id == account_positions.c.account_id)
        .where(Position.centre_id == centre_id)
        .order_by(Account.username)
    )
    for endpoint, username in rows.all():
        holders.setdefault(endpoint, []).append(username)
    return holders


async def add_position(
    db: AsyncSession,
    admin: Principal,
    centre_id: int,
    endpoint: str,
    pattern: str | None,
    on_saved: CentreSaved | None = None,
) -> str:
    """Declare a position of the centre (it must match ``telephony.position_pattern``)."""
    centre = await check_centre(db, admin, centre_id)
    try:
        (position,) = await declared.declare_positions(
            db, [endpoint], pattern=pattern, centre_id=centre_id
        )
    except declared.InvalidPosition as exc:
        raise AccountRefused("invalid_position", position=exc.position, pattern=pattern) from exc
    await _saved(db, on_saved)
    await record(db, admin, "position.added", centre, position.endpoint)
    return position.endpoint


async def remove_position(
    db: AsyncSession,
    admin: Principal,
    centre_id: int,
    endpoint: str,
    on_saved: CentreSaved | None = None,
) -> None:
    """Withdraw a position of the centre; refused with :class:`PositionInUse` while it is the
    only position an account was given."""
    centre = await check_centre(db, admin, centre_id)
    position = await db.scalar(
        select(Position).where(Position.centre_id == centre_id, Position.endpoint == endpoint)
    )
    if position is None:
        raise PositionNotDeclared(position=endpoint)
    given = (
        select(account_positions.c.account_id)
        .where(account_positions.c.position_id == position.id)
        .scalar_subquery()
    )
    counts = (
        select(account_positions.c.account_id)
        .where(account_positions.c.account_id.in_(given))
        .group_by(account_positions.c.account_id)
        .having(func.count() == 1)
        .scalar_subquery()
    )
    alone = list(
        await db.scalars(
            select(Account.username).where(Account.id.in_(counts)).order_by(Account.username)
        )
    )
    if alone:
        raise PositionInUse(position=endpoint, accounts=", ".join(alone))
    await declared.remove_position(db, endpoint, centre_id=centre_id)
    await _saved(db, on_saved)
    await record(db, admin, "position.removed", centre, endpoint)


async def check_declared(db: AsyncSession, centre_id: int, endpoints: Sequence[str]) -> list[str]:
    """``endpoints`` without duplicates; raise :class:`PositionNotDeclared` for one the centre
    does not declare."""
    wanted = list(dict.fromkeys(e.strip() for e in endpoints))
    known = await declared.find_positions(db, wanted, centre_id=centre_id)
    for endpoint in wanted:
        if endpoint not in known:
            raise PositionNotDeclared(position=endpoint)
    return wanted
