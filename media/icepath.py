"""What the service's own end of a peer connection says of its network path.

aiortc has no ``getStats()`` for the selected candidate pair: the nominated pair is read from its
ICE connection (aioice). A remote candidate of type ``relay`` means the browser's media comes
through its TURN server (``prflx`` may be one too, learned from a check before its candidate).
"""

from __future__ import annotations

from aiortc import RTCPeerConnection

__all__ = ["nominated_remote_type"]


def nominated_remote_type(pc: RTCPeerConnection) -> str | None:
    """The type of the nominated pair's remote candidate (``host``, ``srflx``, ``prflx``,
    ``relay``), or None while no pair is nominated."""
    for transceiver in pc.getTransceivers():
        transport = transceiver.receiver.transport
        if transport is None:
            continue
        # aioice's connection: the only place the nominated pair is kept.
        connection = getattr(transport.transport, "_connection", None)
        nominated = getattr(connection, "_nominated", None) or {}
        pair = nominated.get(1)
        if pair is not None:
            return str(pair.remote_candidate.type)
    return None
