"""Where an invitation goes: a mobile number (SMS) or an e-mail address, as a regulator types it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from email_validator import EmailNotValidError, validate_email

from .errors import DomainError
from .telephony.numbers import NumberKind, parse_destination

__all__ = [
    "Destination",
    "DestinationKind",
    "InvalidDestination",
    "parse_invitation_destination",
]


class InvalidDestination(DomainError):
    """A destination that cannot receive an invitation; ``error_id`` says why:
    ``missing_destination``, ``invalid_email``, ``invalid_destination``, or the kind of number
    that gets no SMS (``landline_number``, ``freephone_number``...)."""

    error_id = "invalid_destination"


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
    """Validate a typed destination; raise ``InvalidDestination`` with a precise ``error_id``.

    Only mobiles receive the SMS: a landline, a special, freephone, premium or short number, or
    a foreign number that is not a mobile, is refused with its own reason (``landline_number``,
    ``freephone_number``...), so that the regulator knows what to ask the caller for.
    """
    text = text.strip()
    if not text:
        raise InvalidDestination("missing_destination")
    if "@" in text:
        try:
            # No DNS lookup: the regulator is on the phone, and the centre may have no resolver.
            email = validate_email(text, check_deliverability=False)
        except EmailNotValidError as exc:
            raise InvalidDestination("invalid_email", reason=str(exc), value=text[:80]) from exc
        return Destination(DestinationKind.EMAIL, email.normalized, email.normalized)
    number = parse_destination(text, region)
    if number.sms_capable and number.e164 is not None:
        return Destination(DestinationKind.SMS, number.e164, number.display or number.e164)
    refusal = _NO_SMS.get(number.kind)
    if refusal is None:  # invalid or withheld: nothing that can be dialled
        raise InvalidDestination("invalid_destination", value=text[:80])
    raise InvalidDestination(refusal, display=number.display or text, value=text[:80])


_NO_SMS: dict[NumberKind, str] = {
    NumberKind.LANDLINE: "landline_number",
    NumberKind.SPECIAL: "special_number",
    NumberKind.FREEPHONE: "freephone_number",
    NumberKind.PREMIUM: "premium_number",
    NumberKind.SHORT: "short_number",
    NumberKind.INTERNATIONAL: "foreign_number_without_sms",
}
"""Why a valid number that cannot receive an SMS is refused, by kind (``error_id``)."""
