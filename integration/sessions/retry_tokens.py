"""The links of invitations not yet delivered, kept sealed for a retry by hand.

A regulator who sends a failed invitation again must send the same link (the patient may have
received the first message after all). The link's token is otherwise never stored (only its
hash is): here it is kept encrypted, with AES-GCM under a key derived (HKDF-SHA256) from the
service's secret key, which the instances share, so that any instance, or the same one after a
restart, can send it again, and a copy of the database alone opens nothing. The invitation's id
is the cipher's associated data: a sealed token moved to another invitation does not open.

A token is forgotten when its invitation is delivered or revoked, when its session closes, and
at the link's expiry (purged by the housekeeping); its row goes with its invitation.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import ForeignKey, LargeBinary, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from ..store.models import Base, UTCDateTime, utcnow

__all__ = ["RetryToken", "RetryTokens", "purge_expired_tokens"]

log = logging.getLogger(__name__)

_INFO = b"visioregul retry tokens v1"
"""The HKDF context: this key serves to seal retry tokens and nothing else."""
_NONCE_BYTES = 12


class RetryToken(Base):
    """The sealed token of an invitation not yet delivered."""

    __tablename__ = "retry_tokens"

    invitation_id: Mapped[str] = mapped_column(
        ForeignKey("invitations.id", ondelete="CASCADE"), primary_key=True
    )
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    """A random nonce, then the token encrypted and authenticated (AES-GCM)."""
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    """The link's expiry: no use keeping it after."""


@dataclass(frozen=True)
class RetryTokens:
    """Keeps, finds and forgets the sealed tokens, in the caller's transaction."""

    key: bytes
    """The AES-256 key (see :meth:`from_secret`)."""

    @classmethod
    def from_secret(cls, secret: bytes) -> RetryTokens:
        """The tokens sealed under a key derived from the service's secret key."""
        hkdf = HKDF(algorithm=SHA256(), length=32, salt=None, info=_INFO)
        return cls(hkdf.derive(secret))

    def seal(self, invitation_id: str, token: str) -> bytes:
        """``token`` encrypted for ``invitation_id``."""
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + AESGCM(self.key).encrypt(nonce, token.encode(), invitation_id.encode())

    def open(self, invitation_id: str, sealed: bytes) -> str | None:
        """The token sealed for ``invitation_id``; None when it does not open (another key)."""
        nonce, ciphertext = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
        try:
            clear = AESGCM(self.key).decrypt(nonce, ciphertext, invitation_id.encode())
        except InvalidTag:
            return None
        return clear.decode()

    async def keep(
        self, db: AsyncSession, invitation_id: str, token: str, expires_at: datetime
    ) -> None:
        """Keep ``token`` until the invitation is delivered (its row must be added already)."""
        # The invitation's row first: without a relationship between the two models, the flush
        # would not know the token's row must follow it.
        await db.flush()
        db.add(
            RetryToken(
                invitation_id=invitation_id,
                sealed=self.seal(invitation_id, token),
                expires_at=expires_at,
            )
        )

    async def find(self, db: AsyncSession, invitation_id: str) -> str | None:
        """The token kept for an invitation, if it still is (and its link has not expired)."""
        sealed = await db.scalar(
            select(RetryToken.sealed).where(
                RetryToken.invitation_id == invitation_id, RetryToken.expires_at > utcnow()
            )
        )
        if sealed is None:
            return None
        token = self.open(invitation_id, sealed)
        if token is None:
            # The service's secret key changed (or differs between instances): a new link.
            log.warning("invitation %s: its kept token does not open with this key", invitation_id)
        return token

    async def forget(self, db: AsyncSession, *invitation_ids: str) -> None:
        """The invitations' links will never be sent again."""
        if invitation_ids:
            await db.execute(delete(RetryToken).where(RetryToken.invitation_id.in_(invitation_ids)))


async def purge_expired_tokens(db: AsyncSession) -> int:
    """Forget the tokens of links past their expiry; return how many."""
    result = await db.execute(delete(RetryToken).where(RetryToken.expires_at <= utcnow()))
    return int(getattr(result, "rowcount", 0) or 0)
