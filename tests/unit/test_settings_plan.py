"""Settings of the numbering plan and the time zone: the centre's region, trunk format and zone."""

from __future__ import annotations

from pathlib import Path

import pytest

from visioregul.integration.settings import (
    ServiceSettings,
    Settings,
    SettingsError,
    TelephonySettings,
    load_settings,
)
from visioregul.integration.telephony.numbers import TrunkFormat


@pytest.fixture(autouse=True)
def _no_config_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VISIOREGUL_CONFIG", raising=False)


def test_given_nothing_then_a_metropolitan_centre_on_paris_time_with_auto_numbers() -> None:
    settings = Settings()
    assert settings.telephony.region == "FR"
    assert settings.telephony.trunk_format is TrunkFormat.AUTO
    assert settings.service.time_zone == "Europe/Paris"


@pytest.mark.parametrize(
    ("region", "zone"),
    [("RE", "Indian/Reunion"), ("yt", "Indian/Mayotte"), ("GF", "America/Cayenne")],
)
def test_given_an_overseas_region_without_a_zone_then_the_zone_is_the_regions(
    region: str, zone: str
) -> None:
    settings = Settings(telephony=TelephonySettings(region=region))
    assert settings.telephony.region == region.upper()
    assert settings.service.time_zone == zone


def test_given_a_region_and_a_zone_then_the_zone_set_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    explicit = Settings(
        telephony=TelephonySettings(region="RE"),
        service=ServiceSettings(time_zone="Europe/Paris"),
    )
    assert explicit.service.time_zone == "Europe/Paris"
    config = tmp_path / "reunion.toml"
    config.write_text('[telephony]\nregion = "RE"\ntrunk_format = "national_without_zero"\n')
    from_file = load_settings(config)
    assert from_file.service.time_zone == "Indian/Reunion"
    assert from_file.telephony.trunk_format is TrunkFormat.NATIONAL_WITHOUT_ZERO
    monkeypatch.setenv("VISIOREGUL_SERVICE__TIME_ZONE", "Indian/Mayotte")
    assert load_settings(config).service.time_zone == "Indian/Mayotte"


def test_given_a_bad_region_zone_or_trunk_format_then_the_error_names_each_key(
    tmp_path: Path,
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(
        '[service]\ntime_zone = "Europe/Lyon"\n[telephony]\nregion = "DE"\ntrunk_format = "e.164"\n'
    )
    with pytest.raises(SettingsError) as caught:
        load_settings(config)
    message = str(caught.value)
    assert "service.time_zone: Value error, unknown time zone 'Europe/Lyon'" in message
    assert "telephony.region: Value error, 'DE' is not a region of the French plan" in message
    assert "telephony.trunk_format" in message
    assert "national_without_zero" in message  # the error lists the values allowed
