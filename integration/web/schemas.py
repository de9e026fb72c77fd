"""JSON shapes shared by the console, the CAD API and their WebSockets."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..sessions.models import Invitation, SessionEvent, VisioSession
from ..sessions.outcome import Outcome, session_outcome
from ..sessions.services import SessionUpdate
from ..telephony.link import LinkStatus
from ..telephony.registry import LiveCall

__all__ = [
    "CadSessionRequest",
    "EndRequest",
    "InviteRequest",
    "PositionRequest",
    "SessionRequest",
    "cad_payload",
    "call_json",
    "event_json",
    "invitation_json",
    "link_json",
    "session_json",
]


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def call_json(call: LiveCall) -> dict[str, Any]:
    """A live call as the console and the CAD see it."""
    caller = call.caller
    return {
        "call_id": call.call_id,
        "line": call.line,
        "state": call.state.value,
        "position": call.position,
        "previous_positions": list(call.previous_positions),
        "participants": list(call.participants),
        "caller": {
            "raw": caller.raw,
            "e164": caller.e164,
            "display": caller.display,
            "kind": caller.kind.value,
            "sms_capable": caller.sms_capable,
        },
        "suggested_channel": call.suggested_channel.value,
        "started_at": _time(call.started_at),
        "answered_at": _time(call.answered_at),
        "ended_at": _time(call.ended_at),
    }


def link_json(status: LinkStatus) -> dict[str, str]:
    """The telephony link as the console's status pill shows it."""
    return {"source": status.name, **status.as_dict()}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PositionRequest(_Strict):
    """``POST /console/api/position``."""

    position: str = Field(max_length=80)


def session_json(
    session: VisioSession,
    invitations: Sequence[Invitation] = (),
    events: Sequence[SessionEvent] | None = None,
    *,
    outcome: Outcome | None = None,
) -> dict[str, Any]:
    """A session, its invitations, (when given) its timeline, and its outcome (read from the
    timeline when not given)."""
    body: dict[str, Any] = {
        "id": session.id,
        "state": session.state,
        "created_at": _time(session.created_at),
        "updated_at": _time(session.updated_at),
        "created_by": session.created_by,
        "position": session.position,
        "call_id": session.call_id,
        "caller_number": session.caller_number,
        "ended_at": _time(session.ended_at),
        "ended_by": session.ended_by,
        "end_reason": session.end_reason,
        "invitations": [invitation_json(invitation) for invitation in invitations],
    }
    if events is not None:
        body["timeline"] = [event_json(event) for event in events]
        outcome = outcome or session_outcome(events)
    if outcome is not None:
        body["outcome"] = outcome.as_dict()
    return body


def invitation_json(invitation: Invitation) -> dict[str, Any]:
    """An invitation as the regulator follows it (never its token)."""
    return {
        "id": invitation.id,
        "role": invitation.role,
        "channel": invitation.channel,
        "destination": invitation.destination,
        "created_at": _time(invitation.created_at),
        "created_by": invitation.created_by,
        "expires_at": _time(invitation.expires_at),
        "revoked_at": _time(invitation.revoked_at),
        "opened_at": _time(invitation.opened_at),
        "delivery_status": invitation.delivery_status,
        "error_code": invitation.error_code,
        "error_message": invitation.error_message,
        "sees_patient": bool(invitation.sees_patient),
    }


def event_json(event: SessionEvent) -> dict[str, Any]:
    """One line of a session's timeline."""
    return {
        "at": _time(event.at),
        "actor": event.actor,
        "type": event.type,
        "details": event.details,
    }


class SessionRequest(_Strict):
    """``POST .../sessions``: open a session and invite the patient."""

    destination: str = Field(max_length=254)
    call_id: str | None = Field(default=None, max_length=64)


class CadSessionRequest(SessionRequest):
    """``POST /api/v1/sessions``: the CAD also says on whose behalf."""

    requested_by: str = Field(default="cad", max_length=64, pattern=r"^[A-Za-z0-9._@-]+$")
    position: str | None = Field(default=None, max_length=80)


class InviteRequest(_Strict):
    """``POST .../sessions/{id}/invitations``: a new link for the patient or a third party."""

    destination: str = Field(max_length=254)
    role: Literal["patient", "third_party"] = "patient"
    sees_patient: bool = False
    """A third party may watch the patient's video (ignored for the patient's own link)."""


class EndRequest(_Strict):
    """``POST .../sessions/{id}/end``."""

    reason: Literal["ended_by_regulator", "patient_unreachable", "duplicate", "other"] = (
        "ended_by_regulator"
    )


def cad_payload(update: SessionUpdate) -> dict[str, Any]:
    """The JSON posted to the CAD's webhooks for one session event."""
    return {
        "id": update.event.id,
        "session_id": update.session.id,
        "event": event_json(update.event),
        "session": session_json(update.session),
    }
