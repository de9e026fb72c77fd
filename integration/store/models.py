"""The store's tables, as SQLAlchemy declarative models.

Every change here needs an Alembic revision in ``migrations/versions``; a test checks that the
models and the migrations describe the same schema.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Enum,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "DEFAULT_CENTRE_ID",
    "NAMING_CONVENTION",
    "Account",
    "AuditEntry",
    "Base",
    "CadLinkToken",
    "Centre",
    "ConsoleLogin",
    "OutboxMessage",
    "Position",
    "ProviderSignIn",
    "Role",
    "UTCDateTime",
    "account_positions",
    "utcnow",
]

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Constraint and index names, so that migrations can name what they alter or drop."""


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp, always stored and returned in UTC.

    PostgreSQL keeps the offset (``timestamptz``); SQLite has no such type and hands back naive
    values, so they are stored in UTC and tagged as UTC on the way out. Naive values are refused
    on the way in: their meaning would depend on the server's local time.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Check that ``value`` carries a timezone and convert it to UTC."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime refused (use datetime.now(UTC)): {value!r}")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return ``value`` as an aware datetime in UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every table, carrying the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Role(enum.StrEnum):
    """What a console account may do."""

    REGULATOR = "regulator"
    """A regulating assistant (ARM): takes 15 calls and sends video invitations."""
    DOCTOR = "doctor"
    """A regulating doctor: same as a regulator, and joins sessions started by others."""
    ADMIN = "admin"
    """A centre administrator: manages the accounts, positions and settings of their centre."""
    PLATFORM_ADMIN = "platform_admin"
    """A platform administrator: manages every centre of the installation."""


DEFAULT_CENTRE_ID = 1
"""The centre the migration creates: every account, position and session belongs to it until
several centres share one service."""


class Centre(Base):
    """A call centre (a SAMU): its accounts, positions and sessions are seen by it alone."""

    __tablename__ = "centres"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    """Short stable name (``default`` for the one the migration creates)."""
    name: Mapped[str] = mapped_column(String(128))
    """Name shown to people, e.g. ``SAMU 31``."""
    time_zone: Mapped[str | None] = mapped_column(String(64))
    """The centre's IANA time zone (``America/Cayenne``), for times in messages, on screens and
    in reports; None: the service's (``service.time_zone``)."""

    def __repr__(self) -> str:
        return f"<Centre id={self.id} code={self.code!r}>"


class Position(Base):
    """A desk-phone endpoint the centre declares (``PJSIP/1001``): the only places a call's
    position and a console's position can be."""

    __tablename__ = "positions"
    __table_args__ = (UniqueConstraint("centre_id", "endpoint", name="uq_positions_endpoint"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    centre_id: Mapped[int] = mapped_column(
        ForeignKey("centres.id"), default=DEFAULT_CENTRE_ID, index=True
    )
    endpoint: Mapped[str] = mapped_column(String(64))
    """The channel technology and resource, as Asterisk names the desk phone's channels."""

    def __repr__(self) -> str:
        return f"<Position id={self.id} endpoint={self.endpoint!r}>"


account_positions = Table(
    "account_positions",
    Base.metadata,
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "position_id", ForeignKey("positions.id", ondelete="CASCADE"), primary_key=True, index=True
    ),
)
"""Which declared positions each account may take (never free text)."""


class Account(Base):
    """A person who signs in to the regulators' console."""

    __tablename__ = "accounts"
    __table_args__ = (
        # Lookups lower-case the name given at login: an upper-case row could never be found.
        CheckConstraint("username = lower(username)", name="username_lowercase"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    """Login name, stored in lower case (``[a-z0-9._-]``, 3 to 64 characters)."""
    display_name: Mapped[str] = mapped_column(String(128))
    """Name shown to colleagues and written in session histories."""
    password_hash: Mapped[str] = mapped_column(String(255))
    """Argon2id hash in PHC string format."""
    role: Mapped[Role] = mapped_column(
        Enum(
            Role,
            name="role",
            native_enum=False,
            length=16,
            create_constraint=True,
            validate_strings=True,
            values_callable=lambda roles: [role.value for role in roles],
        )
    )
    position: Mapped[str | None] = mapped_column(String(64))
    """Default desk-phone endpoint, e.g. ``PJSIP/1001``, used until the console says otherwise;
    one of :attr:`positions` when set."""
    centre_id: Mapped[int] = mapped_column(
        ForeignKey("centres.id"), default=DEFAULT_CENTRE_ID, index=True
    )
    """The centre whose sessions the account may see and act on."""
    disabled: Mapped[bool] = mapped_column(default=False)
    """A disabled account cannot sign in; it is kept so that histories still name it."""
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=false())
    """Its password was set by an administrator (a temporary one): the account must choose its
    own at its next sign-in before doing anything else."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    practitioner_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    """The practitioner's national identifier (RPPS/ADELI, as Pro Santé Connect gives it), for
    signing in with a CPS card; None: password only."""

    def __repr__(self) -> str:
        return f"<Account id={self.id} username={self.username!r} role={self.role}>"


class AuditEntry(Base):
    """One line of the audit log: who did what, when, to what.

    Append-only by convention: the service offers no way to change or delete an entry.
    """

    __tablename__ = "audit_log"

    # SQLite auto-increments only an ``INTEGER PRIMARY KEY`` (the rowid); BIGINT elsewhere.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(128))
    """An account's username, ``cad:<key id>`` for the CAD API, or ``system``."""
    action: Mapped[str] = mapped_column(String(64), index=True)
    """A dotted slug such as ``console.login`` or ``invitation.requested``."""
    target: Mapped[str | None] = mapped_column(String(128), index=True)
    """What the action was about, e.g. a call id, when there is one."""
    details: Mapped[dict[str, Any]] = mapped_column(
        JSON().with_variant(JSONB(), "postgresql"), default=dict
    )
    """Free-form, JSON-serialisable facts about the action."""
    centre_id: Mapped[int | None] = mapped_column(ForeignKey("centres.id"), index=True)
    """The centre the action belongs to (its actor's); None for the service's own actions."""

    def __repr__(self) -> str:
        return f"<AuditEntry id={self.id} action={self.action!r} actor={self.actor!r}>"


class OutboxMessage(Base):
    """A message kept by the service instead of being sent (the development and demo outbox).

    The console shows these so that a developer can open the links that would have gone out.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (
        # Spelled out rather than an Enum of the messaging port's ``Channel``: the store must not
        # import messaging, which imports the store.
        CheckConstraint("channel IN ('sms', 'email')", name="channel"),
    )

    # SQLite auto-increments only an ``INTEGER PRIMARY KEY`` (the rowid); BIGINT elsewhere.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    """The sender's key: a second message with the same key is not stored again."""
    channel: Mapped[str] = mapped_column(String(8))
    """``sms`` or ``email``."""
    to: Mapped[str] = mapped_column(String(320))
    """A phone number in E.164 or an e-mail address."""
    subject: Mapped[str | None] = mapped_column(Text())
    text: Mapped[str] = mapped_column(Text())
    html: Mapped[str | None] = mapped_column(Text())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

    def __repr__(self) -> str:
        return f"<OutboxMessage id={self.id} channel={self.channel} to={self.to!r}>"


class CadLinkToken(Base):
    """A CAD deep-link token already used (its ``jti``), kept until it would have expired anyway.

    Single use across every instance of the service: a second insert of the same issuer and
    ``jti`` fails on the primary key, whichever instance tries.
    """

    __tablename__ = "cad_link_tokens"

    issuer: Mapped[str] = mapped_column(String(200), primary_key=True)
    jti: Mapped[str] = mapped_column(String(128), primary_key=True)
    used_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    """The token's ``exp``: the row is purged after it (an expired token is refused anyway)."""


class ConsoleLogin(Base):
    """One live console login (a browser signed in), checked on every request and socket.

    The signed cookie names its row; logging out, or disabling the account, deletes the row, so
    the cookie is worthless from then on even though its signature is still valid.
    """

    __tablename__ = "console_logins"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    """Random identifier (128 bits, URL-safe), carried in the signed cookie."""
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    """When the cookie's own lifetime ends; the row is purged after that."""
    provider_sub: Mapped[str | None] = mapped_column(String(255), index=True)
    """Pro Santé Connect's ``sub`` when the login came from there (back-channel logout)."""
    provider_sid: Mapped[str | None] = mapped_column(String(255), index=True)
    """Pro Santé Connect's session id (``sid``), which its back-channel logout names."""
    provider_id_token: Mapped[str | None] = mapped_column(Text)
    """The ID token, sent back as ``id_token_hint`` when signing out at the provider."""

    def __repr__(self) -> str:
        return f"<ConsoleLogin account={self.account_id} expires={self.expires_at.isoformat()}>"


class ProviderSignIn(Base):
    """A sign-in through Pro Santé Connect under way: sent to the provider, not back yet.

    Kept on the server (not in the browser) so that a callback is used once only, whichever
    instance receives it; the row is deleted when the provider's answer comes back.
    """

    __tablename__ = "provider_sign_ins"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    """SHA-256 of the ``state`` sent to the provider (the state itself is a bearer secret)."""
    nonce: Mapped[str] = mapped_column(String(128))
    code_verifier: Mapped[str] = mapped_column(String(128))
    """PKCE's verifier, sent with the code to the token endpoint."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
