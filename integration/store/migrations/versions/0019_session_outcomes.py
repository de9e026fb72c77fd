"""How each session ended, stored, so that the history searches by it.

``visio_sessions.outcome`` holds the ``OutcomeKind`` a session ended with (written when it
ends); an index serves one centre's sessions of one outcome, newest first. Sessions that ended
before this migration get theirs from their log, folded as the service folds it.

Revision ID: 0019_session_outcomes
Revises: 0018_early_statuses
Create Date: 2026-12-05
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from visioregul.integration.sessions.outcome import OUTCOME_EVENTS, session_outcome

revision: str = "0019_session_outcomes"
down_revision: str | Sequence[str] | None = "0018_early_statuses"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEX = "ix_visio_sessions_centre_outcome_created"
_BATCH = 500


class _Event:
    """A log event as the outcome's fold reads it."""

    def __init__(self, kind: str, details: Any, at: datetime) -> None:
        self.type = kind
        self.details = details if isinstance(details, dict) else {}
        self.at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def upgrade() -> None:
    """Add ``visio_sessions.outcome`` and its index; fill it for the sessions that ended."""
    op.add_column("visio_sessions", sa.Column("outcome", sa.String(length=32), nullable=True))
    op.create_index(_INDEX, "visio_sessions", ["centre_id", "outcome", "created_at"])
    sessions = sa.table(
        "visio_sessions",
        sa.column("id", sa.String),
        sa.column("state", sa.String),
        sa.column("outcome", sa.String),
    )
    events = sa.table(
        "session_events",
        sa.column("id", sa.Integer),
        sa.column("session_id", sa.String),
        sa.column("type", sa.String),
        sa.column("details", sa.JSON),
        sa.column("at", sa.DateTime(timezone=True)),
    )
    connection = op.get_bind()
    ended = [
        row[0]
        for row in connection.execute(
            sa.select(sessions.c.id).where(sessions.c.state.in_(["ended", "expired"]))
        )
    ]
    for start in range(0, len(ended), _BATCH):
        batch = ended[start : start + _BATCH]
        logs: dict[str, list[_Event]] = {session_id: [] for session_id in batch}
        rows = connection.execute(
            sa.select(events.c.session_id, events.c.type, events.c.details, events.c.at)
            .where(events.c.session_id.in_(batch), events.c.type.in_(sorted(OUTCOME_EVENTS)))
            .order_by(events.c.id)
        )
        for session_id, kind, details, at in rows:
            logs[session_id].append(_Event(kind, details, at))
        for session_id, log in logs.items():
            connection.execute(
                sa.update(sessions)
                .where(sessions.c.id == session_id)
                .values(outcome=session_outcome(log).kind.value)
            )


def downgrade() -> None:
    """Drop the stored outcomes (the logs keep them)."""
    op.drop_index(_INDEX, table_name="visio_sessions")
    with op.batch_alter_table("visio_sessions") as batch:
        batch.drop_column("outcome")
