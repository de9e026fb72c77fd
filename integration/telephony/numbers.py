"""Reading caller numbers as trunks send them, in the French numbering plan, with libphonenumber.

The French plan is one plan with several country codes: metropolitan France (+33) and the
overseas departments and collectivities that share it, Réunion and Mayotte (+262), Guadeloupe,
Saint-Barthélemy and Saint-Martin (+590), Martinique (+596), French Guiana (+594) and
Saint-Pierre-et-Miquelon (+508). A national number (``0612345678``, ``0692123456``,
``0690123456``) is read in that plan whatever the centre's region, and every number of the plan
is "home": a Réunion mobile calling a metropolitan SAMU is a mobile, not an international number.

A SAMU trunk may present ``+33612345678``, ``0612345678``, ``0033612345678``, ``33612345678``,
``612345678``, spaced or dotted variants, ``anonymous`` or nothing at all. Whatever arrives,
``parse_caller`` returns a ``CallerNumber`` and never raises: the regulator must always get a card,
if only one that says the number is invalid and lets them type another. How the trunk writes
numbers (:class:`TrunkFormat`) only decides how a bare string of digits is read: ``auto`` reads
it as a French national number without its 0 first, so that it never turns a French number into
a foreign one.

The kind of a number (mobile, landline, freephone, premium...) comes from the number itself, as
libphonenumber classifies it; only mobiles can receive an SMS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType, shortnumberinfo
from phonenumbers import timezone as phone_time_zones

__all__ = [
    "PLAN_REGIONS",
    "CallerNumber",
    "NumberKind",
    "TrunkFormat",
    "parse_caller",
    "parse_destination",
    "time_zone_for_region",
]

PLAN_REGIONS: tuple[str, ...] = ("FR", "RE", "YT", "GP", "MQ", "GF", "BL", "MF", "PM")
"""Regions (ISO 3166 codes, as libphonenumber names them) that share the French plan."""

_MAX_INPUT = 32
"""Longer than any real number with spacing; longer input is rejected before parsing."""

_MAX_SHORT = 6
"""The longest short numbers of the French plan (``116117``, ``118712``)."""

_WITHHELD = {"", "anonymous", "unknown", "private", "restricted", "unavailable", "withheld"}
"""What switches present when the caller hides their number (lower-cased)."""

_SEPARATORS = re.compile(r"[\s.\-/()]")

_PLAN_COUNTRY_CODES = frozenset(
    code for region in PLAN_REGIONS if (code := phonenumbers.country_code_for_region(region))
)
_METROPOLITAN_CODE = 33

_TERRITORIAL_TYPES = (
    PhoneNumberType.MOBILE,
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE,
    PhoneNumberType.VOIP,
)
"""Types whose ranges belong to one territory (unlike the plan-wide 08 special numbers)."""


class TrunkFormat(StrEnum):
    """How the centre's trunk presents callers' numbers (the ``telephony.trunk_format`` setting)."""

    AUTO = "auto"
    """Any of the forms below; digits without ``+`` or ``0`` are read as a French national
    number without its 0 first (``612345678``), then as an international number without ``+``."""
    E164 = "e164"
    """``+33612345678``, ``+262692123456``; digits that lost their ``+`` are international."""
    INTERNATIONAL = "international"
    """Country code without ``+``: ``33612345678``, ``262692123456``."""
    NATIONAL = "national"
    """French numbers with their 0 (``0612345678``), foreign ones with ``00`` (``0049...``)."""
    NATIONAL_WITHOUT_ZERO = "national_without_zero"
    """French numbers without their 0 (``612345678``: 9 digits), foreign ones with ``00``."""


class NumberKind(StrEnum):
    """What kind of number it is, which says what can be done with it."""

    MOBILE = "mobile"
    """A mobile of the French plan (metropolitan or overseas): an SMS can be sent."""
    LANDLINE = "landline"
    """A fixed line (geographic, or a 09 box number): no SMS; ask for a mobile or an e-mail."""
    SPECIAL = "special"
    """A special-rate or shared-cost service number (``081``, ``082``, ``084``, ``0806``...)."""
    FREEPHONE = "freephone"
    """A freephone number (``0800`` to ``0805``): a switchboard, never SMS."""
    PREMIUM = "premium"
    """A premium-rate number (``089``...): never SMS."""
    SHORT = "short"
    """A short number of the plan (``15``, ``112``, ``116117``, ``3624``): never SMS."""
    INTERNATIONAL = "international"
    """A valid number outside the French plan; an SMS may work (foreign mobile) but costs more."""
    WITHHELD = "withheld"
    """No number presented: the regulator types one."""
    INVALID = "invalid"
    """Something that is not a dialable number."""


@dataclass(frozen=True, slots=True)
class CallerNumber:
    """A caller's number as the regulator needs it."""

    raw: str
    """Exactly what the switch presented (truncated to a sane length)."""
    kind: NumberKind
    e164: str | None = None
    """``+33612345678``; None when withheld, invalid or short."""
    display: str | None = None
    """Readable form: French national form for the plan (``06 12 34 56 78``,
    ``06 92 12 34 56``, ``0 800 12 34 56``), international otherwise (``+49 1512 3456789``)."""
    sms_capable: bool = False
    """True when the number is a mobile (of the plan, or foreign) that can receive an SMS."""
    region: str | None = None
    """ISO country code of the number (``FR``, ``RE``, ``DE``), when known."""


def parse_caller(
    raw: str | None, region: str = "FR", trunk_format: TrunkFormat = TrunkFormat.AUTO
) -> CallerNumber:
    """Read a caller number presented by a trunk that writes numbers as ``trunk_format``.

    ``region`` is the centre's region: it decides which short numbers exist and is tried first
    for the few national numbers that two territories share. Never raises.
    """
    text = (raw or "").strip()[: _MAX_INPUT * 2]
    if text.lower() in _WITHHELD:
        return CallerNumber(raw=text, kind=NumberKind.WITHHELD)
    cleaned = _SEPARATORS.sub("", text)
    if len(cleaned) > _MAX_INPUT or not re.fullmatch(r"\+?\d+", cleaned):
        return CallerNumber(raw=text, kind=NumberKind.INVALID)
    home = region.strip().upper()
    if _is_short(cleaned, home):
        return CallerNumber(raw=text, kind=NumberKind.SHORT, display=cleaned, region=home or None)
    number = _read(cleaned, home, trunk_format)
    if number is None:
        return CallerNumber(raw=text, kind=NumberKind.INVALID)
    return _describe(text, number)


def parse_destination(raw: str, region: str = "FR") -> CallerNumber:
    """Read a number typed by a regulator: any form, read as ``auto`` reads a trunk's."""
    return parse_caller(raw, region, TrunkFormat.AUTO)


def time_zone_for_region(region: str) -> str:
    """The IANA time zone of a region of the plan (``Europe/Paris``, ``Indian/Reunion``...).

    Taken from libphonenumber's geocoding data for the region's landlines; raises
    :class:`ValueError` for a region it has none for.
    """
    example = phonenumbers.example_number_for_type(region.upper(), PhoneNumberType.FIXED_LINE)
    if example is not None:
        for zone in phone_time_zones.time_zones_for_geographical_number(example):
            if "/" in zone:  # libphonenumber answers "Etc/Unknown" when it does not know
                return zone
    raise ValueError(f"no time zone known for region {region!r}")


# -- reading -----------------------------------------------------------------------------------


def _is_short(cleaned: str, home: str) -> bool:
    if not cleaned.isdigit() or len(cleaned) > _MAX_SHORT or cleaned.startswith("0"):
        return False
    # libphonenumber knows metropolitan short numbers best; most (15, 112, 3624) work overseas too.
    for region in dict.fromkeys((home, "FR")):
        try:
            number = phonenumbers.parse(cleaned, region)
        except phonenumbers.NumberParseException:
            continue
        if shortnumberinfo.is_valid_short_number_for_region(number, region):
            return True
    return False


def _read(cleaned: str, home: str, trunk_format: TrunkFormat) -> phonenumbers.PhoneNumber | None:
    """The valid number ``cleaned`` stands for, per the forms it can have; None if none."""
    if cleaned.startswith("+"):
        return _international(cleaned[1:])
    if cleaned.startswith("00"):
        return _international(cleaned[2:])
    if cleaned.startswith("0"):
        return _national(cleaned, home)
    # Bare digits: the only ambiguous form, read as the trunk is declared to write numbers.
    if trunk_format is TrunkFormat.AUTO:
        return _national("0" + cleaned, home) or _international(cleaned)
    if trunk_format is TrunkFormat.NATIONAL_WITHOUT_ZERO:
        return _national("0" + cleaned, home)
    if trunk_format in (TrunkFormat.E164, TrunkFormat.INTERNATIONAL):
        return _international(cleaned)
    return None  # a national trunk never drops the 0: not a number it would send


def _national(digits: str, home: str) -> phonenumbers.PhoneNumber | None:
    """A national number (with its 0) of the French plan.

    An overseas territory's own landline, mobile or 09 range wins (libphonenumber's metropolitan
    ranges also cover 0269, Mayotte's landlines); then the home region's reading, then the
    metropolitan one: the special numbers (08) are read where the centre is.
    """
    readings = []
    for region in dict.fromkeys((home, *PLAN_REGIONS)):
        if region not in PLAN_REGIONS:
            continue
        try:
            number = phonenumbers.parse(digits, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            readings.append(number)
    for number in readings:
        if number.country_code != _METROPOLITAN_CODE and (
            phonenumbers.number_type(number) in _TERRITORIAL_TYPES
        ):
            return number
    return readings[0] if readings else None


def _international(digits: str) -> phonenumbers.PhoneNumber | None:
    """``digits`` after the ``+``: a country code, then the national number."""
    try:
        number = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.is_valid_number(number):
        return number
    if number.country_code in _PLAN_COUNTRY_CODES:
        # Switches that write every national number with one code (``+33`` + ``692123456`` for
        # 0692123456, the way a dialplan swaps a leading 0 for +33) still name a plan number.
        return _national("0" + phonenumbers.national_significant_number(number), "FR")
    return None


# -- describing --------------------------------------------------------------------------------

_PLAN_KINDS: dict[int, NumberKind] = {
    PhoneNumberType.MOBILE: NumberKind.MOBILE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE: NumberKind.MOBILE,
    PhoneNumberType.FIXED_LINE: NumberKind.LANDLINE,
    PhoneNumberType.VOIP: NumberKind.LANDLINE,
    PhoneNumberType.TOLL_FREE: NumberKind.FREEPHONE,
    PhoneNumberType.PREMIUM_RATE: NumberKind.PREMIUM,
}
"""Kinds by libphonenumber type; any other type of the plan (shared cost, UAN...) is special."""

_MOBILE_TYPES = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)


def _describe(raw: str, number: phonenumbers.PhoneNumber) -> CallerNumber:
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    region = phonenumbers.region_code_for_number(number)
    number_type = phonenumbers.number_type(number)
    if number.country_code in _PLAN_COUNTRY_CODES:
        kind = _PLAN_KINDS.get(number_type, NumberKind.SPECIAL)
        return CallerNumber(
            raw=raw,
            kind=kind,
            e164=e164,
            display=_french_display(number),
            sms_capable=kind is NumberKind.MOBILE,
            region=region,
        )
    return CallerNumber(
        raw=raw,
        kind=NumberKind.INTERNATIONAL,
        e164=e164,
        display=phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL),
        sms_capable=number_type in _MOBILE_TYPES,
        region=region,
    )


def _french_display(number: phonenumbers.PhoneNumber) -> str:
    """The number as French people write it: ``06 92 12 34 56``, ``0 800 12 34 56``.

    libphonenumber writes overseas numbers ``0692 12 34 56``; the ten-digit numbers of the plan
    all follow the metropolitan grouping, so they are formatted with France's rules.
    """
    national = phonenumbers.national_significant_number(number)
    if len(national) == 9:
        metropolitan = phonenumbers.PhoneNumber(country_code=33, national_number=int(national))
        return phonenumbers.format_number(metropolitan, PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
