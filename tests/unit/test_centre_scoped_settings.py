"""Settings of what belongs to a centre: API keys, deep-link issuers and webhook endpoints name
their centre by code; a malformed code or URL is refused at once, naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from visioregul.integration.centre_codes import configured_codes
from visioregul.integration.settings import (
    ApiKey,
    CadIssuer,
    CadLinkSettings,
    ConsoleSettings,
    Settings,
    SettingsError,
    WebhookEndpoint,
    WebhookSettings,
    load_settings,
)

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "visioregul.toml"


def test_given_keys_then_a_plain_one_is_the_default_centres_and_codes_are_collected() -> None:
    settings = Settings(
        console=ConsoleSettings(
            api_keys=["plain-key-0123456789", {"key": "k" * 20, "centre": "samu31"}]  # type: ignore[list-item]
        ),
        cad_link=CadLinkSettings(
            issuers=[CadIssuer(issuer="cad", secret=SecretStr("s" * 32), centre="samu13")]
        ),
        webhooks=WebhookSettings(
            urls=["https://cad.example/hook"],
            endpoints=[WebhookEndpoint(url="https://cad.example/31", centre="samu31")],
            secret=SecretStr("x"),
        ),
    )
    plain, named = settings.console.api_keys
    assert (plain.account, plain.centre, plain.centre_code) == (None, None, "default")
    assert named.centre_code == "samu31"
    assert configured_codes(settings) == {"default", "samu31", "samu13"}
    # A key acting for an account names no centre unless told: the account's decides.
    acting = ApiKey(key=SecretStr("a" * 20), account="regulateur")
    assert configured_codes(Settings(console=ConsoleSettings(api_keys=[acting]))) == set()


@pytest.mark.parametrize(
    "build",
    [
        lambda: ApiKey(key=SecretStr("k" * 20), centre="samu 31"),
        lambda: CadIssuer(issuer="cad", secret=SecretStr("s" * 32), centre=""),
        lambda: WebhookEndpoint(url="https://cad.example/h", centre="<b>"),
        lambda: WebhookEndpoint(url="ftp://cad.example/h", centre="samu31"),
    ],
)
def test_given_a_malformed_code_or_url_then_refused(build: object) -> None:
    with pytest.raises(ValidationError):
        build()  # type: ignore[operator]


def test_given_webhook_endpoints_without_a_secret_then_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "VISIOREGUL_WEBHOOKS__ENDPOINTS", '[{"url": "https://cad.example/31", "centre": "samu31"}]'
    )
    with pytest.raises(SettingsError, match=r"webhooks\.secret is required"):
        load_settings(SHIPPED)
    monkeypatch.setenv("VISIOREGUL_WEBHOOKS__SECRET", "s3cret")
    (endpoint,) = load_settings(SHIPPED).webhooks.endpoints
    assert (endpoint.url, endpoint.centre) == ("https://cad.example/31", "samu31")
