"""Callers' numbers and addresses in log lines: whole only when the log is at DEBUG.

Logs are kept and shipped far longer and wider than the session store (journald, a central
syslog, a support ticket): at INFO and above they show a number masked, enough to tell two calls
apart (``+33 6•• •• •• 78``), never enough to call the patient back. Every log call that prints a
caller's number or an invitation's destination passes it through :func:`loggable`.
"""

from __future__ import annotations

import logging

import phonenumbers

__all__ = ["loggable", "mask"]

_BULLETS = "••"


def loggable(value: str | None, logger: logging.Logger) -> str:
    """``value`` (a phone number or an e-mail address) as ``logger`` may print it."""
    if value is None:
        return "-"
    if logger.isEnabledFor(logging.DEBUG):
        return value
    return mask(value)


def mask(value: str) -> str:
    """A number or an address with all but its first and last characters masked.

    ``+33612345678`` and ``0612345678`` give ``+33 6•• •• •• 78``; an e-mail address keeps its
    first letter and its domain; what holds fewer than four digits (``anonymous``, ``15``) is
    no one's number and is shown as is.
    """
    text = value.strip()
    if "@" in text:
        local, _, domain = text.rpartition("@")
        return f"{local[:1]}•••@{domain}"
    digits = [c for c in text if c.isdigit()]
    if len(digits) < 4:
        return text
    try:
        parsed = phonenumbers.parse(text, "FR")
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is not None and parsed.country_code and parsed.national_number:
        national = str(parsed.national_number)
        if len(national) >= 4:
            return f"+{parsed.country_code} {_masked_digits(national)}"
    return _masked_digits("".join(digits))


def _masked_digits(digits: str) -> str:
    # The first digit (mobile or landline, which region) and the last two stay readable.
    hidden = len(digits) - 3
    groups = " ".join([_BULLETS] * ((hidden + 1) // 2))
    return f"{digits[0]}{groups} {digits[-2:]}"
