"""Reading caller numbers as trunks send them, with Google's libphonenumber.

A SAMU trunk may present ``+33612345678``, ``0612345678``, ``0033612345678``, ``33612345678``,
spaced or dotted variants, ``anonymous`` or nothing at all. Whatever arrives, ``parse_caller``
returns a ``CallerNumber`` and never raises: the regulator must always get a card, if only one
that says the number is invalid and lets them type another.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

__all__ = ["CallerNumber", "NumberKind", "parse_caller", "parse_destination"]

_MAX_INPUT = 32
"""Longer than any real number with spacing; longer input is rejected before parsing."""

_WITHHELD = {"", "anonymous", "unknown", "private", "restricted", "unavailable", "withheld"}
"""What switches present when the caller hides their number (lower-cased)."""

_SEPARATORS = re.compile(r"[\s.\-/()]")


class NumberKind(StrEnum):
    """What can be done with a caller's number."""

    MOBILE = "mobile"
    """A mobile of the home region: an SMS can be sent."""
    LANDLINE = "landline"
    """A fixed line (or a number that cannot receive SMS): ask for a mobile or an e-mail."""
    INTERNATIONAL = "international"
    """A valid number of another country; an SMS may work (foreign mobile) but costs more."""
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
    """``+33612345678``; None when withheld or invalid."""
    display: str | None = None
    """Readable form: national for the home region (``06 12 34 56 78``), international otherwise."""
    sms_capable: bool = False
    """True when the number is a mobile (home or foreign) that can receive an SMS."""
    region: str | None = None
    """ISO country code of the number (``FR``), when known."""


def _clean(raw: str) -> str:
    return _SEPARATORS.sub("", raw.strip())


def parse_caller(raw: str | None, region: str = "FR") -> CallerNumber:
    """Read a caller number presented by a trunk; never raises."""
    text = (raw or "").strip()[: _MAX_INPUT * 2]
    if text.lower() in _WITHHELD:
        return CallerNumber(raw=text, kind=NumberKind.WITHHELD)
    cleaned = _clean(text)
    if len(cleaned) > _MAX_INPUT or not re.fullmatch(r"\+?\d+", cleaned):
        return CallerNumber(raw=text, kind=NumberKind.INVALID)
    number = _parse(cleaned, region)
    if number is None:
        return CallerNumber(raw=text, kind=NumberKind.INVALID)
    return _describe(text, number, region)


def parse_destination(raw: str, region: str = "FR") -> CallerNumber:
    """Read a number typed by a regulator (same rules as a caller number)."""
    return parse_caller(raw, region)


def _parse(cleaned: str, region: str) -> phonenumbers.PhoneNumber | None:
    candidates = [cleaned]
    if cleaned.startswith("00"):
        candidates = ["+" + cleaned[2:]]
    elif not cleaned.startswith(("+", "0")):
        # Trunks often drop the "+" of an international number (``33612345678``); a bare
        # national number without its leading 0 is tried last.
        candidates = ["+" + cleaned, cleaned]
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return number
    return None


def _describe(raw: str, number: phonenumbers.PhoneNumber, home: str) -> CallerNumber:
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    region = phonenumbers.region_code_for_number(number)
    number_type = phonenumbers.number_type(number)
    mobile = number_type in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)
    if region == home:
        kind = NumberKind.MOBILE if mobile else NumberKind.LANDLINE
        display = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    else:
        kind = NumberKind.INTERNATIONAL
        display = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    return CallerNumber(
        raw=raw, kind=kind, e164=e164, display=display, sms_capable=mobile, region=region
    )
