"""Settings: the shipped file is the defaults, environment overrides, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from visioregul.integration.settings import Settings, SettingsError, load_settings

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "visioregul.toml"


def test_the_shipped_file_holds_exactly_the_embedded_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("VISIOREGUL_CONFIG", raising=False)
    assert load_settings(SHIPPED).model_dump() == Settings().model_dump()


def test_given_an_environment_variable_then_it_overrides_the_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VISIOREGUL_TELEPHONY__AMI__HOST", "10.0.0.5")
    monkeypatch.setenv("VISIOREGUL_TELEPHONY__SOURCE", "ari")
    settings = load_settings(SHIPPED)
    assert settings.telephony.ami.host == "10.0.0.5"
    assert settings.telephony.source == "ari"


def test_given_bad_values_then_the_error_names_each_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[telephony]\nsource = "sip"\n[telephony.ami]\nport = 99999\n[oops]\nx=1\n')
    monkeypatch.setenv("VISIOREGUL_SERVICE__PUBLIC_URL", "ftp://x")
    with pytest.raises(SettingsError) as caught:
        load_settings(config)
    message = str(caught.value)
    for key in ("telephony.source", "telephony.ami.port", "oops", "service.public_url"):
        assert key in message


def test_given_a_missing_or_broken_file_then_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="not found"):
        load_settings(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[service\n")
    with pytest.raises(SettingsError, match="cannot read"):
        load_settings(broken)


def test_given_webhook_urls_without_a_secret_then_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VISIOREGUL_WEBHOOKS__URLS", '["https://cad.example/hook"]')
    with pytest.raises(SettingsError, match=r"webhooks\.secret is required"):
        load_settings(SHIPPED)
    monkeypatch.setenv("VISIOREGUL_WEBHOOKS__SECRET", "s3cret")
    assert load_settings(SHIPPED).webhooks.urls == ["https://cad.example/hook"]


def test_the_production_example_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VISIOREGUL_VIDEO__TURN_SECRET", "from-the-environment")
    example = SHIPPED.parent / "examples" / "production.toml"
    settings = load_settings(example)
    assert settings.database.url.startswith("postgresql+asyncpg://")
    assert settings.video.turn_urls[-1].startswith("turns:")
    assert settings.console.secure_cookies
