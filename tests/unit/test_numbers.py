"""Numbers of the whole French plan in every shape trunks send them, for centres in FR and RE."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
import pytest

from visioregul.integration.telephony.numbers import (
    PLAN_REGIONS,
    NumberKind,
    TrunkFormat,
    parse_caller,
    parse_destination,
    time_zone_for_region,
)

CENTRES = ("FR", "RE")
"""A metropolitan centre and an overseas one: the plan reads the same from both."""


@dataclass(frozen=True)
class Plan:
    """A number of the French plan as every form writes it."""

    territory: str
    """ISO code libphonenumber gives the number."""
    national: str
    """With its 0: ``0692123456``."""
    e164: str
    display: str
    kind: NumberKind

    @property
    def without_zero(self) -> str:
        return self.national[1:]

    @property
    def international(self) -> str:
        return self.e164[1:]


TERRITORIES = [
    Plan("FR", "0612345678", "+33612345678", "06 12 34 56 78", NumberKind.MOBILE),
    Plan("FR", "0756123456", "+33756123456", "07 56 12 34 56", NumberKind.MOBILE),
    Plan("FR", "0145678901", "+33145678901", "01 45 67 89 01", NumberKind.LANDLINE),
    Plan("FR", "0912345678", "+33912345678", "09 12 34 56 78", NumberKind.LANDLINE),
    Plan("RE", "0692123456", "+262692123456", "06 92 12 34 56", NumberKind.MOBILE),
    Plan("RE", "0693123456", "+262693123456", "06 93 12 34 56", NumberKind.MOBILE),
    Plan("RE", "0262161234", "+262262161234", "02 62 16 12 34", NumberKind.LANDLINE),
    Plan("YT", "0639012345", "+262639012345", "06 39 01 23 45", NumberKind.MOBILE),
    Plan("YT", "0269601234", "+262269601234", "02 69 60 12 34", NumberKind.LANDLINE),
    Plan("GP", "0690001234", "+590690001234", "06 90 00 12 34", NumberKind.MOBILE),
    Plan("GP", "0590201234", "+590590201234", "05 90 20 12 34", NumberKind.LANDLINE),
    Plan("BL", "0590271234", "+590590271234", "05 90 27 12 34", NumberKind.LANDLINE),
    Plan("MF", "0590771234", "+590590771234", "05 90 77 12 34", NumberKind.LANDLINE),
    Plan("MQ", "0696201234", "+596696201234", "06 96 20 12 34", NumberKind.MOBILE),
    Plan("MQ", "0596301234", "+596596301234", "05 96 30 12 34", NumberKind.LANDLINE),
    Plan("GF", "0694201234", "+594694201234", "06 94 20 12 34", NumberKind.MOBILE),
    Plan("GF", "0594101234", "+594594101234", "05 94 10 12 34", NumberKind.LANDLINE),
    Plan("PM", "0551234", "+508551234", "055 12 34", NumberKind.MOBILE),
    Plan("PM", "0411234", "+508411234", "041 12 34", NumberKind.LANDLINE),
]


def _spaced(national: str) -> str:
    """``06 92 12 34 56`` (pairs after the first two digits)."""
    return " ".join([national[:2], *(national[i : i + 2] for i in range(2, len(national), 2))])


# (name, how the form is written, the trunk formats that read it as that number)
_EVERY_FORMAT = tuple(TrunkFormat)
FORMS = [
    ("e164", lambda p: p.e164, _EVERY_FORMAT),
    ("e164 spaced", lambda p: f"+{p.e164[1:4]} {p.e164[4:]}", _EVERY_FORMAT),
    ("00 prefix", lambda p: "00" + p.international, _EVERY_FORMAT),
    (
        "international without +",
        lambda p: p.international,
        (TrunkFormat.AUTO, TrunkFormat.E164, TrunkFormat.INTERNATIONAL),
    ),
    ("national", lambda p: p.national, _EVERY_FORMAT),
    ("national spaced", lambda p: _spaced(p.national), _EVERY_FORMAT),
    ("national dotted", lambda p: _spaced(p.national).replace(" ", "."), _EVERY_FORMAT),
    ("national dashed", lambda p: _spaced(p.national).replace(" ", "-"), _EVERY_FORMAT),
    (
        "national without 0",
        lambda p: p.without_zero,
        (TrunkFormat.AUTO, TrunkFormat.NATIONAL_WITHOUT_ZERO),
    ),
]


@pytest.mark.parametrize("centre", CENTRES)
@pytest.mark.parametrize("trunk_format", list(TrunkFormat), ids=str)
@pytest.mark.parametrize("form", FORMS, ids=lambda form: form[0])
@pytest.mark.parametrize("plan", TERRITORIES, ids=lambda p: f"{p.territory}-{p.national}")
def test_given_a_number_of_the_plan_in_any_form_then_read_as_the_trunk_format_says(
    plan: Plan,
    form: tuple[str, object, tuple[TrunkFormat, ...]],
    trunk_format: TrunkFormat,
    centre: str,
) -> None:
    name, write, readers = form
    raw = write(plan)  # type: ignore[operator]
    number = parse_caller(raw, centre, trunk_format)
    if name == "international without +" and trunk_format is TrunkFormat.AUTO and len(raw) == 9:
        # 508 41 12 34 (Saint-Pierre) is also 05 08 41 12 34 without its 0: auto reads the
        # national form first, as documented; an international trunk must say so.
        assert number.e164 == "+33" + raw
        return
    if trunk_format not in readers:
        # A form the trunk does not write: never read as that number (no guess).
        assert number.e164 != plan.e164, raw
        return
    assert (number.kind, number.e164, number.display) == (plan.kind, plan.e164, plan.display), raw
    assert number.region == plan.territory
    assert number.sms_capable is (plan.kind is NumberKind.MOBILE)
    assert number.raw == raw.strip()


SPECIALS = [
    ("0800123456", NumberKind.FREEPHONE, "0 800 12 34 56"),
    ("0805123456", NumberKind.FREEPHONE, "0 805 12 34 56"),
    ("0891123456", NumberKind.PREMIUM, "0 891 12 34 56"),
    ("0899123456", NumberKind.PREMIUM, "0 899 12 34 56"),
    ("0810123456", NumberKind.SPECIAL, "0 810 12 34 56"),
    ("0820123456", NumberKind.SPECIAL, "0 820 12 34 56"),
    ("0884123456", NumberKind.SPECIAL, "0 884 12 34 56"),
]


@pytest.mark.parametrize("centre", CENTRES)
@pytest.mark.parametrize(("raw", "kind", "display"), SPECIALS)
def test_given_a_special_number_then_its_kind_comes_from_the_number_and_no_sms(
    raw: str, kind: NumberKind, display: str, centre: str
) -> None:
    for shape in (raw, _spaced(raw), raw[1:]):
        number = parse_caller(shape, centre)
        assert (number.kind, number.display, number.sms_capable) == (kind, display, False), shape
        assert number.e164 is not None and number.e164.endswith(raw[1:])


def test_given_a_metropolitan_centre_then_special_numbers_are_metropolitan() -> None:
    assert parse_caller("0800123456", "FR").e164 == "+33800123456"
    assert parse_destination("0 891 12 34 56", "FR").e164 == "+33891123456"


@pytest.mark.parametrize("centre", CENTRES)
@pytest.mark.parametrize("raw", ["15", "17", "18", "112", "114", "116117", "3624", "3919"])
def test_given_a_short_number_then_short_and_no_sms(raw: str, centre: str) -> None:
    for trunk_format in TrunkFormat:
        number = parse_caller(raw, centre, trunk_format)
        assert (number.kind, number.e164, number.display) == (NumberKind.SHORT, None, raw)
        assert not number.sms_capable


@pytest.mark.parametrize("centre", CENTRES)
@pytest.mark.parametrize(
    ("raw", "e164", "display"),
    [
        ("+33692123456", "+262692123456", "06 92 12 34 56"),
        ("33692123456", "+262692123456", "06 92 12 34 56"),
        ("+262612345678", "+33612345678", "06 12 34 56 78"),
        ("+33690001234", "+590690001234", "06 90 00 12 34"),
    ],
)
def test_given_a_plan_number_under_the_wrong_code_of_the_plan_then_its_national_form_is_read(
    raw: str, e164: str, display: str, centre: str
) -> None:
    """A dialplan that swaps every leading 0 for +33 still names a Réunion mobile."""
    number = parse_caller(raw, centre, TrunkFormat.E164)
    assert (number.kind, number.e164, number.display) == (NumberKind.MOBILE, e164, display)


def _french_mobiles_without_zero() -> list[tuple[str, str]]:
    """Every 9-digit mobile range of the plan: ``6AB123456`` and ``7AB123456``, when valid."""
    found = []
    for first in "67":
        for block in range(100):
            national = f"0{first}{block:02d}123456"
            for region in PLAN_REGIONS:
                number = phonenumbers.parse(national, region)
                if phonenumbers.is_valid_number(number):
                    found.append(
                        (national[1:], phonenumbers.format_number(number, 0))  # 0: E164
                    )
                    break
    return found


MOBILES_WITHOUT_ZERO = _french_mobiles_without_zero()


def test_the_mobile_table_covers_the_overseas_ranges() -> None:
    e164s = {e164[:4] for _, e164 in MOBILES_WITHOUT_ZERO}
    assert {"+336", "+337", "+262", "+590", "+594", "+596"} <= e164s
    assert len(MOBILES_WITHOUT_ZERO) > 100


@pytest.mark.parametrize("centre", CENTRES)
def test_given_auto_then_a_french_mobile_without_its_zero_never_becomes_foreign(
    centre: str,
) -> None:
    wrong = []
    for digits, e164 in MOBILES_WITHOUT_ZERO:
        number = parse_caller(digits, centre, TrunkFormat.AUTO)
        if (number.kind, number.e164) != (NumberKind.MOBILE, e164):
            wrong.append((digits, number.kind, number.e164))
    assert wrong == []


@pytest.mark.parametrize("centre", CENTRES)
def test_given_a_foreign_mobile_then_international_and_sms_capable(centre: str) -> None:
    for raw in ("+4915123456789", "004915123456789", "4915123456789"):
        number = parse_caller(raw, centre)
        assert number.kind is NumberKind.INTERNATIONAL
        assert number.e164 == "+4915123456789"
        assert number.region == "DE"
        assert number.sms_capable
        assert number.display == "+49 1512 3456789"


def test_given_a_foreign_landline_then_international_without_sms() -> None:
    number = parse_caller("+493012345678")
    assert number.kind is NumberKind.INTERNATIONAL
    assert not number.sms_capable


def test_given_an_international_trunk_then_bare_digits_are_international_first() -> None:
    """508411234 is Saint-Pierre's 041 12 34 on an international trunk, 05 08 41 12 34 otherwise."""
    assert parse_caller("508411234", "FR", TrunkFormat.INTERNATIONAL).e164 == "+508411234"
    assert parse_caller("508411234", "FR", TrunkFormat.E164).e164 == "+508411234"
    assert parse_caller("508411234", "FR", TrunkFormat.AUTO).e164 == "+33508411234"
    assert parse_caller("508411234", "FR", TrunkFormat.NATIONAL_WITHOUT_ZERO).e164 == (
        "+33508411234"
    )
    assert parse_caller("508411234", "FR", TrunkFormat.NATIONAL).kind is NumberKind.INVALID


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
        "12",
        "0712345678",
        "+",
        "0",
        "\x00\x01",
        "06 12 34 56 78; DROP TABLE",
    ],
)
def test_given_garbage_then_invalid_and_never_an_exception(raw: str) -> None:
    for centre in CENTRES:
        for trunk_format in TrunkFormat:
            number = parse_caller(raw, centre, trunk_format)
            assert number.kind is NumberKind.INVALID
            assert number.e164 is None
            assert len(number.raw) <= 64


def test_given_a_typed_destination_then_read_as_auto() -> None:
    assert parse_destination("692 12 34 56", "FR").e164 == "+262692123456"
    assert parse_destination("262 692 12 34 56", "FR").e164 == "+262692123456"
    assert parse_destination("06.12.34.56.78", "RE").e164 == "+33612345678"


@pytest.mark.parametrize(
    ("region", "zone"),
    [
        ("FR", "Europe/Paris"),
        ("RE", "Indian/Reunion"),
        ("YT", "Indian/Mayotte"),
        ("GP", "America/Guadeloupe"),
        ("BL", "America/Guadeloupe"),
        ("MF", "America/Guadeloupe"),
        ("MQ", "America/Martinique"),
        ("GF", "America/Cayenne"),
        ("PM", "America/Miquelon"),
    ],
)
def test_every_region_of_the_plan_has_its_time_zone(region: str, zone: str) -> None:
    assert time_zone_for_region(region) == zone


def test_given_a_region_without_a_zone_then_value_error() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        time_zone_for_region("ZZ")
