"""The messaging port's error type."""

from __future__ import annotations

import pytest

from visioregul.integration.messaging import DeliveryError, DeliveryErrorId


@pytest.mark.parametrize(
    ("error_id", "retryable"),
    [
        (DeliveryErrorId.GATEWAY_UNREACHABLE, True),
        (DeliveryErrorId.GATEWAY_TIMEOUT, True),
        (DeliveryErrorId.GATEWAY_REFUSED, False),
        (DeliveryErrorId.INVALID_DESTINATION, False),
        (DeliveryErrorId.NOT_CONFIGURED, False),
    ],
)
def test_given_an_error_id_when_not_told_then_only_no_answer_is_retryable(
    error_id: DeliveryErrorId, retryable: bool
) -> None:
    assert DeliveryError(error_id, "x").retryable is retryable


def test_given_a_slug_as_a_string_when_raising_then_it_becomes_the_enum() -> None:
    error = DeliveryError("gateway_refused", "Twilio said no", retryable=True, provider_code="1")

    assert error.error_id is DeliveryErrorId.GATEWAY_REFUSED
    assert error.error_id == "gateway_refused"
    assert (error.message, error.retryable, error.provider_code) == ("Twilio said no", True, "1")
    assert str(error) == "gateway_refused: Twilio said no"


def test_given_an_unknown_slug_when_raising_then_value_error() -> None:
    with pytest.raises(ValueError, match="gateway_on_fire"):
        DeliveryError("gateway_on_fire", "x")
