"""Numbers and addresses in log lines: masked unless the log is at DEBUG."""

from __future__ import annotations

import logging

import pytest

from visioregul.integration.log_privacy import loggable, mask


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("+33612345678", "+33 6•• •• •• 78"),
        ("0612345678", "+33 6•• •• •• 78"),
        ("+262692123456", "+262 6•• •• •• 56"),
        ("+4915123456789", "+49 1•• •• •• •• 89"),
        ("patient@example.org", "p•••@example.org"),
        ("anonymous", "anonymous"),
        ("15", "15"),
    ],
)
def test_given_a_number_or_an_address_then_only_its_ends_stay(value: str, masked: str) -> None:
    assert mask(value) == masked


def test_given_a_logger_at_debug_then_the_number_is_whole() -> None:
    logger = logging.getLogger("visioregul.test.privacy")
    logger.setLevel(logging.DEBUG)
    assert loggable("+33612345678", logger) == "+33612345678"
    logger.setLevel(logging.INFO)
    assert loggable("+33612345678", logger) == "+33 6•• •• •• 78"
    assert loggable(None, logger) == "-"
