"""Link tokens: capabilities that open one session, in one role, until they expire.

A token is 32 bytes from the operating system's CSPRNG (256 bits), URL-safe. Only its SHA-256 is
stored: a leaked database does not open any session. SHA-256 without salt is right here (unlike
passwords): the input is uniformly random and unguessable, so there is nothing to brute-force.
"""

from __future__ import annotations

import hashlib
import re
import secrets

__all__ = ["TOKEN_PATTERN", "hash_token", "new_token"]

TOKEN_BYTES = 32
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")
"""What ``new_token`` produces; anything else is refused before touching the database."""


def new_token() -> tuple[str, str]:
    """A fresh token and its hash (hex)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()
