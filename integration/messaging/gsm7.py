"""Length of a text in the GSM 7-bit default alphabet (3GPP TS 23.038, formerly GSM 03.38).

An SMS in that alphabet holds 160 characters; one character outside it (``ê``, ``’``, ``«``, a
non-breaking space...) switches the whole SMS to UCS-2, which holds 70: an invitation that fit
in one SMS then costs three and may arrive in pieces.
"""

from __future__ import annotations

__all__ = ["GSM7_BASIC", "GSM7_EXTENSION", "SMS_GSM7_MAX", "gsm7_length"]

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
"""The basic table, in code order (0x00 to 0x7F); 0x1B is the escape to the extension table."""

GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
"""Characters of the extension table: each takes two septets (escape, then the code)."""

SMS_GSM7_MAX = 160
"""Septets in a single (not concatenated) SMS."""


def gsm7_length(text: str) -> int | None:
    """The number of septets ``text`` takes in GSM-7, or ``None`` if it cannot be written in it.

    Extension characters (``€``, ``[``...) count twice. ``é``, ``è``, ``à``, ``ù`` are in the
    alphabet; ``ê``, ``â``, ``ç``, ``œ``, the typographic apostrophe ``’`` are not.
    """
    length = 0
    for char in text:
        if char == "\x1b":
            # The escape code is not a character of its own.
            return None
        if char in GSM7_BASIC:
            length += 1
        elif char in GSM7_EXTENSION:
            length += 2
        else:
            return None
    return length
