"""Keyframe detection and offer reading."""

from __future__ import annotations

import fractions

import av
import pytest

from tests.media.peers import stamped_frame
from visioregul.media import MediaError
from visioregul.media.codecs import choose_codec, codec_preferences, is_keyframe, vp8_frame_size
from visioregul.media.sdp import parse_media, single_video


def encode(codec: str, count: int) -> list[bytes]:
    if codec == "libx264":
        context = av.CodecContext.create("libx264", "w")
        context.options = {"tune": "zerolatency", "preset": "ultrafast"}
    else:
        context = av.CodecContext.create("libvpx", "w")
    context.width, context.height, context.pix_fmt = 320, 240, "yuv420p"
    context.time_base = fractions.Fraction(1, 30)
    context.bit_rate = 300_000
    packets = []
    for index in range(count):
        frame = stamped_frame(index, 0)
        frame.pts = index
        packets += context.encode(frame)
    packets += context.encode(None)
    return [bytes(packet) for packet in packets]


@pytest.mark.parametrize("encoder", ["libvpx", "libx264"])
def test_given_encoded_stream_then_only_the_first_frame_is_a_keyframe(encoder: str) -> None:
    codec = "VP8" if encoder == "libvpx" else "H264"

    frames = encode(encoder, 5)

    assert [is_keyframe(codec, data) for data in frames] == [True, False, False, False, False]


def test_given_truncated_frames_then_not_keyframes() -> None:
    (key,) = encode("libvpx", 1)
    (idr,) = encode("libx264", 1)

    assert vp8_frame_size(key) == (320, 240)
    assert not is_keyframe("VP8", key[:8])
    assert not is_keyframe("VP8", b"\x00\x00\x00" + key[10:])
    # An H264 frame missing its first fragment starts with no start code.
    assert not is_keyframe("H264", idr[40:])
    assert not is_keyframe("AV1", key)
    assert vp8_frame_size(b"\x01" * 20) is None


def test_given_offered_codecs_then_room_codec_follows_policy() -> None:
    assert choose_codec(["H264", "VP8", "RTX"], "auto") == "VP8"
    assert choose_codec(["h264", "rtx"], "auto") == "H264"
    assert choose_codec(["VP8"], "h264") is None
    assert choose_codec(["AV1", "VP9"], "auto") is None
    assert [c.name for c in codec_preferences("H264")] == ["H264", "H264", "rtx"]


OFFER = (
    "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=recvonly\r\n"
    "a=fingerprint:sha-256 AA\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97 98\r\na=ice-ufrag:u\r\na=ice-pwd:p\r\n"
    "a=rtpmap:97 H264/90000\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:98 rtx/90000\r\n"
    "m=audio 0 UDP/TLS/RTP/SAVPF 111\r\na=sendonly\r\na=rtpmap:111 opus/48000/2\r\n"
)


def test_given_offer_then_sections_with_direction_codec_order_and_security() -> None:
    video, audio = parse_media(OFFER)

    assert (video.kind, video.port, video.direction) == ("video", 9, "recvonly")
    assert video.codecs == ("VP8", "H264", "RTX")
    assert video.secured
    assert (audio.kind, audio.port, audio.direction, audio.codecs) == (
        "audio",
        0,
        "sendonly",
        ("OPUS",),
    )
    assert not audio.secured


def test_given_rejected_audio_section_then_still_refused() -> None:
    # Even a rejected (port 0) audio section is refused: aiortc would give it a transceiver.
    with pytest.raises(MediaError) as refused:
        single_video(parse_media(OFFER), directions=("recvonly",))

    assert refused.value.error_id == "audio_refused"


def test_given_video_section_rejected_then_no_video() -> None:
    sdp = OFFER.split("m=audio")[0].replace("m=video 9", "m=video 0")

    with pytest.raises(MediaError) as refused:
        single_video(parse_media(sdp), directions=("recvonly",))

    assert refused.value.error_id == "no_video"
    assert refused.value.message == "the video section is rejected (port 0)"


@pytest.mark.parametrize(
    "sdp", [None, 42, "", "  \r\n", "o=- 1 1 IN IP4 0.0.0.0", "v=0\r\nm=video"]
)
def test_given_not_sdp_then_invalid_sdp(sdp: object) -> None:
    with pytest.raises(MediaError) as refused:
        parse_media(sdp)

    assert refused.value.error_id == "invalid_sdp"
