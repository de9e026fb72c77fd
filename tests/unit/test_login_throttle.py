"""Failed logins slow the next attempts down; successful ones never count."""

from __future__ import annotations

import pytest

from visioregul.integration.login_throttle import LoginThrottle
from visioregul.integration.ratelimit import RateLimitExceeded


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_given_free_failures_then_attempts_go_on_without_delay() -> None:
    throttle = LoginThrottle(free_failures=3, clock=Clock())
    for _ in range(2):
        throttle.check("ip:a", "user:x")
        throttle.failed("ip:a", "user:x")
    throttle.check("ip:a", "user:x")


def test_given_more_failures_then_each_delay_doubles_up_to_the_maximum() -> None:
    clock = Clock()
    throttle = LoginThrottle(free_failures=2, max_delay=5, clock=clock)
    delays = []
    for _ in range(7):
        throttle.failed("user:x")
        delays.append(throttle.delay("user:x"))
        clock.now += 10
    assert delays == [0, 1, 2, 4, 5, 5, 5]


def test_given_a_delay_then_an_early_attempt_is_refused_and_a_later_one_allowed() -> None:
    clock = Clock()
    throttle = LoginThrottle(free_failures=1, clock=clock)
    throttle.failed("ip:a")
    throttle.failed("ip:a")  # second failure: 2 s before the next attempt
    with pytest.raises(RateLimitExceeded) as refused:
        throttle.check("ip:a", "user:someone")
    assert refused.value.retry_after == 2
    clock.now += 2
    throttle.check("ip:a", "user:someone")


def test_given_failures_of_one_key_then_another_key_is_not_delayed() -> None:
    throttle = LoginThrottle(free_failures=1, clock=Clock())
    for _ in range(5):
        throttle.failed("ip:a")
    throttle.check("ip:b", "user:x")
    with pytest.raises(RateLimitExceeded):
        throttle.check("ip:a")


def test_given_a_success_then_the_usernames_failures_are_forgotten() -> None:
    throttle = LoginThrottle(free_failures=1, clock=Clock())
    throttle.failed("user:x")
    throttle.failed("user:x")
    throttle.succeeded("user:x")
    throttle.check("user:x")


def test_given_a_quiet_period_then_failures_are_forgotten() -> None:
    clock = Clock()
    throttle = LoginThrottle(free_failures=2, forget_after=60, clock=clock)
    for _ in range(4):
        throttle.failed("ip:a")
    clock.now += 60
    throttle.check("ip:a")
    throttle.failed("ip:a")
    assert throttle.delay("ip:a") == 0


def test_given_an_account_unlocked_then_its_failures_are_forgotten_not_the_address() -> None:
    throttle = LoginThrottle(free_failures=1, clock=Clock())
    for _ in range(3):
        throttle.failed("ip:a", "user:arm1")
        throttle.failed("password:arm1")
    assert throttle.locked_out("user:arm1")
    assert throttle.unlock("ARM1") is True
    assert not throttle.locked_out("user:arm1")
    throttle.check("user:arm1", "password:arm1")
    assert throttle.locked_out("ip:a")
    with pytest.raises(RateLimitExceeded):
        throttle.check("ip:a")
    assert throttle.unlock("arm1") is False
