#!/usr/bin/env python3
"""Open the VisioRegul console from a CAD, signed in, on the call's card.

A working example for CAD vendors (see ``docs/cad-deep-link.md``); VisioRegul's own tests use
it, so it stays true. It needs PyJWT (``pip install "pyjwt[crypto]"``).

    # HS256, with the secret shared with VisioRegul ([cad_link] issuers, secret = ...):
    CAD_LINK_SECRET=... python3 cad_deep_link.py https://visio.samu75.example.fr \\
        --issuer cad-samu-75 --regulator regulateur --position PJSIP/1001 --call 1733400000.42

    # ES256 (or RS256), with the CAD's private key (VisioRegul holds its public key):
    python3 cad_deep_link.py https://visio.samu75.example.fr --issuer cad-samu-75 \\
        --algorithm ES256 --private-key cad-key.pem --regulator regulateur --position PJSIP/1001

It prints the URL to open (a browser window, or an iframe's ``src`` when the CAD's origin is
listed in ``[cad_link] frame_ancestors``). Mint a new token for each opening: each one opens the
console once, and only within its minute.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from urllib.parse import urlencode

import jwt

LIFETIME = 30
"""Seconds the token lives: VisioRegul refuses more than ``[cad_link] max_lifetime`` (60)."""


def mint_token(
    *,
    issuer: str,
    key: str | bytes,
    regulator: str,
    position: str,
    call: str | None = None,
    algorithm: str = "HS256",
    audience: str = "visioregul",
    lifetime: int = LIFETIME,
    now: float | None = None,
) -> str:
    """A signed token that opens the console for ``regulator`` at ``position`` (on ``call``)."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, object] = {
        "iss": issuer,  # names the CAD: VisioRegul checks the signature with its key only
        "aud": audience,
        "sub": regulator,  # the regulator's VisioRegul username
        "position": position,  # the desk phone's endpoint, e.g. PJSIP/1001
        "iat": issued,
        "exp": issued + lifetime,
        "jti": secrets.token_urlsafe(16),  # unique: a token opens the console once
    }
    if call is not None:
        claims["call"] = call  # the call id, or Asterisk's Uniqueid or Linkedid of the call
    return jwt.encode(claims, key, algorithm=algorithm)


def console_url(base_url: str, token: str) -> str:
    """The URL that opens the console with ``token``."""
    return f"{base_url.rstrip('/')}/console/cad?{urlencode({'token': token})}"


def main(argv: list[str] | None = None) -> int:
    """Print the deep link's URL."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base_url", help="VisioRegul's public URL")
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--regulator", required=True)
    parser.add_argument("--position", required=True)
    parser.add_argument("--call")
    parser.add_argument("--algorithm", default="HS256", choices=["HS256", "RS256", "ES256"])
    parser.add_argument("--private-key", help="PEM file (RS256, ES256)")
    parser.add_argument("--audience", default="visioregul")
    args = parser.parse_args(argv)
    if args.algorithm == "HS256":
        key: str | bytes = os.environ.get("CAD_LINK_SECRET", "")
        if not key:
            parser.error("set CAD_LINK_SECRET to the secret shared with VisioRegul")
    else:
        if not args.private_key:
            parser.error(f"{args.algorithm} needs --private-key")
        with open(args.private_key, "rb") as pem:
            key = pem.read()
    token = mint_token(
        issuer=args.issuer,
        key=key,
        regulator=args.regulator,
        position=args.position,
        call=args.call,
        algorithm=args.algorithm,
        audience=args.audience,
    )
    print(console_url(args.base_url, token))
    return 0


if __name__ == "__main__":
    sys.exit(main())
