"""The audit log: who did what on the console and the CAD API, and when.

Append-only: this module only adds and reads entries (entries older than
``audit.retention_days`` are purged by :mod:`.retention`, and by nothing else). Functions take
the caller's ``AsyncSession`` and never commit, so an entry lands in the same transaction as the
action it records (or not at all).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .store.models import Account, AuditEntry, Position, utcnow

__all__ = ["ACTOR_SYSTEM", "cad_actor", "recent", "record"]

ACTOR_SYSTEM = "system"
"""Actor of what the service does by itself (start-up, expiry, clean-up)."""

_ACTION_RE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
_ACTOR_MAX_LENGTH = 128
_TARGET_MAX_LENGTH = 128
_ACTION_MAX_LENGTH = 64


def cad_actor(key_id: str) -> str:
    """The actor name of a CAD API client, from the id of its key."""
    return f"cad:{key_id}"


async def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    target: str | None = None,
    details: Mapping[str, Any] | None = None,
    centre_id: int | None = None,
) -> AuditEntry:
    """Append an entry and flush it (so it has its id and time).

    ``action`` is a dotted slug such as ``console.login``; ``details`` must be JSON-serialisable.
    The entry belongs to ``centre_id``, or when not given to the actor's centre (an account's,
    a desk's); the service's own actions and unknown actors belong to none. Bad arguments are
    programming errors and raise :class:`ValueError`.
    """
    if not actor or len(actor) > _ACTOR_MAX_LENGTH:
        raise ValueError(f"actor must be 1 to {_ACTOR_MAX_LENGTH} characters: {actor!r}")
    if len(action) > _ACTION_MAX_LENGTH or not _ACTION_RE.fullmatch(action):
        raise ValueError(f"action must be a dotted slug such as 'console.login': {action!r}")
    if target is not None and len(target) > _TARGET_MAX_LENGTH:
        raise ValueError(f"target must be at most {_TARGET_MAX_LENGTH} characters")
    try:
        # Fail here, with the caller in the traceback, rather than at flush. The round trip also
        # makes a deep copy, in the form it will be read back (tuples become lists).
        payload: dict[str, Any] = json.loads(json.dumps(dict(details or {}), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"details must be JSON-serialisable: {exc}") from exc
    if centre_id is None:
        centre_id = await _centre_of(session, actor)
    entry = AuditEntry(
        at=utcnow(),
        actor=actor,
        action=action,
        target=target,
        details=payload,
        centre_id=centre_id,
    )
    session.add(entry)
    await session.flush()
    return entry


async def _centre_of(session: AsyncSession, actor: str) -> int | None:
    if actor.startswith("position:"):
        endpoint = actor.removeprefix("position:")
        # A desk declared in one centre only (the settings check it).
        return await session.scalar(
            select(Position.centre_id).where(Position.endpoint == endpoint).limit(1)
        )
    if ":" in actor or actor == ACTOR_SYSTEM:
        return None  # a CAD key, the service itself
    return await session.scalar(select(Account.centre_id).where(Account.username == actor))


async def recent(
    session: AsyncSession, *, limit: int = 100, action: str | None = None
) -> list[AuditEntry]:
    """The latest entries, newest first, optionally only those of one ``action``."""
    if limit < 1:
        raise ValueError(f"limit must be positive: {limit}")
    # Ids follow insertion order; timestamps can tie within a clock tick.
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    result = await session.scalars(query)
    return list(result)
