"""The GSM-7 alphabet: what fits in a 160-character SMS."""

from __future__ import annotations

import pytest

from visioregul.integration.messaging import gsm7_length
from visioregul.integration.messaging.gsm7 import GSM7_BASIC, GSM7_EXTENSION


def test_given_the_tables_then_they_have_the_sizes_of_the_standard() -> None:
    # 128 codes in the basic table, the escape included; nine characters plus form feed in the
    # extension table.
    assert len(GSM7_BASIC) == 128
    assert len(GSM7_EXTENSION) == 10
    assert not GSM7_BASIC & GSM7_EXTENSION


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("Valable jusqu'à 14h32", 21),
        ("é è ù à ì ò É Ç", 15),
        ("@£$¥¤§¿¡ÄÖÑÜäöñüßÆæØøÅå", 23),
        ("ΔΦΓΛΩΠΨΣΘΞ", 10),
        ("line\nbreak\r", 11),
        ("€", 2),
        ("[x]{y}~^|\\", 18),
    ],
)
def test_given_gsm7_text_when_measuring_then_extension_characters_count_twice(
    text: str, expected: int
) -> None:
    assert gsm7_length(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "être",  # ê
        "ça",  # only the capital Ç is in the alphabet
        "âge",
        "l’appel",  # typographic apostrophe
        "« guillemets »",
        "14\u00a0h\u00a032",  # non-breaking space
        "cœur",
        "naïf",
        "emoji 🚑",
        "\x1b",  # the escape code alone is not text
        "`backtick`",
    ],
)
def test_given_a_character_outside_gsm7_when_measuring_then_none(text: str) -> None:
    assert gsm7_length(text) is None
