"""ICE candidates a publisher sends after its offer (trickle ICE).

A browser's offer goes as soon as it has a first candidate: waiting for a TURN allocation costs two
to five round trips, a second and more on a 3G link. The later candidates follow one by one and are
handed to aioice, which pairs and checks them while the connection is already being checked. Each
carries the ICE username fragment of the offer it belongs to: a candidate of a connection the page
has since replaced is ignored, not mixed into the new one.
"""

from __future__ import annotations

import re

from aiortc import RTCIceCandidate
from aiortc.sdp import candidate_from_sdp

from .errors import MediaError

__all__ = ["MAX_CANDIDATES", "MAX_CANDIDATE_LENGTH", "offer_ufrag", "parse_candidate"]

MAX_CANDIDATE_LENGTH = 512
"""A browser's candidate line is about 150 characters."""
MAX_CANDIDATES = 40
"""Candidates taken per connection: a phone has a handful (host, reflexive, a relay per TURN
transport); more are ignored, so that a page cannot make the service check without end."""

_UFRAG = re.compile(r"^a=ice-ufrag:(\S+)\s*$", re.MULTILINE)
_TRANSPORTS = {"udp", "tcp"}


def offer_ufrag(sdp: str) -> str | None:
    """The ICE username fragment of an offer (its first, as bundled media share it)."""
    found = _UFRAG.search(sdp)
    return found.group(1) if found else None


def parse_candidate(line: str, mid: str | None) -> RTCIceCandidate:
    """A browser's ``candidate:...`` line as aiortc's candidate; ``invalid_candidate`` otherwise."""
    text = line.strip()
    if len(text) > MAX_CANDIDATE_LENGTH:
        raise MediaError("invalid_candidate", "the candidate is too long", length=len(text))
    if text.startswith("a="):
        text = text[2:]
    if text.startswith("candidate:"):
        text = text[len("candidate:") :]
    bits = text.split()
    if len(bits) < 8 or bits[6] != "typ" or bits[2].lower() not in _TRANSPORTS:
        raise MediaError("invalid_candidate", f"malformed candidate {line[:80]!r}")
    try:
        candidate = candidate_from_sdp(text)
        int(candidate.port)
    except (AssertionError, ValueError, IndexError) as error:
        raise MediaError("invalid_candidate", f"malformed candidate {line[:80]!r}") from error
    if not 0 < candidate.port < 65536 or candidate.component != 1:
        raise MediaError("invalid_candidate", "the candidate's port or component is invalid")
    candidate.sdpMid = mid
    candidate.sdpMLineIndex = 0 if mid is None else None
    return candidate
