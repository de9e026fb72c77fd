"""Screenshots over HTTP: take one, list a session's, download one (the console's routes).

Thin handlers over :class:`~visioregul.integration.stills.Stills`. Who may call them (regulators
and doctors of the session's centre; another centre's session is answered as unknown) is checked
before the handler runs, by the authorization middleware. Downloads are attachments that no
browser sniffs or keeps in a cache: they are health data.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select

from ..sessions.models import VisioSession
from ..sessions.services import Actor
from ..stills import Still
from ..store.models import DEFAULT_CENTRE_ID
from . import appkeys
from .console import authenticated, check_csrf

__all__ = ["download_name", "routes", "session_time_zone", "still_json"]

routes = web.RouteTableDef()


def _path(session_id: str, still_id: str = "") -> str:
    base = f"/console/api/sessions/{session_id}/stills"
    return f"{base}/{still_id}" if still_id else base


def download_name(still: Still, time_zone: str) -> str:
    """``visio-<date>-<n>.jpg``: the day it was taken (in the centre's time zone) and its rank."""
    day = still.taken_at.astimezone(ZoneInfo(time_zone)).date().isoformat()
    return f"visio-{day}-{still.number}.jpg"


def still_json(still: Still, time_zone: str) -> dict[str, Any]:
    """A still as the console gets it."""
    return {
        "id": still.id,
        "number": still.number,
        "taken_at": still.taken_at.isoformat(),
        "taken_by": still.taken_by,
        "content_type": still.content_type,
        "size": still.size,
        "url": _path(still.session_id, still.id),
        "filename": download_name(still, time_zone),
    }


async def session_time_zone(request: web.Request, session_id: str) -> str:
    """The time zone of the session's centre (its stills' names, its report's times)."""
    async with request.app[appkeys.DB]() as db:
        centre_id = await db.scalar(
            select(VisioSession.centre_id).where(VisioSession.id == session_id)
        )
    return request.app[appkeys.CENTRES].time_zone(
        centre_id if centre_id is not None else DEFAULT_CENTRE_ID
    )


async def _actor(request: web.Request, *, unsafe: bool) -> Actor:
    session, account = await authenticated(request)
    if unsafe:
        check_csrf(request, session)
    return Actor(account.username, session.position)


@routes.post("/console/api/sessions/{session_id}/stills")
async def take_still(request: web.Request) -> web.Response:
    """ "Capture d'écran": a still of the patient's video, now."""
    actor = await _actor(request, unsafe=True)
    still = await request.app[appkeys.STILLS].take(request.match_info["session_id"], actor)
    time_zone = await session_time_zone(request, still.session_id)
    return web.json_response(still_json(still, time_zone), status=201)


@routes.get("/console/api/sessions/{session_id}/stills")
async def list_stills(request: web.Request) -> web.Response:
    """The session's screenshots, newest first."""
    await _actor(request, unsafe=False)
    stills = await request.app[appkeys.STILLS].list(request.match_info["session_id"])
    time_zone = await session_time_zone(request, request.match_info["session_id"])
    return web.json_response({"stills": [still_json(still, time_zone) for still in stills]})


@routes.get("/console/api/sessions/{session_id}/stills/{still_id}")
async def download_still(request: web.Request) -> web.Response:
    """One screenshot's JPEG, as an attachment never cached nor sniffed."""
    await _actor(request, unsafe=False)
    still, data = await request.app[appkeys.STILLS].read(
        request.match_info["session_id"], request.match_info["still_id"]
    )
    name = download_name(still, await session_time_zone(request, still.session_id))
    return web.Response(
        body=data,
        content_type=still.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )
