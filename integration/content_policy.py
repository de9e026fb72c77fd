"""The Content-Security-Policy of every page the service serves: its own scripts, styles and
connections only, never framed. The patient's link page adds a nonce for its inline scripts
(``patient_page/inline.py``)."""

from __future__ import annotations

__all__ = ["CONTENT_SECURITY_POLICY"]

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; media-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'; object-src 'none'"
)
