"""Sessions over HTTP: the console's (cookie and CSRF) and the CAD's (API key) routes.

Thin handlers: validate, call one ``SessionService`` method, serialise. Both clients share the
same handlers; only how the actor is established differs. Who may call each route (regulators and
doctors of the session's centre, a CAD key acting for one) is checked before the handler runs,
by :mod:`.authorization`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from .. import accounts
from ..authorization import NotAllowed
from ..messaging import recent_outbox
from ..sessions.outcome import OutcomeKind
from ..sessions.services import Actor, SessionDetail, SessionFilter
from ..sessions.state import FINAL_STATES, SessionState
from ..telephony.facts import normalize_position
from . import appkeys
from .console import authenticated, check_csrf, json_body
from .errors import InvalidRequest, NotFound
from .middleware import request_language
from .schemas import (
    CadSessionRequest,
    EndRequest,
    InviteRequest,
    SessionRequest,
    invitation_json,
    session_json,
)

__all__ = ["routes"]

routes = web.RouteTableDef()

Model = TypeVar("Model", bound=BaseModel)
_MAX_PAGE = 200
_MAX_OFFSET = 2**31 - 1
"""Beyond it the databases' integers overflow (a 500); no history is that long."""


async def _parse(request: web.Request, model: type[Model]) -> Model:
    try:
        return model.model_validate(await json_body(request))
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise InvalidRequest("invalid_request", detail=f"{where}: {error['msg']}") from exc


async def _console_actor(request: web.Request, *, unsafe: bool) -> Actor:
    session, account = await authenticated(request)
    if unsafe:
        check_csrf(request, session)
    return Actor(account.username, session.position)


def _detail(detail: SessionDetail) -> dict[str, Any]:
    return session_json(detail.session, detail.invitations, detail.events)


def _filters(request: web.Request) -> SessionFilter:
    query = request.query

    def when(name: str) -> datetime | None:
        value = query.get(name)
        if not value:
            return None
        try:
            moment = datetime.fromisoformat(value)
            if moment.utcoffset() is None:
                # Its meaning would depend on the server's local time: refused, like the store.
                raise ValueError("no time zone")
            return moment.astimezone(UTC)
        except (ValueError, OverflowError) as exc:  # OverflowError: before year 1 in UTC
            raise InvalidRequest(
                "invalid_request", detail=f"{name}: ISO 8601 date-time with a time zone expected"
            ) from exc

    try:
        limit = min(int(query.get("limit", 50)), _MAX_PAGE)
        offset = max(int(query.get("offset", 0)), 0)
    except ValueError as exc:
        raise InvalidRequest("invalid_request", detail="limit/offset: integers expected") from exc
    if offset > _MAX_OFFSET:
        raise InvalidRequest("invalid_request", detail=f"offset: at most {_MAX_OFFSET}")
    number = query.get("number")
    if number:
        from ..telephony.numbers import parse_destination

        parsed = parse_destination(number, request.app[appkeys.SETTINGS].telephony.region)
        number = parsed.e164 or number.strip().lower()
    return SessionFilter(
        since=when("since"),
        until=when("until"),
        states=_states(query.get("state", "")),
        number=number or None,
        regulator=query.get("regulator") or None,
        call_id=query.get("call_id") or None,
        outcomes=_outcomes(query.get("outcome", "")),
        limit=max(limit, 1),
        offset=offset,
        centre_id=request[appkeys.PRINCIPAL].centre_id,
    )


def _states(text: str) -> tuple[str, ...]:
    """``state=`` takes one state, several separated by commas, or ``open`` (not finished)."""
    states: list[str] = []
    for name in filter(None, (part.strip() for part in text.split(","))):
        if name == "open":
            states += [s.value for s in SessionState if s not in FINAL_STATES]
        elif name in {state.value for state in SessionState}:
            states.append(name)
        else:
            raise InvalidRequest("invalid_request", detail=f"state: unknown state {name[:32]!r}")
    return tuple(states)


def _outcomes(text: str) -> tuple[str, ...]:
    """``outcome=`` takes one outcome (how a session ended), or several separated by commas."""
    known = {kind.value for kind in OutcomeKind}
    outcomes: list[str] = []
    for name in filter(None, (part.strip() for part in text.split(","))):
        if name not in known:
            raise InvalidRequest(
                "invalid_request", detail=f"outcome: unknown outcome {name[:32]!r}"
            )
        outcomes.append(name)
    return tuple(outcomes)


async def _history(request: web.Request) -> web.Response:
    service = request.app[appkeys.SESSION_SERVICE]
    rows, total = await service.history(_filters(request))
    outcomes = await service.outcomes([session.id for session, _ in rows])
    return web.json_response(
        {
            "total": total,
            "sessions": [
                session_json(session, invitations, outcome=outcomes.get(session.id))
                for session, invitations in rows
            ],
        }
    )


async def _get(request: web.Request) -> web.Response:
    detail = await request.app[appkeys.SESSION_SERVICE].get(request.match_info["session_id"])
    return web.json_response(_detail(detail))


def _centre(request: web.Request) -> int:
    """The centre a new session belongs to: the principal's (the rule lets in only those that
    have one)."""
    centre_id = request[appkeys.PRINCIPAL].centre_id
    if centre_id is None:
        raise NotAllowed()
    return centre_id


# -- console -----------------------------------------------------------------------------------


@routes.post("/console/api/sessions")
async def console_open(request: web.Request) -> web.Response:
    """ "Lancer l'invitation et entrer dans la salle": open, pair, invite."""
    actor = await _console_actor(request, unsafe=True)
    body = await _parse(request, SessionRequest)
    detail = await request.app[appkeys.SESSION_SERVICE].open_session(
        actor,
        body.destination,
        call_id=body.call_id,
        language=request_language(request),
        centre_id=_centre(request),
    )
    return web.json_response(_detail(detail), status=201)


@routes.get("/console/api/sessions")
async def console_history(request: web.Request) -> web.Response:
    """The history: every session, newest first, filtered and paginated."""
    await _console_actor(request, unsafe=False)
    return await _history(request)


@routes.get("/console/api/sessions/{session_id}")
async def console_get(request: web.Request) -> web.Response:
    """One session with its timeline (to rejoin it or review it), and the display names of the
    people it names (``people``: username to display name), for the regulator to read."""
    await _console_actor(request, unsafe=False)
    detail = await request.app[appkeys.SESSION_SERVICE].get(request.match_info["session_id"])
    body = _detail(detail)
    named = {detail.session.created_by, detail.session.ended_by or ""}
    for event in detail.events or ():
        named.add(event.actor)
        viewer = (event.details or {}).get("viewer")
        if isinstance(viewer, str):
            named.add(viewer)
    async with request.app[appkeys.DB]() as db:
        body["people"] = await accounts.display_names(db, sorted(name for name in named if name))
    return web.json_response(body)


@routes.post("/console/api/sessions/{session_id}/invitations")
async def console_invite(request: web.Request) -> web.Response:
    """A new link for the patient (revokes the previous one) or for a third party."""
    actor = await _console_actor(request, unsafe=True)
    body = await _parse(request, InviteRequest)
    invitation = await request.app[appkeys.SESSION_SERVICE].invite(
        request.match_info["session_id"],
        actor,
        body.destination,
        role=body.role,
        language=request_language(request),
        sees_patient=body.sees_patient,
    )
    return web.json_response(invitation_json(invitation), status=201)


@routes.post("/console/api/sessions/{session_id}/invitations/{invitation_id}/retry")
async def console_retry(request: web.Request) -> web.Response:
    """Send a failed invitation again (the patient's or a third party's)."""
    actor = await _console_actor(request, unsafe=True)
    invitation = await request.app[appkeys.SESSION_SERVICE].retry(
        request.match_info["session_id"],
        request.match_info["invitation_id"],
        actor,
        language=request_language(request),
    )
    return web.json_response(invitation_json(invitation), status=202)


@routes.post("/console/api/sessions/{session_id}/end")
async def console_end(request: web.Request) -> web.Response:
    """End the session."""
    actor = await _console_actor(request, unsafe=True)
    body = await _parse(request, EndRequest)
    detail = await request.app[appkeys.SESSION_SERVICE].end(
        request.match_info["session_id"], actor, body.reason
    )
    return web.json_response(_detail(detail))


@routes.get("/console/api/outbox")
async def console_outbox(request: web.Request) -> web.Response:
    """Messages kept by the local outbox (development and demo: no real SMS is sent)."""
    await _console_actor(request, unsafe=False)
    messaging = request.app[appkeys.SETTINGS].messaging
    if messaging.sms != "outbox" and messaging.email != "outbox":
        raise NotFound()
    async with request.app[appkeys.DB]() as db:
        messages = await recent_outbox(db)
    return web.json_response(
        {
            "messages": [
                {
                    "id": message.id,
                    "channel": message.channel,
                    "to": message.to,
                    "subject": message.subject,
                    "text": message.text,
                    "created_at": message.created_at.isoformat(),
                }
                for message in messages
            ]
        }
    )


# -- CAD ---------------------------------------------------------------------------------------
# The API key and the account it acts for are checked by the authorization middleware.


@routes.post("/api/v1/sessions")
async def cad_open(request: web.Request) -> web.Response:
    """Open a session on behalf of the regulator the API key acts for and invite the patient;
    ``position``, when given, must be one the regulator may take."""
    principal = request[appkeys.PRINCIPAL]
    body = await _parse(request, CadSessionRequest)
    position = normalize_position(body.position) if body.position else None
    if body.position and position is None:
        raise InvalidRequest("invalid_position")
    if position is not None:
        async with request.app[appkeys.DB]() as db:
            account = await accounts.get_account_by_username(db, principal.username or "")
            allowed = await accounts.account_positions_of(db, account) if account else []
        if position not in allowed:
            raise NotAllowed("position_not_allowed")
    actor = Actor(f"cad:{principal.api_key}:{principal.username}"[:128], position)
    detail = await request.app[appkeys.SESSION_SERVICE].open_session(
        actor,
        body.destination,
        call_id=body.call_id,
        language=request_language(request),
        centre_id=_centre(request),
    )
    return web.json_response(_detail(detail), status=201)


routes.get("/api/v1/sessions")(_history)
routes.get("/api/v1/sessions/{session_id}")(_get)
