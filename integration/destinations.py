"""Where an invitation goes: a mobile number (SMS) or an e-mail address, as a regulator types it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from email_validator import EmailNotValidError, validate_email

from .telephony.numbers import NumberKind, parse_destination
from .web.errors import InvalidRequest

__all__ = ["Destination", "DestinationKind", "parse_invitation_destination"]


class DestinationKind(StrEnum):
    """How the invitation travels."""

    SMS = "sms"
    EMAIL = "email"


@dataclass(frozen=True, slots=True)
class Destination:
    """A validated destination."""

    kind: DestinationKind
    value: str
    """E.164 number or normalised e-mail address."""
    display: str
    """What the regulator reads back."""


def parse_invitation_destination(text: str, region: str = "FR") -> Destination:
    """Validate a typed destination; raise ``InvalidRequest`` with a precise ``error_id``."""
    text = text.strip()
    if not text:
        raise InvalidRequest("missing_destination")
    if "@" in text:
        try:
            # No DNS lookup: the regulator is on the phone, and the centre may have no resolver.
            email = validate_email(text, check_deliverability=False)
        except EmailNotValidError as exc:
            raise InvalidRequest("invalid_email", reason=str(exc), value=text[:80]) from exc
        return Destination(DestinationKind.EMAIL, email.normalized, email.normalized)
    number = parse_destination(text, region)
    if number.kind is NumberKind.LANDLINE:
        raise InvalidRequest("landline_number", display=number.display or text, value=text[:80])
    if not number.sms_capable or number.e164 is None:
        raise InvalidRequest("invalid_destination", value=text[:80])
    return Destination(DestinationKind.SMS, number.e164, number.display or number.e164)
