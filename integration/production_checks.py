"""What must not run in production: the checks ``visioregul serve`` makes before it starts.

A public (``https``) ``service.public_url`` means patients and regulators reach the service for
real; then the sandbox's Asterisk secrets, the demo account, cookies without ``Secure`` and the
local outbox (messages that never leave) are refused, each named with what to do.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from .accounts import verify_password
from .settings import AmiSettings, AriSettings, Settings
from .store.db import create_engine, make_sessionmaker
from .store.models import Account

__all__ = [
    "DEMO_ACCOUNTS",
    "SANDBOX_AMI_SECRET",
    "SANDBOX_ARI_PASSWORD",
    "advisories",
    "configuration_problems",
    "is_public",
    "production_problems",
]

SANDBOX_AMI_SECRET = AmiSettings().secret.get_secret_value()
"""The AMI secret of the sandbox Asterisk (the embedded default)."""
SANDBOX_ARI_PASSWORD = AriSettings().password.get_secret_value()
"""The ARI password of the sandbox Asterisk (the embedded default)."""
DEMO_ACCOUNTS: dict[str, str] = {
    "regulateur": "demo-visioregul-15",
    "medecin": "demo-visioregul-15",
}
"""Accounts ``make demo`` creates, with their published password."""


def is_public(settings: Settings) -> bool:
    """Whether the service is published for real (an ``https`` public URL)."""
    return settings.service.public_url.startswith("https://")


def configuration_problems(settings: Settings) -> list[str]:
    """What the configuration holds that production must not (empty when not public)."""
    if not is_public(settings):
        return []
    problems = []
    telephony = settings.telephony
    if telephony.source != "none" and telephony.ami.secret.get_secret_value() == SANDBOX_AMI_SECRET:
        problems.append(
            "telephony.ami.secret is the sandbox's secret: set the centre's own "
            "(VISIOREGUL_TELEPHONY__AMI__SECRET)"
        )
    if telephony.source == "ari" and telephony.ari.password.get_secret_value() == (
        SANDBOX_ARI_PASSWORD
    ):
        problems.append(
            "telephony.ari.password is the sandbox's password: set the centre's own "
            "(VISIOREGUL_TELEPHONY__ARI__PASSWORD)"
        )
    if not settings.console.secure_cookies:
        problems.append(
            "console.secure_cookies is false: set it to true behind TLS, or login cookies "
            "travel in clear"
        )
    messaging = settings.messaging
    if messaging.sms == "outbox":
        problems.append(
            'messaging.sms is "outbox": invitations would never leave the service; use "twilio"'
        )
    if messaging.email == "outbox":
        problems.append(
            'messaging.email is "outbox": invitations would never leave the service; use "smtp"'
        )
    if settings.psc.enabled and not settings.psc.issuer.startswith("https://"):
        problems.append(
            "psc.issuer is not https: Pro Santé Connect's tokens and codes would travel in clear"
        )
    return problems


def advisories(settings: Settings) -> list[str]:
    """What is allowed but worth a warning at start: a PostgreSQL service (so not a laptop's
    demo) whose invitations go to the local outbox, served over plain http."""
    if is_public(settings) or not settings.database.url.startswith("postgresql"):
        return []
    outbox = [
        name
        for name, kind in (("sms", settings.messaging.sms), ("email", settings.messaging.email))
        if kind == "outbox"
    ]
    if not outbox:
        return []
    verb = "uses" if len(outbox) == 1 else "use"
    return [
        f"messaging.{' and messaging.'.join(outbox)} {verb} the local outbox with PostgreSQL: "
        "invitations never leave the service (a staging service?)"
    ]


async def production_problems(settings: Settings) -> list[str]:
    """Every problem: the configuration's, then the demo accounts found in the database."""
    problems = configuration_problems(settings)
    if is_public(settings):
        problems.extend(await _demo_accounts(settings))
    return problems


async def _demo_accounts(settings: Settings) -> list[str]:
    engine = create_engine(settings.database)
    try:
        async with make_sessionmaker(engine)() as db:
            found = list(
                await db.scalars(
                    select(Account).where(
                        Account.username.in_(DEMO_ACCOUNTS), Account.disabled.is_(False)
                    )
                )
            )
    except SQLAlchemyError:
        return []  # no accounts table yet (migrations not applied): no demo account either
    finally:
        await engine.dispose()
    problems = []
    for account in found:
        demo_password = DEMO_ACCOUNTS[account.username]
        if await asyncio.to_thread(verify_password, account.password_hash, demo_password):
            problems.append(
                f"the demo account {account.username!r} (published password) is enabled: "
                f"visioregul account disable {account.username}"
            )
    return problems
