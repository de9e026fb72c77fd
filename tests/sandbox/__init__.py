"""The sandbox telephony: a real Asterisk 22 started from the shipped dialplan, and sipp calls.

Tests and the demo use it in place of a centre's Asterisk. Install it once with
``dialplan/sandbox/install.sh`` (as root).
"""

import logging

from .asterisk import (
    SandboxAsterisk,
    SandboxError,
    SandboxNotInstalled,
    SandboxPorts,
    SandboxStartError,
)
from .sipp import TRUNK_HOST, SippError, SippProcess, place_call, start_phone

__all__ = [
    "TRUNK_HOST",
    "SandboxAsterisk",
    "SandboxError",
    "SandboxNotInstalled",
    "SandboxPorts",
    "SandboxStartError",
    "SippError",
    "SippProcess",
    "place_call",
    "start_phone",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
