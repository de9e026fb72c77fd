"""Each profile shapes the lab's link at all: a longer round trip, losses where it loses, a rate
below the unshaped one, and what it blocks blocked. No timing threshold tight enough to flake:
the nominal figures are ``make field``'s business (:mod:`tests.field.calibration`)."""

from __future__ import annotations

import math
import socket
import time

import pytest

from .calibration import ECHO_PORT, Echo, bulk_rate, tcp_echo, udp_echo
from .lab import (
    PHONE_ADDRESS,
    PHONE_ADDRESS_AFTER_HANDOVER,
    PHONE_NS,
    PROBE_ADDRESS,
    RELAY_ADDRESS,
    Lab,
)
from .netns import ip
from .profiles import PROFILES, UNSHAPED, Profile

pytestmark = pytest.mark.timeout(300)

RATE_SECONDS = 1.5


@pytest.fixture(scope="module")
def unshaped(lab: Lab) -> tuple[Echo, float, float]:
    """The link without a profile: its echo, its up and down rates."""
    lab.use(UNSHAPED)
    return (
        udp_echo(lab, 20, 50),
        bulk_rate(lab, up=True, seconds=RATE_SECONDS),
        bulk_rate(lab, up=False, seconds=RATE_SECONDS),
    )


def probes_to_see_loss(profile: Profile) -> int:
    """Enough probes to expect about ten losses over both directions."""
    loss = max(profile.up.mean_loss, profile.down.mean_loss)
    return max(300, math.ceil(10 / (2 * loss)))


def echo_on(lab: Lab, profile: Profile, probes: int) -> Echo:
    """Probes that the profile lets through: UDP, TCP 443 where only that passes, UDP to the
    relay's address where only it may answer."""
    if profile.tcp_443_only:
        return tcp_echo(lab, 10)
    address = RELAY_ADDRESS if profile.udp_only_from_relay else PROBE_ADDRESS
    rates = [r for r in (profile.up.rate_bps, profile.down.rate_bps) if r is not None]
    # A third of the slower direction at most, so that the probes never fill its queue.
    rate = min(100.0, min(rates) / 3 / (92 * 8)) if rates else 100.0
    return udp_echo(lab, probes, rate, address)


@pytest.mark.parametrize("name", list(PROFILES))
def test_the_profile_shapes_the_link(
    lab: Lab, unshaped: tuple[Echo, float, float], name: str
) -> None:
    profile = lab.use(name)
    reference, up_reference, down_reference = unshaped
    lossy = profile.up.mean_loss > 0 or profile.down.mean_loss > 0
    echo = echo_on(lab, profile, probes_to_see_loss(profile) if lossy else 20)

    assert echo.rtts_ms, "no probe came back"
    assert echo.rtt_ms > reference.rtt_ms + profile.rtt_ms / 2, (echo.rtt_ms, reference.rtt_ms)
    if lossy:
        assert len(echo.rtts_ms) < echo.sent, "no probe lost"
    else:
        assert len(echo.rtts_ms) == echo.sent
    assert bulk_rate(lab, up=True, seconds=RATE_SECONDS) < up_reference
    assert bulk_rate(lab, up=False, seconds=RATE_SECONDS) < down_reference


def _listening(lab: Lab, port: int) -> socket.socket:
    server = lab.service_socket(bind=(PROBE_ADDRESS, port))
    server.listen(4)
    return server


def test_when_udp_is_blocked_then_only_tcp_443_passes(lab: Lab) -> None:
    lab.use("udp-blocked")
    echo = udp_echo(lab, 10, 50)
    assert echo.reached == 0 and not echo.rtts_ms

    other = _listening(lab, 80)
    client = lab.phone_socket()
    client.settimeout(1.0)
    with other, client, pytest.raises(TimeoutError):
        client.connect((PROBE_ADDRESS, 80))

    https = _listening(lab, 443)
    client = lab.phone_socket()
    client.settimeout(10.0)
    with https, client:
        client.connect((PROBE_ADDRESS, 443))
        accepted, _ = https.accept()
        accepted.close()


def test_behind_the_symmetric_nat_then_inbound_udp_comes_only_from_the_relay(lab: Lab) -> None:
    lab.use("symmetric-nat")
    phone = lab.phone_socket(socket.SOCK_DGRAM, (PHONE_ADDRESS, ECHO_PORT))
    stranger = lab.service_socket(socket.SOCK_DGRAM, (PROBE_ADDRESS, 0))
    relay = lab.service_socket(socket.SOCK_DGRAM, (RELAY_ADDRESS, 0))
    with phone, stranger, relay:
        # Even an answer to what the phone sent does not come in: no peer-reflexive path.
        phone.sendto(b"hello", stranger.getsockname())
        stranger.settimeout(10.0)
        _, seen_as = stranger.recvfrom(100)
        stranger.sendto(b"answer", seen_as)
        for _ in range(5):
            stranger.sendto(b"stranger", (PHONE_ADDRESS, ECHO_PORT))
        relay.sendto(b"relay", (PHONE_ADDRESS, ECHO_PORT))
        phone.settimeout(10.0)
        data, source = phone.recvfrom(100)
        assert (data, source[0]) == (b"relay", RELAY_ADDRESS)
        # The strangers' datagrams, sent before the relay's, would have been read first.
        phone.settimeout(0.5)
        with pytest.raises(TimeoutError):
            phone.recvfrom(100)


def _phone_addresses() -> str:
    return ip("-n", PHONE_NS, "-4", "addr", "show")


def _echo_source(lab: Lab, timeout: float = 15.0) -> str:
    """The phone's address as the service sees it, probing until the link carries a probe."""
    server = lab.service_socket(socket.SOCK_DGRAM, (PROBE_ADDRESS, ECHO_PORT))
    client = lab.phone_socket(socket.SOCK_DGRAM)
    server.settimeout(0.3)
    deadline = time.monotonic() + timeout
    with server, client:
        while time.monotonic() < deadline:
            client.sendto(b"probe", (PROBE_ADDRESS, ECHO_PORT))
            try:
                _, source = server.recvfrom(100)
                return str(source[0])
            except TimeoutError:
                continue
    raise AssertionError("no probe crossed the link")


def test_a_handover_changes_the_phone_address(lab: Lab) -> None:
    lab.use("handover")
    assert _echo_source(lab) == PHONE_ADDRESS
    assert lab.handover(cut_seconds=0.5) == PHONE_ADDRESS_AFTER_HANDOVER
    addresses = _phone_addresses()
    assert PHONE_ADDRESS_AFTER_HANDOVER in addresses and f"{PHONE_ADDRESS}/" not in addresses
    assert _echo_source(lab) == PHONE_ADDRESS_AFTER_HANDOVER
    # The next profile puts the phone back on its first network.
    lab.use("4g")
    assert _echo_source(lab) == PHONE_ADDRESS


def test_a_cut_takes_the_link_down_then_back(lab: Lab) -> None:
    lab.use("4g")
    before = lab.stats()["up"]["cut"]
    lab.cut(2.0)
    server = lab.service_socket(socket.SOCK_DGRAM, (PROBE_ADDRESS, ECHO_PORT))
    client = lab.phone_socket(socket.SOCK_DGRAM)
    with server, client:
        client.sendto(b"during the cut", (PROBE_ADDRESS, ECHO_PORT))
    assert lab.stats()["up"]["cut"] > before
    assert _echo_source(lab) == PHONE_ADDRESS
