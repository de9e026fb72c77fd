"""The real client's address, behind the reverse proxies the centre declares.

``X-Forwarded-For`` is believed only when the peer is one of ``service.trusted_proxies``; then
the list is read from the right, skipping the trusted proxies themselves, and the first address
that is not one of them is the client (anything to its left was written by the client and can be
forged). Every limit and audit entry keys on this address, never on ``request.remote``.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from aiohttp import web

from . import appkeys

__all__ = ["RELAYED_CLIENT", "client_address", "real_client"]

RELAYED_CLIENT = web.RequestKey("relayed_client", str)
"""Set on a request another instance passed on (its proof checked): the real client's address,
as that instance found it."""

_Address = IPv4Address | IPv6Address


def client_address(request: web.Request) -> str:
    """The address of the client that made ``request`` (``unknown`` when the socket has none)."""
    relayed = request.get(RELAYED_CLIENT)
    if relayed is not None:
        return relayed
    peer = request.remote or ""
    trusted = request.app[appkeys.SETTINGS].service.trusted_proxies
    return real_client(peer, request.headers.getall("X-Forwarded-For", []), trusted)


def real_client(
    peer: str, forwarded_for: list[str], trusted: list[IPv4Network | IPv6Network]
) -> str:
    """The client behind ``peer``, given the ``X-Forwarded-For`` headers it sent."""
    peer_address = _parse(peer)
    if peer_address is None:
        return peer or "unknown"
    if not _is_trusted(peer_address, trusted):
        return str(peer_address)
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",")]
    client = peer_address
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:
            # Garbage a trusted proxy passed on: the last hop it vouched for is all we know.
            break
        client = address
        if not _is_trusted(address, trusted):
            break
    return str(client)


def _parse(text: str) -> _Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "192.0.2.1:443"
        text = text.partition(":")[0]
    try:
        address = ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_trusted(address: _Address, trusted: list[IPv4Network | IPv6Network]) -> bool:
    return any(
        address in network
        for network in trusted
        if address.version == network.version  # an IPv4 address is in no IPv6 network
    )
