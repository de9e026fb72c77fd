"""Failed console logins slow down further attempts, per client and per username.

Only failures count; a successful login never does (a shift change of thirty regulators behind
one proxy must not lock anybody out). After ``free_failures`` failures in a row for a key, each
further attempt must wait a delay that doubles with every new failure (1 s, 2 s, 4 s... up to
``max_delay``); an attempt made before the delay has passed is refused without checking the
password. A key is forgotten after ``forget_after`` seconds without a failure. Knows nothing of
HTTP: a refusal raises ``RateLimitExceeded``, which the caller translates.

Callers use one async interface, :class:`LoginLimiter`: on SQLite (one instance) the failures
stay in this process's memory (:class:`LocalLoginThrottle`); on PostgreSQL every instance counts
them together in the store (:class:`~.shared_login_throttle.StoreLoginThrottle`), or a load
balancer would give an attacker one series of attempts per instance.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from .ratelimit import RateLimitExceeded

__all__ = ["LocalLoginThrottle", "LoginLimiter", "LoginThrottle", "account_keys", "delay_after"]


class LoginLimiter(Protocol):
    """Growing delays after failed logins, per key (a client address, a username)."""

    @property
    def free_failures(self) -> int:
        """Failures allowed in a row before delays start."""

    async def check(self, *keys: str) -> None:
        """Raise ``RateLimitExceeded`` when any key must still wait before its next attempt."""

    async def failed(self, *keys: str) -> None:
        """Count one failed login for each key."""

    async def succeeded(self, key: str) -> None:
        """Forget the failures of ``key`` (the username that just signed in)."""

    async def locked_out(self, key: str) -> bool:
        """Whether ``key``'s attempts are delayed."""

    async def unlock(self, username: str) -> bool:
        """Forget the failures counted against the account ``username``; whether there were."""


def account_keys(username: str) -> tuple[str, str]:
    """The keys an account's failures are counted under: its sign-ins, its password changes."""
    name = username.lower()
    return (f"user:{name}", f"password:{name}")


def delay_after(count: int, free_failures: int, max_delay: float) -> float:
    """The delay imposed after ``count`` failures in a row, in seconds."""
    if count < free_failures:
        return 0.0
    return float(min(max_delay, 2 ** (count - free_failures)))


@dataclass
class _Failures:
    count: int
    last: float


@dataclass
class LoginThrottle:
    """Growing delays after failed logins, for each key (a client address, a username)."""

    free_failures: int = 5
    """Failures allowed in a row before delays start (typing mistakes)."""
    max_delay: float = 300.0
    """The longest delay imposed between two attempts, in seconds."""
    forget_after: float = 900.0
    """A key with no failure for this long starts afresh."""
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, _Failures] = field(default_factory=dict)
    _max_keys: int = 100_000

    def check(self, *keys: str) -> None:
        """Raise ``RateLimitExceeded`` when any key must still wait before its next attempt."""
        now = self.clock()
        wait = max((self._wait(key, now) for key in keys), default=0.0)
        if wait > 0:
            raise RateLimitExceeded(retry_after=max(1, math.ceil(wait)))

    def failed(self, *keys: str) -> None:
        """Count one failed login for each key."""
        now = self.clock()
        if len(self._failures) >= self._max_keys:
            self._evict(now)
        for key in keys:
            failures = self._failures.get(key)
            if failures is None or now - failures.last >= self.forget_after:
                self._failures[key] = _Failures(1, now)
            else:
                failures.count += 1
                failures.last = now

    def succeeded(self, key: str) -> None:
        """Forget the failures of ``key`` (the username that just signed in)."""
        self._failures.pop(key, None)

    def locked_out(self, key: str) -> bool:
        """Whether ``key``'s attempts are delayed: enough recent failures that each further
        attempt must wait (until an unlock, a success or ``forget_after`` without failure)."""
        failures = self._failures.get(key)
        if failures is None or self.clock() - failures.last >= self.forget_after:
            return False
        return self.delay(key) > 0

    def unlock(self, username: str) -> bool:
        """Forget every failure counted against the account ``username`` (its sign-ins and its
        password changes): an administrator unlocked it. Failures counted against client
        addresses stay. Whether anything was forgotten."""
        return any([self._failures.pop(key, None) is not None for key in account_keys(username)])

    def delay(self, key: str) -> float:
        """The delay imposed after the failures recorded for ``key``, in seconds."""
        failures = self._failures.get(key)
        if failures is None:
            return 0.0
        return delay_after(failures.count, self.free_failures, self.max_delay)

    def _wait(self, key: str, now: float) -> float:
        failures = self._failures.get(key)
        if failures is None or now - failures.last >= self.forget_after:
            return 0.0
        return failures.last + self.delay(key) - now

    def _evict(self, now: float) -> None:
        # A flood of distinct keys must not grow memory without bound.
        for key in [k for k, v in self._failures.items() if now - v.last >= self.forget_after]:
            del self._failures[key]


@dataclass
class LocalLoginThrottle:
    """A :class:`LoginLimiter` counting in this process's memory (one instance)."""

    throttle: LoginThrottle

    @property
    def free_failures(self) -> int:
        """Failures allowed in a row before delays start."""
        return self.throttle.free_failures

    async def check(self, *keys: str) -> None:
        """Raise ``RateLimitExceeded`` when any key must still wait before its next attempt."""
        self.throttle.check(*keys)

    async def failed(self, *keys: str) -> None:
        """Count one failed login for each key."""
        self.throttle.failed(*keys)

    async def succeeded(self, key: str) -> None:
        """Forget the failures of ``key``."""
        self.throttle.succeeded(key)

    async def locked_out(self, key: str) -> bool:
        """Whether ``key``'s attempts are delayed."""
        return self.throttle.locked_out(key)

    async def unlock(self, username: str) -> bool:
        """Forget the failures counted against the account ``username``; whether there were."""
        return self.throttle.unlock(username)
