"""ICE servers from settings: TURN REST credentials, never a public default."""

from __future__ import annotations

import pytest
from aiortc import RTCIceServer

from visioregul.media import browser_ice_servers, ice_servers, rtc_configuration, turn_credentials


def test_given_secret_when_making_turn_credentials_then_coturn_rest_scheme() -> None:
    # Reference computed with: printf 1700003600:patient-1 | openssl dgst -sha1 -hmac north -binary
    # | base64
    username, credential = turn_credentials("north", "patient-1", ttl=3600, now=1_700_000_000)

    assert username == "1700003600:patient-1"
    assert credential == "r4l9VMqwW8OeukqX1x6hWE6EOkQ="


def test_given_stun_and_turn_urls_then_two_servers_with_credentials_on_turn_only() -> None:
    servers = ice_servers(
        stun_urls=["stun:stun.example.org:3478"],
        turn_urls=["turn:turn.example.org:3478", " turns:turn.example.org:443?transport=tcp "],
        turn_secret="north",
        participant_id="patient-1",
        ttl=3600,
        now=1_700_000_000,
    )

    assert servers == [
        RTCIceServer(urls=["stun:stun.example.org:3478"]),
        RTCIceServer(
            urls=["turn:turn.example.org:3478", "turns:turn.example.org:443?transport=tcp"],
            username="1700003600:patient-1",
            credential="r4l9VMqwW8OeukqX1x6hWE6EOkQ=",
        ),
    ]
    assert browser_ice_servers(servers) == [
        {"urls": ["stun:stun.example.org:3478"]},
        {
            "urls": ["turn:turn.example.org:3478", "turns:turn.example.org:443?transport=tcp"],
            "username": "1700003600:patient-1",
            "credential": "r4l9VMqwW8OeukqX1x6hWE6EOkQ=",
        },
    ]


def test_given_nothing_configured_then_no_server_and_never_the_public_default() -> None:
    servers = ice_servers(stun_urls=["", "  "])

    assert servers == []
    # None would make aiortc use stun.l.google.com.
    assert rtc_configuration(servers).iceServers == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"turn_urls": ["turn:turn.example.org"]}, "TURN URLs need the TURN secret"),
        ({"stun_urls": ["turn:turn.example.org"]}, "not a STUN URL: 'turn:turn.example.org'"),
        ({"turn_urls": ["http://x"], "turn_secret": "s"}, "not a TURN URL: 'http://x'"),
    ],
)
def test_given_wrong_settings_then_value_error_naming_the_problem(
    arguments: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError) as refused:
        ice_servers(**arguments)  # type: ignore[arg-type]

    assert str(refused.value) == message


def test_given_empty_secret_or_lifetime_then_value_error() -> None:
    with pytest.raises(ValueError, match="secret is empty"):
        turn_credentials("", "patient-1")
    with pytest.raises(ValueError, match="lifetime must be positive"):
        turn_credentials("north", "patient-1", ttl=0)
