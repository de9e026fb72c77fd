"""``[[centres]]``: several centres' lines, desks and time zones, checked at start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from visioregul.integration.settings import (
    ConsoleSettings,
    Settings,
    SettingsError,
    TelephonySettings,
    load_settings,
)


def _settings(centres: list[dict[str, Any]], **overrides: Any) -> Settings:
    return Settings(
        telephony=TelephonySettings(lines=["15-31", "15-973", "15"]),
        centres=centres,  # type: ignore[arg-type]
        **overrides,
    )


def _refused(centres: list[dict[str, Any]], **overrides: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        _settings(centres, **overrides)
    return str(caught.value)


def test_given_no_centre_then_the_default_centre_has_the_console_positions() -> None:
    settings = Settings()
    assert settings.centres == []
    assert settings.default_centre_positions() == ["PJSIP/1001", "PJSIP/1002", "PJSIP/1003"]


def test_given_two_centres_then_each_has_its_lines_desks_and_zone() -> None:
    settings = _settings(
        [
            {"code": "samu31", "name": "SAMU 31", "lines": ["15-31"], "positions": ["PJSIP/1001"]},
            {
                "code": "samu973",
                "name": "SAMU 973",
                "time_zone": "America/Cayenne",
                "lines": ["15-973"],
                "positions": ["PJSIP/1101", "PJSIP/1102"],
            },
        ]
    )
    assert [(c.code, c.time_zone, c.lines) for c in settings.centres] == [
        ("samu31", None, ["15-31"]),
        ("samu973", "America/Cayenne", ["15-973"]),
    ]
    # console.positions left to its default: the centres' desks are all there is.
    assert settings.default_centre_positions() == []


def test_given_console_positions_set_beside_centres_then_they_stay_the_default_centres() -> None:
    settings = _settings(
        [{"code": "samu31", "name": "SAMU 31", "positions": ["PJSIP/1001"]}],
        console=ConsoleSettings(positions=["PJSIP/1009"]),
    )
    assert settings.default_centre_positions() == ["PJSIP/1009"]


def test_given_a_code_twice_then_refused() -> None:
    message = _refused([{"code": "samu31", "name": "A"}, {"code": "samu31", "name": "B"}])
    assert "centres (samu31): the code 'samu31' is declared twice" in message


def test_given_a_line_in_two_centres_then_refused_naming_both() -> None:
    message = _refused(
        [
            {"code": "samu31", "name": "A", "lines": ["15-31"]},
            {"code": "samu973", "name": "B", "lines": ["15-31"]},
        ]
    )
    assert "centres (samu973): line '15-31' is centre 'samu31''s already" in message


def test_given_a_line_not_offered_then_refused_with_the_offered_lines() -> None:
    message = _refused([{"code": "samu31", "name": "A", "lines": ["15-64"]}])
    assert "centres (samu31): line '15-64' is not one of telephony.lines" in message
    assert "'15-31', '15-973', '15'" in message


def test_given_a_desk_in_two_centres_then_refused() -> None:
    message = _refused(
        [
            {"code": "samu31", "name": "A", "positions": ["PJSIP/1001"]},
            {"code": "samu973", "name": "B", "positions": ["PJSIP/1001"]},
        ]
    )
    assert "centres (samu973): position 'PJSIP/1001' is centre 'samu31''s already" in message


def test_given_a_desk_of_the_console_positions_in_another_centre_then_refused() -> None:
    message = _refused(
        [{"code": "samu31", "name": "A", "positions": ["PJSIP/1001"]}],
        console=ConsoleSettings(positions=["PJSIP/1001"]),
    )
    assert "position 'PJSIP/1001' is centre 'default''s already" in message


def test_given_a_desk_that_is_no_position_then_refused() -> None:
    message = _refused([{"code": "samu31", "name": "A", "positions": ["PJSIP/trunk"]}])
    assert "position 'PJSIP/trunk' does not match telephony.position_pattern" in message


@pytest.mark.parametrize(
    ("centre", "expected"),
    [
        ({"code": "SAMU 31", "name": "A"}, "centre code 'SAMU 31': 1 to 32 lower-case"),
        ({"code": "samu31", "name": ""}, "at least 1 character"),
        ({"code": "samu31", "name": "A", "time_zone": "Mars/Olympus"}, "unknown time zone"),
        ({"code": "samu31", "name": "A", "sites": []}, "Extra inputs are not permitted"),
    ],
)
def test_given_a_bad_centre_then_the_error_says_what(centre: dict[str, Any], expected: str) -> None:
    assert expected in _refused([centre])


def test_given_a_file_with_centres_then_read_and_errors_name_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VISIOREGUL_CONFIG", raising=False)
    config = tmp_path / "centres.toml"
    config.write_text(
        '[telephony]\nlines = ["15-31", "15-973"]\n'
        '[[centres]]\ncode = "samu31"\nname = "SAMU 31"\nlines = ["15-31"]\n'
        '[[centres]]\ncode = "samu973"\nname = "SAMU 973"\ntime_zone = "America/Cayenne"\n'
        'lines = ["15-973"]\npositions = ["PJSIP/1101"]\n'
    )
    settings = load_settings(config)
    assert [c.code for c in settings.centres] == ["samu31", "samu973"]
    config.write_text('[[centres]]\ncode = "samu31"\nname = "SAMU 31"\ntime_zone = "Paris"\n')
    with pytest.raises(SettingsError) as caught:
        load_settings(config)
    assert "centres.0.time_zone" in str(caught.value)
    assert "unknown time zone 'Paris'" in str(caught.value)
