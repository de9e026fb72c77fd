"""Caller numbers in every shape trunks send them."""

from __future__ import annotations

import pytest

from visioregul.integration.telephony.numbers import NumberKind, parse_caller

FRENCH_MOBILE = "+33612345678"


@pytest.mark.parametrize(
    "raw",
    [
        "+33612345678",
        "0612345678",
        "0033612345678",
        "33612345678",
        "06 12 34 56 78",
        "06.12.34.56.78",
        "06-12-34-56-78",
        " +33 6 12 34 56 78 ",
        "+33 (0)6 12 34 56 78".replace("(0)", ""),
    ],
)
def test_given_a_french_mobile_in_any_shape_then_it_is_a_mobile_in_e164(raw: str) -> None:
    number = parse_caller(raw)
    assert number.kind is NumberKind.MOBILE
    assert number.e164 == FRENCH_MOBILE
    assert number.display == "06 12 34 56 78"
    assert number.sms_capable


@pytest.mark.parametrize("raw", ["0145678901", "+33145678901", "0033145678901", "01 45 67 89 01"])
def test_given_a_french_landline_then_no_sms(raw: str) -> None:
    number = parse_caller(raw)
    assert number.kind is NumberKind.LANDLINE
    assert number.e164 == "+33145678901"
    assert not number.sms_capable


@pytest.mark.parametrize("raw", ["", None, "anonymous", "Anonymous", "unknown", "restricted", "  "])
def test_given_no_number_then_withheld(raw: str | None) -> None:
    number = parse_caller(raw)
    assert number.kind is NumberKind.WITHHELD
    assert number.e164 is None


@pytest.mark.parametrize(
    "raw",
    [
        "abc",
        "06123456AB",
        "+3361234567",
        "0612345678901234567890123456789012345678",
        "9" * 5000,
        "15",
        "112",
        "+",
        "0",
        "\x00\x01",
        "06 12 34 56 78; DROP TABLE",
    ],
)
def test_given_garbage_then_invalid_and_never_an_exception(raw: str) -> None:
    number = parse_caller(raw)
    assert number.kind is NumberKind.INVALID
    assert number.e164 is None
    assert len(number.raw) <= 64


def test_given_a_foreign_mobile_then_international_and_sms_capable() -> None:
    number = parse_caller("+4915123456789")
    assert number.kind is NumberKind.INTERNATIONAL
    assert number.e164 == "+4915123456789"
    assert number.region == "DE"
    assert number.sms_capable
    assert number.display == "+49 1512 3456789"


def test_given_a_foreign_landline_then_international_without_sms() -> None:
    number = parse_caller("+493012345678")
    assert number.kind is NumberKind.INTERNATIONAL
    assert not number.sms_capable


def test_given_another_home_region_then_its_national_numbers_are_read() -> None:
    number = parse_caller("0692123456", region="RE")
    assert number.kind is NumberKind.MOBILE
    assert number.e164 == "+262692123456"
