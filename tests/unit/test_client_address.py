"""The real client behind the trusted proxies, from ``X-Forwarded-For``."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_network

import pytest

from visioregul.integration.client_address import real_client
from visioregul.integration.settings import SettingsError, load_settings

PROXIES: list[IPv4Network | IPv6Network] = [ip_network("127.0.0.1"), ip_network("10.8.0.0/24")]


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        # No trusted proxy in the way: the header is ignored, whoever wrote it.
        ("192.0.2.7", ["203.0.113.9"], "192.0.2.7"),
        ("192.0.2.7", [], "192.0.2.7"),
        # From a trusted proxy: the rightmost address that is not a proxy.
        ("127.0.0.1", ["203.0.113.9"], "203.0.113.9"),
        ("127.0.0.1", ["198.51.100.1, 203.0.113.9"], "203.0.113.9"),
        ("127.0.0.1", ["203.0.113.9, 10.8.0.4"], "203.0.113.9"),
        ("127.0.0.1", ["203.0.113.9", "10.8.0.4"], "203.0.113.9"),
        # A proxy that sent no header: the proxy is all we know.
        ("127.0.0.1", [], "127.0.0.1"),
        # Garbage a trusted proxy passed on: the last hop it vouched for.
        ("127.0.0.1", ["not-an-address, 10.8.0.4"], "10.8.0.4"),
        ("127.0.0.1", ["[2001:db8::5]:4711"], "2001:db8::5"),
        ("127.0.0.1", ["203.0.113.9:4711"], "203.0.113.9"),
        ("::ffff:127.0.0.1", ["203.0.113.9"], "203.0.113.9"),
        ("", [], "unknown"),
    ],
)
def test_given_a_peer_and_its_header_then_the_client_is_the_rightmost_untrusted_hop(
    peer: str, forwarded_for: list[str], client: str
) -> None:
    assert real_client(peer, forwarded_for, PROXIES) == client


def test_given_no_trusted_proxy_then_the_header_is_never_believed() -> None:
    assert real_client("127.0.0.1", ["203.0.113.9"], []) == "127.0.0.1"


def test_given_trusted_proxies_in_the_environment_then_addresses_and_networks_are_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VISIOREGUL_SERVICE__TRUSTED_PROXIES", '["127.0.0.1", "10.8.0.0/24", "::1"]')
    settings = load_settings()
    assert [str(network) for network in settings.service.trusted_proxies] == [
        "127.0.0.1/32",
        "10.8.0.0/24",
        "::1/128",
    ]


def test_given_a_network_with_host_bits_then_the_setting_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VISIOREGUL_SERVICE__TRUSTED_PROXIES", '["10.8.0.1/24"]')
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert "service.trusted_proxies" in str(refused.value)
