"""JSON shapes shared by the console, the CAD API and their WebSockets."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..telephony.link import LinkStatus
from ..telephony.registry import LiveCall

__all__ = ["InvitationRequest", "PositionRequest", "call_json", "link_json"]


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


class InvitationRequest(_Strict):
    """``POST /console/api/invitations``: a phone number or an e-mail address, maybe a call."""

    destination: str = Field(max_length=254)
    call_id: str | None = Field(default=None, max_length=64)
