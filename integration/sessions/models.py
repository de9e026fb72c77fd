"""The session domain's tables: sessions, their invitations, their event log and their files."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, false
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ..store.models import DEFAULT_CENTRE_ID, Base, UTCDateTime, utcnow

__all__ = ["Invitation", "SessionEvent", "SessionFile", "VisioSession"]


class VisioSession(Base):
    """One video session ("visio"), maybe paired with a live call."""

    __tablename__ = "visio_sessions"
    # The history's searches: one centre's sessions, newest first, by date alone or with one
    # more criterion (see ``sessions.history``; migration 0011).
    __table_args__ = (
        Index("ix_visio_sessions_centre_created", "centre_id", "created_at"),
        Index("ix_visio_sessions_centre_state_created", "centre_id", "state", "created_at"),
        Index("ix_visio_sessions_centre_creator_created", "centre_id", "created_by", "created_at"),
        Index(
            "ix_visio_sessions_centre_caller_created", "centre_id", "caller_number", "created_at"
        ),
        Index("ix_visio_sessions_centre_call_created", "centre_id", "call_id", "created_at"),
        # By how they ended (migration 0019).
        Index("ix_visio_sessions_centre_outcome_created", "centre_id", "outcome", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    """Random hex id; also the value of ``VISIOREGUL_SESSION`` on the paired call."""
    centre_id: Mapped[int] = mapped_column(
        ForeignKey("centres.id"), default=DEFAULT_CENTRE_ID, index=True
    )
    """The centre the session belongs to: only its regulators and doctors see it."""
    state: Mapped[str] = mapped_column(String(24), index=True)
    """A ``SessionState`` value."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    """Time of the last event: idle sessions expire from it."""
    created_by: Mapped[str] = mapped_column(String(128), index=True)
    """The actor who opened it (account username, ``position:PJSIP/1001``, ``cad:<key>``)."""
    position: Mapped[str | None] = mapped_column(String(96))
    """The regulator's position when the session was opened."""
    call_id: Mapped[str | None] = mapped_column(String(64), index=True)
    """The paired call's ``Linkedid``."""
    caller_number: Mapped[str | None] = mapped_column(String(32), index=True)
    """The caller's number in E.164, when the call presented one."""
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_by: Mapped[str | None] = mapped_column(String(128))
    end_reason: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(String(32))
    """How it ended, an ``OutcomeKind`` value, written when it ends (the history searches by
    it); None while it runs."""


class Invitation(Base):
    """A link sent to the patient or a third party; only the token's hash is kept."""

    __tablename__ = "invitations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    """Random hex id; also the idempotency key of the message that carries the link."""
    session_id: Mapped[str] = mapped_column(
        ForeignKey("visio_sessions.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    """``patient`` or ``third_party``."""
    channel: Mapped[str] = mapped_column(String(8))
    """``sms`` or ``email``."""
    destination: Mapped[str] = mapped_column(String(254), index=True)
    """E.164 number or normalised e-mail address."""
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """When a person's page first opened the link (its socket), never a mere fetch."""
    device_key: Mapped[str | None] = mapped_column(String(64))
    """Hash of the key of the browser that holds the link: the last one to open it."""
    bound_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """When the holder's video reached the relay: from then on, that browser alone."""
    delivery_status: Mapped[str] = mapped_column(String(16), default="pending")
    """A ``DeliveryStatus`` value."""
    provider_id: Mapped[str | None] = mapped_column(String(64), index=True)
    error_code: Mapped[str | None] = mapped_column(String(32))
    error_message: Mapped[str | None] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sees_patient: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    sending_instance: Mapped[str | None] = mapped_column(String(64))
    """The instance sending it while it is ``pending`` (several instances: only that one may
    say, when it starts again, that its send was interrupted)."""
    sending_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """When that send began: a send pending far longer belongs to an instance that is gone."""
    """A third party may watch the patient's video (the regulator allowed it when inviting)."""


class SessionEvent(Base):
    """One fact of a session's life: who, what, when, details. Append-only."""

    __tablename__ = "session_events"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    session_id: Mapped[str] = mapped_column(
        ForeignKey("visio_sessions.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(48))
    """A dotted slug: ``session.created``, ``invitation.sent``, ``link.opened``..."""
    details: Mapped[dict[str, Any]] = mapped_column(
        JSON().with_variant(JSONB(), "postgresql"), default=dict
    )


class SessionFile(Base):
    """A file kept with a session (a screenshot of the patient's video...); its bytes are in the
    file storage under ``storage_key``, purged with the session."""

    __tablename__ = "session_files"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    """Random hex id, in the file's URL."""
    session_id: Mapped[str] = mapped_column(
        ForeignKey("visio_sessions.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    """``screenshot`` (a still the service took from the patient's video), ``document`` (sent
    by either side), ``photo`` (a full-resolution photo the regulator asked the phone for)."""
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    taken_by: Mapped[str] = mapped_column(String(128))
    """The actor who asked for it (account username)."""
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    """In bytes."""
    storage_key: Mapped[str] = mapped_column(String(255), unique=True)
    direction: Mapped[str | None] = mapped_column(String(16), default=None)
    """A document's or photo's way: ``to_patient`` or ``from_patient`` (None for a screenshot)."""
    name: Mapped[str | None] = mapped_column(String(255), default=None)
    """A document's cleaned name, as its sender gave it (None for a screenshot)."""
