"""The message catalogue and the rate limiter."""

from __future__ import annotations

import re

import pytest

from visioregul.integration.i18n import load_catalogue
from visioregul.integration.ratelimit import RateLimiter, RateLimitExceeded


def test_every_language_has_every_french_key_with_the_same_placeholders() -> None:
    catalogue = load_catalogue()
    assert {"fr", "en"} <= set(catalogue.languages)
    french = catalogue.messages["fr"]
    for language in catalogue.languages:
        messages = catalogue.messages[language]
        assert set(messages) == set(french), language
        for key, text in messages.items():
            assert set(re.findall(r"{(\w+)}", text)) == set(re.findall(r"{(\w+)}", french[key]))


def test_french_texts_never_break_a_line_before_a_colon_or_inside_guillemets() -> None:
    # French typography: « Autoriser » and "Étape :" keep their marks on the word's line; a
    # plain space would let a narrow phone screen wrap "»" or ":" to the start of a line.
    for key, text in load_catalogue().messages["fr"].items():
        assert not re.search(r"« | »| [:;?!](\s|$)", text), (key, text)


def test_catalogue_lookup_negotiation_and_fallback() -> None:
    catalogue = load_catalogue()
    assert catalogue.get("fr", "error.rate_limited", retry_after=5).endswith("5 secondes.")
    assert catalogue.get("de", "error.not_found") == catalogue.get("fr", "error.not_found")
    assert catalogue.get("fr", "no.such.key") == "no.such.key"
    assert catalogue.negotiate("en-GB,en;q=0.9,fr;q=0.8") == "en"
    assert catalogue.negotiate("de-DE, fr;q=0.5, en;q=0.7") == "en"
    assert catalogue.negotiate("de") == "fr"
    assert catalogue.negotiate(None) == "fr"
    assert catalogue.negotiate("en;q=abc, fr") == "fr"


def test_rate_limiter_window() -> None:
    now = [0.0]
    limiter = RateLimiter(limit=2, period=60, clock=lambda: now[0])
    limiter.hit("a")
    limiter.hit("a")
    with pytest.raises(RateLimitExceeded) as caught:
        limiter.hit("a")
    assert caught.value.retry_after == 60
    limiter.hit("b")
    now[0] = 61
    limiter.hit("a")
    limiter.reset("a")
    limiter.hit("a")
    limiter.hit("a")
