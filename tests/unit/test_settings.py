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


def test_given_api_keys_with_and_without_an_account_then_both_are_read(tmp_path: Path) -> None:
    config = tmp_path / "keys.toml"
    config.write_text(
        '[console]\napi_keys = [{key = "sha256:abcd", account = "regulateur"}, "plain-key"]\n'
    )
    keys = load_settings(config).console.api_keys
    assert (keys[0].key.get_secret_value(), keys[0].account) == ("sha256:abcd", "regulateur")
    assert (keys[1].key.get_secret_value(), keys[1].account) == ("plain-key", None)


def test_given_a_key_entry_without_its_key_then_the_error_names_it(tmp_path: Path) -> None:
    config = tmp_path / "keys.toml"
    config.write_text('[console]\napi_keys = [{account = "regulateur"}]\n')
    with pytest.raises(SettingsError) as caught:
        load_settings(config)
    assert "console.api_keys.0.key: Field required" in str(caught.value)


def test_given_positions_outside_the_pattern_or_a_bad_pattern_then_refused(
    tmp_path: Path,
) -> None:
    config = tmp_path / "positions.toml"
    config.write_text('[console]\npositions = ["PJSIP/1001", "PJSIP/trunk-orange"]\n')
    with pytest.raises(SettingsError, match=r"PJSIP/trunk-orange do not match"):
        load_settings(config)
    config.write_text('[telephony]\nposition_pattern = "PJSIP/(1"\n')
    with pytest.raises(SettingsError, match=r"telephony\.position_pattern: .*regular expression"):
        load_settings(config)
    config.write_text(
        '[telephony]\nposition_pattern = "SIP/2[0-9]{2}"\n[console]\npositions = ["SIP/201"]\n'
    )
    assert load_settings(config).console.positions == ["SIP/201"]


def test_given_instances_then_each_has_its_own_ari_application_unless_one_is_named() -> None:
    named = Settings.model_validate({"service": {"instance_id": "visio-b"}})
    chosen = Settings.model_validate(
        {"service": {"instance_id": "visio-b"}, "telephony": {"ari": {"app": "samu31"}}}
    )
    alone = Settings.model_validate({})
    assert named.telephony.ari.app == "visioregul-visio-b"
    assert chosen.telephony.ari.app == "samu31"
    assert alone.telephony.ari.app == "visioregul"
