"""The link page's scripts, inlined in the page itself.

On a 3G link every request the page makes before it can run costs a connection and round trips
(a second and more with a dozen modules over HTTP/1.1): the page's whole script comes in the
page's own response instead. ``early.js`` (a classic script, in the head) opens the link's socket
while the rest of the page is parsed; ``dist/patient.js`` is esbuild's bundle of ``js/main.js``
and everything it loads (``make bundle``; ``tests/unit/test_patient_bundle.py`` checks it is
current). Each response allows its own inline scripts by a nonce in its Content-Security-Policy,
and no others.
"""

from __future__ import annotations

import functools
import re
import secrets
from pathlib import Path

from visioregul.integration.content_policy import CONTENT_SECURITY_POLICY

__all__ = ["BUNDLE", "EARLY", "InlineScripts", "inline_scripts", "new_nonce", "policy_with_nonce"]

STATIC_DIR = Path(__file__).with_name("static")
BUNDLE = STATIC_DIR / "dist" / "patient.js"
EARLY = STATIC_DIR / "js" / "early.js"
_CLOSING = re.compile(r"</script|<!--", re.IGNORECASE)


class InlineScripts:
    """The scripts' texts, read once and checked to be safe inside ``<script>``."""

    def __init__(self, early: str, bundle: str) -> None:
        for name, text in (("early.js", early), ("patient.js", bundle)):
            if _CLOSING.search(text):
                raise RuntimeError(f"{name} cannot be inlined: it contains </script or <!--")
        self.early = early
        self.bundle = bundle


@functools.cache
def inline_scripts() -> InlineScripts:
    """The link page's scripts; a missing bundle is an installation error, said plainly."""
    if not BUNDLE.is_file():
        raise RuntimeError(f"{BUNDLE} is missing: build it with `make bundle`")
    return InlineScripts(EARLY.read_text(encoding="utf-8"), BUNDLE.read_text(encoding="utf-8"))


def new_nonce() -> str:
    """A nonce for one response's inline scripts."""
    return secrets.token_urlsafe(18)


def policy_with_nonce(nonce: str) -> str:
    """The service's Content-Security-Policy, with this response's inline scripts allowed."""
    return CONTENT_SECURITY_POLICY.replace(
        "script-src 'self'", f"script-src 'self' 'nonce-{nonce}'", 1
    )
