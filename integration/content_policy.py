"""The Content-Security-Policy of every page the service serves: its own scripts, styles and
connections only, never framed, except the console by the CAD's origins when
``cad_link.frame_ancestors`` lists them. The patient's link page adds a nonce for its inline
scripts (``patient_page/inline.py``) and is never framed."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["CONTENT_SECURITY_POLICY", "FRAMEABLE_PREFIX", "content_security_policy"]

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; media-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'; object-src 'none'"
)

FRAMEABLE_PREFIX = "/console"
"""The pages that the CAD's origins may frame: the console's, never the patient's."""


def content_security_policy(frame_ancestors: Sequence[str]) -> str:
    """The policy of a console page that ``frame_ancestors`` (origins) may frame; the default
    policy (never framed) when there are none."""
    if not frame_ancestors:
        return CONTENT_SECURITY_POLICY
    return CONTENT_SECURITY_POLICY.replace(
        "frame-ancestors 'none'", "frame-ancestors 'self' " + " ".join(frame_ancestors)
    )
