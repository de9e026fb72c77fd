"""Video codecs: which one a room uses, how to prefer it, how to spot a keyframe.

A relay that never decodes must use the same codec on every leg, so each room has one video codec:
VP8 when the publisher offers it (every WebRTC browser does), H264 when it offers only that.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from aiortc import RTCRtpCodecCapability, RTCRtpSender

__all__ = [
    "CodecPolicy",
    "VideoCodec",
    "choose_codec",
    "codec_preferences",
    "is_keyframe",
    "vp8_frame_size",
]

VideoCodec = Literal["VP8", "H264"]
"""A codec a room can relay (encoding names as in SDP ``a=rtpmap`` lines)."""

CodecPolicy = Literal["auto", "vp8", "h264"]
"""A room's codec setting: ``auto`` takes VP8 if the publisher offers it, else H264."""

_VP8_START_CODE = b"\x9d\x01\x2a"
_H264_IDR = 5
_H264_SPS = 7


def choose_codec(offered: Iterable[str], policy: CodecPolicy) -> VideoCodec | None:
    """The codec to use for an offer listing ``offered`` encoding names, or None if none fits."""
    names = {name.upper() for name in offered}
    candidates: tuple[VideoCodec, ...]
    if policy == "vp8":
        candidates = ("VP8",)
    elif policy == "h264":
        candidates = ("H264",)
    else:
        candidates = ("VP8", "H264")
    return next((codec for codec in candidates if codec in names), None)


def codec_preferences(codec: VideoCodec) -> list[RTCRtpCodecCapability]:
    """Transceiver preferences that allow ``codec`` (every profile aiortc has) and RTX only.

    aiortc picks the codec inside ``setRemoteDescription()``, so these must be set on the
    transceiver before it.
    """
    capabilities = RTCRtpSender.getCapabilities("video").codecs
    chosen = [c for c in capabilities if c.name.upper() == codec]
    retransmission = [c for c in capabilities if c.name.lower() == "rtx"]
    return chosen + retransmission


def is_keyframe(codec: str, data: bytes) -> bool:
    """Whether an encoded frame can be decoded on its own.

    VP8 (RFC 6386, 9.1): bit 0 of the frame tag is 0 on a key frame, which also carries the start
    code ``9d 01 2a`` at byte 3; checking both keeps a truncated frame from passing for a keyframe.
    H264 (Annex B, as aiortc's depayloader writes it): a NAL unit of type 5 (IDR) or 7 (SPS); the
    frame must begin with a start code, which a frame missing its first fragment does not.
    """
    if codec.upper() == "VP8":
        return len(data) >= 10 and data[0] & 0x01 == 0 and data[3:6] == _VP8_START_CODE
    if codec.upper() == "H264":
        if not data.startswith((b"\x00\x00\x01", b"\x00\x00\x00\x01")):
            return False
        position = data.find(b"\x00\x00\x01")
        while 0 <= position < len(data) - 3:
            if data[position + 3] & 0x1F in (_H264_IDR, _H264_SPS):
                return True
            position = data.find(b"\x00\x00\x01", position + 3)
    return False


def vp8_frame_size(data: bytes) -> tuple[int, int] | None:
    """Width and height written in a VP8 keyframe's header, None for any other frame."""
    if not is_keyframe("VP8", data):
        return None
    width = int.from_bytes(data[6:8], "little") & 0x3FFF
    height = int.from_bytes(data[8:10], "little") & 0x3FFF
    return width, height
