"""Centres named in the settings by their code, resolved to the store's centres.

CAD API keys, CAD deep-link issuers and webhook endpoints each belong to one centre, written by
its code (``default``, ``samu31``) in the settings. The codes are checked against the store at
start: a code that no centre has is a settings error that stops the service, rather than a key
that silently sees nothing (or, worse, a webhook that delivers nowhere).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .settings import DEFAULT_CENTRE_CODE, Settings, SettingsError
from .store.models import Centre

__all__ = ["UnknownCentreCode", "centre_id_of", "configured_codes", "resolve_codes"]


class UnknownCentreCode(SettingsError):
    """The settings name a centre that the store does not have."""


def configured_codes(settings: Settings) -> set[str]:
    """Every centre code the settings name (API keys, deep-link issuers, webhook endpoints)."""
    codes = {key.centre_code for key in settings.console.api_keys if key.account is None}
    codes |= {key.centre for key in settings.console.api_keys if key.centre is not None}
    codes |= {issuer.centre for issuer in settings.cad_link.issuers if issuer.centre is not None}
    codes |= {endpoint.centre for endpoint in settings.webhooks.endpoints}
    if settings.webhooks.urls:
        codes.add(DEFAULT_CENTRE_CODE)
    return codes


async def resolve_codes(db: AsyncSession, codes: Iterable[str]) -> Mapping[str, int]:
    """The id of each centre of ``codes``; raise :class:`UnknownCentreCode` naming those that
    no centre has."""
    wanted = set(codes)
    if not wanted:
        return {}
    rows = await db.execute(select(Centre.code, Centre.id).where(Centre.code.in_(wanted)))
    found: dict[str, int] = {code: centre_id for code, centre_id in rows.all()}
    missing = sorted(wanted - found.keys())
    if missing:
        raise UnknownCentreCode(
            f"the settings name centres that do not exist: {', '.join(missing)}"
            " (console.api_keys, cad_link.issuers or webhooks.endpoints; create the centre"
            " first, or correct the code)"
        )
    return found


async def centre_id_of(db: AsyncSession, code: str) -> int | None:
    """The id of the centre of ``code``; None when there is none (any more)."""
    return await db.scalar(select(Centre.id).where(Centre.code == code))
