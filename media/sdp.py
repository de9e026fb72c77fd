"""Just enough SDP reading to check an offer before any peer connection is made.

aiortc accepts whatever it can parse: an audio m-line would get a receiver, a data channel an SCTP
transport. The room refuses such offers up front, with a clear error, instead of negotiating them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from .errors import MediaError

__all__ = ["MAX_SDP_LENGTH", "MediaSection", "parse_media", "single_video"]

MAX_SDP_LENGTH = 64 * 1024
"""Longer descriptions are refused: a browser's video-only offer is a few kilobytes."""

_DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
# WebRTC media is always ICE + DTLS-SRTP: aiortc would accept a description without them and then
# fail in a background task.
_SECURITY = {"ice-ufrag", "ice-pwd", "fingerprint"}


@dataclass(frozen=True)
class MediaSection:
    """One ``m=`` section of a session description."""

    kind: str
    """``video``, ``audio``, ``application``..."""
    port: int
    """0 means the section is rejected."""
    direction: str
    """``sendrecv`` (the default), ``sendonly``, ``recvonly`` or ``inactive``."""
    codecs: tuple[str, ...]
    """Encoding names in the m-line's order of preference, upper-case (``VP8``, ``RTX``...)."""
    secured: bool = True
    """Whether ICE credentials and a DTLS fingerprint apply (here or at session level)."""


def parse_media(sdp: object) -> list[MediaSection]:
    """The media sections of ``sdp``; :class:`MediaError` ``invalid_sdp`` if it is not SDP."""
    if not isinstance(sdp, str) or not sdp.strip():
        raise MediaError("invalid_sdp", "the session description is empty")
    if len(sdp) > MAX_SDP_LENGTH:
        raise MediaError("invalid_sdp", "the session description is too long", length=len(sdp))
    lines = [line.strip() for line in sdp.splitlines() if line.strip()]
    if lines[0] != "v=0":
        raise MediaError("invalid_sdp", "a session description starts with v=0")

    session_direction = "sendrecv"
    session_attributes: set[str] = set()
    sections: list[MediaSection] = []
    current: dict[str, object] | None = None
    payload_order: list[str] = []
    rtpmap: dict[str, str] = {}

    media_attributes: set[str] = set()

    def close_section() -> None:
        if current is not None:
            names = tuple(rtpmap[pt] for pt in payload_order if pt in rtpmap)
            sections.append(
                MediaSection(
                    kind=str(current["kind"]),
                    port=int(str(current["port"])),
                    direction=str(current["direction"]),
                    codecs=names,
                    secured=_SECURITY.issubset(session_attributes | media_attributes),
                )
            )

    for line in lines:
        if line.startswith("m="):
            close_section()
            fields = line[2:].split()
            if len(fields) < 3 or not fields[1].split("/")[0].isdigit():
                raise MediaError("invalid_sdp", f"malformed media line {line[:80]!r}")
            current = {
                "kind": fields[0].lower(),
                "port": int(fields[1].split("/")[0]),
                "direction": session_direction,
            }
            payload_order = fields[3:]
            rtpmap = {}
            media_attributes = set()
        elif line.startswith("a="):
            attribute = line[2:]
            (media_attributes if current is not None else session_attributes).add(
                attribute.split(":", 1)[0]
            )
            if attribute in _DIRECTIONS:
                if current is None:
                    session_direction = attribute
                else:
                    current["direction"] = attribute
            elif attribute.startswith("rtpmap:") and current is not None:
                fields = attribute[len("rtpmap:") :].split()
                if len(fields) != 2:
                    raise MediaError("invalid_sdp", f"malformed rtpmap {line[:80]!r}")
                rtpmap[fields[0]] = fields[1].split("/")[0].upper()
    close_section()
    if not sections:
        raise MediaError("invalid_sdp", "the session description has no media section")
    return sections


def single_video(sections: Sequence[MediaSection], *, directions: Collection[str]) -> MediaSection:
    """The one video section of a description that must carry nothing else.

    Raises :class:`MediaError`: ``audio_refused`` (audio stays on the phone call),
    ``unsupported_media`` (data channels and any other kind), ``no_video``, ``too_many_video``,
    or ``wrong_direction`` when the video direction is not one of ``directions``.
    """
    for section in sections:
        if section.kind == "audio":
            raise MediaError("audio_refused", "audio is never negotiated: video only")
        if section.kind != "video":
            raise MediaError(
                "unsupported_media",
                f"{section.kind} is not supported: video only",
                kind=section.kind,
            )
    if not sections:
        raise MediaError("no_video", "the description has no video section")
    if len(sections) > 1:
        raise MediaError("too_many_video", "one video section only", count=len(sections))
    video = sections[0]
    if video.port == 0:
        raise MediaError("no_video", "the video section is rejected (port 0)")
    if not video.secured:
        raise MediaError("invalid_sdp", "ICE credentials or the DTLS fingerprint are missing")
    if video.direction not in directions:
        raise MediaError(
            "wrong_direction",
            f"video must be {' or '.join(sorted(directions))}, not {video.direction}",
            direction=video.direction,
        )
    return video
