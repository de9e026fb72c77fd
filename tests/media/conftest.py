"""Media test fixtures: loopback-only ICE, rooms recording their events, peers closed after."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field

import aioice.ice
import aiortc.rtcrtpreceiver
import pytest
from aiortc.codecs.base import Decoder
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from tests.media.peers import Publisher, Subscriber
from visioregul.media import Room
from visioregul.media.codecs import CodecPolicy, VideoCodec


@pytest.fixture(autouse=True)
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    """Gather 127.0.0.1 only: aioice skips loopback when gathering, and tests run offline."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


@dataclass
class EventLog:
    """Events a room reported, in order."""

    entries: list[tuple[str, dict[str, object]]] = field(default_factory=list)

    def __call__(self, kind: str, details: Mapping[str, object]) -> None:
        self.entries.append((str(kind), dict(details)))

    def kinds(self) -> list[str]:
        """Event kinds, in order."""
        return [kind for kind, _ in self.entries]

    def of(self, kind: str) -> list[dict[str, object]]:
        """Details of every event of one kind."""
        return [details for k, details in self.entries if k == kind]


@dataclass
class Lab:
    """Rooms and peers made by a test, closed when it ends."""

    rooms: list[Room] = field(default_factory=list)
    peers: list[Publisher | Subscriber] = field(default_factory=list)

    def room(self, codec: CodecPolicy = "auto", *, max_delay: float = 0.5) -> tuple[Room, EventLog]:
        """A room without ICE servers, and the log of its events."""
        log = EventLog()
        room = Room(
            f"room-{len(self.rooms)}",
            ice_servers=[],
            codec=codec,
            on_event=log,
            max_delay=max_delay,
        )
        self.rooms.append(room)
        return room, log

    def publisher(self, codec: VideoCodec | None = None, *, first_counter: int = 0) -> Publisher:
        """A publisher closed at the end of the test."""
        publisher = Publisher(codec, first_counter=first_counter)
        self.peers.append(publisher)
        return publisher

    def subscriber(self) -> Subscriber:
        """A subscriber closed at the end of the test."""
        subscriber = Subscriber()
        self.peers.append(subscriber)
        return subscriber


@pytest.fixture
async def lab() -> AsyncIterator[Lab]:
    """Make rooms and peers; everything is closed at the end."""
    made = Lab()
    yield made
    for peer in made.peers:
        await peer.close()
    for room in made.rooms:
        await room.close()


@pytest.fixture
def decoders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every video/audio decoder aiortc creates in this process, by MIME type."""
    created: list[str] = []
    stock: Callable[[RTCRtpCodecParameters], Decoder] = aiortc.rtcrtpreceiver.get_decoder

    def counting(codec: RTCRtpCodecParameters) -> Decoder:
        created.append(codec.mimeType)
        return stock(codec)

    monkeypatch.setattr(aiortc.rtcrtpreceiver, "get_decoder", counting)
    return created
