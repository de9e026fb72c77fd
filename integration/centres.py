"""The installation's centres: declared at start from ``[[centres]]``, and which centre a call,
a line or a desk belongs to.

One telephony link serves every centre; the tagged line (the 15 of which département) tells a
call's centre, else the desk that has the call. Each centre has its time zone, used for the times
in its invitations, on its consoles, in its history and its reports.

:func:`declare_centres` writes the settings' centres to the store (created or updated by code,
never deleted); :class:`CentreDirectory` holds what is read back, for the rest of the service,
and is reloaded when a centre's time zone or desks change.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .positions import declare_positions
from .settings import Settings
from .store.models import DEFAULT_CENTRE_ID, Centre, Position
from .telephony.registry import LiveCall

__all__ = ["DEFAULT_CENTRE_CODE", "CentreDirectory", "all_positions", "declare_centres"]

log = logging.getLogger(__name__)

DEFAULT_CENTRE_CODE = "default"
"""The code of the centre every installation has (id 1, made by the migrations)."""


async def declare_centres(db: AsyncSession, settings: Settings) -> dict[str, int]:
    """Create or update the settings' centres by code (``default`` is id 1), and declare each
    one's desks in it; nothing is ever deleted. The centres' ids, by code."""
    rows = {centre.code: centre for centre in await db.scalars(select(Centre))}
    for declared in settings.centres:
        row = rows.get(declared.code)
        if row is None:
            row = Centre(code=declared.code, name=declared.name, time_zone=declared.time_zone)
            db.add(row)
            rows[declared.code] = row
            log.info("centre %s (%s) added", declared.code, declared.name)
        else:
            if (row.name, row.time_zone) != (declared.name, declared.time_zone):
                log.info(
                    "centre %s: %s, %s -> %s, %s",
                    declared.code,
                    row.name,
                    row.time_zone or "service time zone",
                    declared.name,
                    declared.time_zone or "service time zone",
                )
            row.name = declared.name
            row.time_zone = declared.time_zone
    await db.flush()
    pattern = settings.telephony.position_pattern
    await declare_positions(
        db, settings.default_centre_positions(), pattern=pattern, centre_id=DEFAULT_CENTRE_ID
    )
    for declared in settings.centres:
        await declare_positions(
            db, declared.positions, pattern=pattern, centre_id=rows[declared.code].id
        )
    return {code: row.id for code, row in rows.items()}


async def all_positions(db: AsyncSession) -> list[str]:
    """Every declared desk of every centre, sorted: the desks a call may be at."""
    rows = await db.scalars(select(Position.endpoint).distinct().order_by(Position.endpoint))
    return list(rows)


@dataclass
class CentreDirectory:
    """Which centre a line, a desk or a call belongs to, and each centre's time zone.

    Empty (before :meth:`reload`), everything is the default centre's, in the service's zone.
    """

    default_time_zone: str
    """``service.time_zone``: the zone of a centre that has none of its own."""
    centre_lines: dict[str, list[str]] = field(default_factory=dict)
    """The settings' lines by centre code (``[[centres]] lines``)."""
    centre_positions: dict[str, list[str]] = field(default_factory=dict)
    """The settings' desks by centre code (``[[centres]] positions``): they win over a copy of
    the same desk in another centre (the default's, from before the centres were declared)."""
    _zones: dict[int, str | None] = field(default_factory=dict, init=False)
    _lines: dict[str, int] = field(default_factory=dict, init=False)
    _positions: dict[str, int] = field(default_factory=dict, init=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> CentreDirectory:
        """A directory for ``settings`` (to :meth:`reload` from the store before use)."""
        return cls(
            settings.service.time_zone,
            {centre.code: list(centre.lines) for centre in settings.centres},
            {centre.code: list(centre.positions) for centre in settings.centres},
        )

    async def reload(self, db: AsyncSession) -> None:
        """Read the centres and their desks again (after one's time zone or desks changed)."""
        centres = list(await db.scalars(select(Centre)))
        ids = {centre.code: centre.id for centre in centres}
        lines = {
            line: ids[code]
            for code, declared in self.centre_lines.items()
            if code in ids
            for line in declared
        }
        declared = {
            endpoint: ids[code]
            for code, endpoints in self.centre_positions.items()
            if code in ids
            for endpoint in endpoints
        }
        positions: dict[str, int] = {}
        for endpoint, centre_id in await db.execute(
            select(Position.endpoint, Position.centre_id).order_by(Position.centre_id)
        ):
            if endpoint in declared:
                continue
            # A desk in the default centre and in another: the other's (the default's copy comes
            # from before the centres were declared); in two others: the first, said each load.
            known = positions.setdefault(endpoint, centre_id)
            if known == DEFAULT_CENTRE_ID:
                positions[endpoint] = centre_id
            elif known != centre_id:
                log.warning("position %s is in several centres: centre %s's", endpoint, known)
        positions.update(declared)
        self._zones = {centre.id: centre.time_zone for centre in centres}
        self._lines = lines
        self._positions = positions

    def time_zone(self, centre_id: int) -> str:
        """The centre's IANA time zone, else the service's."""
        return self._zones.get(centre_id) or self.default_time_zone

    def of_line(self, line: str) -> int | None:
        """The centre a tagged line belongs to; None when no centre claims it."""
        return self._lines.get(line)

    def of_position(self, position: str | None) -> int | None:
        """The centre of a desk; None for an unknown one."""
        return self._positions.get(position) if position is not None else None

    def of_call(self, call: LiveCall) -> int:
        """The call's centre: its line's, else that of the desk that has (or had) it, else the
        default centre."""
        centre = self.of_line(call.line)
        if centre is None:
            for position in (call.position, *reversed(call.previous_positions)):
                centre = self.of_position(position)
                if centre is not None:
                    break
        return centre if centre is not None else DEFAULT_CENTRE_ID
