"""WebRTC media for VisioRegul: video rooms relaying the patient's camera to the regulators.

The relay forwards encoded video without decoding it. This package is handed what it needs (room
and participant ids, ICE servers, an event callback) and imports nothing from the rest of
VisioRegul.
"""

import logging

from .candidates import MAX_CANDIDATE_LENGTH
from .codecs import CodecPolicy, VideoCodec
from .errors import MediaError
from .events import EventCallback, MediaEvent
from .ice import browser_ice_servers, ice_servers, rtc_configuration, turn_credentials
from .network_test import NetworkTestPeers
from .room import Room, RoomStats
from .still import keyframe_to_jpeg

__all__ = [
    "MAX_CANDIDATE_LENGTH",
    "CodecPolicy",
    "EventCallback",
    "MediaError",
    "MediaEvent",
    "NetworkTestPeers",
    "Room",
    "RoomStats",
    "VideoCodec",
    "browser_ice_servers",
    "ice_servers",
    "keyframe_to_jpeg",
    "rtc_configuration",
    "turn_credentials",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
