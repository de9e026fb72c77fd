"""Positions: which channels are the centre's desk phones, and which are not.

A position is a desk-phone endpoint the centre declares, such as ``PJSIP/1001``. A settings
pattern (``telephony.position_pattern``) says what a desk endpoint looks like; the declared set
(kept in the database) says which desks are positions now. Trunks, Local channels and the
helper channels of conferences, recordings, snooping or external media never are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["HELPER_TECHNOLOGIES", "PositionDirectory", "endpoint_of", "technology_of"]

HELPER_TECHNOLOGIES = frozenset(
    {
        "Local",
        "CBAnn",
        "CBRec",
        "Snoop",
        "UnicastRTP",
        "MulticastRTP",
        "AudioSocket",
        "WebSocket",
        "Announcer",
        "Recorder",
        "Message",
        "Bridge",
    }
)
"""Channel technologies Asterisk uses for its own helpers, never a person on the line: Local
channels (followed to what is behind them), ConfBridge's announcer and recorder, ARI's snoop
and external-media channels, ``Bridge`` media channels."""


def technology_of(channel_name: str) -> str:
    """``PJSIP/1001-0000002a`` gives ``PJSIP``; an unnamed channel gives ``""``."""
    head, slash, _ = channel_name.partition("/")
    return head if slash else ""


def endpoint_of(channel_name: str) -> str | None:
    """The endpoint a channel belongs to: ``PJSIP/1001-0000002a`` gives ``PJSIP/1001``.

    Asterisk names a channel ``<technology>/<endpoint>-<sequence>``; None when the name has no
    such shape.
    """
    if "/" not in channel_name:
        return None
    head, dash, _ = channel_name.rpartition("-")
    return head if dash and "/" in head else None


class PositionDirectory:
    """Says whether a channel is a position's, and which.

    ``pattern`` is the regular expression a desk endpoint must fully match (such as
    ``PJSIP/1[0-9]{3}``); ``declared``, when not empty, narrows positions down to those
    endpoints. :meth:`declare` replaces the declared set while the service runs.
    """

    def __init__(self, pattern: str, declared: Iterable[str] = ()) -> None:
        """Compile ``pattern`` (``re.error`` when it is not a regular expression)."""
        self._pattern = re.compile(pattern)
        self._declared: frozenset[str] = frozenset(declared)

    @property
    def pattern(self) -> str:
        """The regular expression a desk endpoint must fully match."""
        return self._pattern.pattern

    @property
    def declared(self) -> frozenset[str]:
        """The declared positions (empty: every endpoint matching the pattern is one)."""
        return self._declared

    def declare(self, positions: Iterable[str]) -> None:
        """Replace the declared positions (an empty set lets the pattern alone decide)."""
        self._declared = frozenset(positions)

    def matches(self, position: str) -> bool:
        """Whether ``position`` (an endpoint, ``PJSIP/1001``) has a desk's shape: the pattern
        only, not the declared set (so that a new position can be validated before it is
        declared)."""
        return self._pattern.fullmatch(position) is not None

    def is_desk(self, channel_name: str) -> bool:
        """Whether the channel's endpoint has a desk's shape, declared or not."""
        endpoint = endpoint_of(channel_name)
        return endpoint is not None and self.matches(endpoint)

    def position_of(self, channel_name: str) -> str | None:
        """The position a channel belongs to (``PJSIP/1001-00000012`` gives ``PJSIP/1001``), or
        None for a trunk, a helper channel, or a desk that is not declared."""
        endpoint = endpoint_of(channel_name)
        if endpoint is None or technology_of(channel_name) in HELPER_TECHNOLOGIES:
            return None
        if not self.matches(endpoint):
            return None
        if self._declared and endpoint not in self._declared:
            return None
        return endpoint
