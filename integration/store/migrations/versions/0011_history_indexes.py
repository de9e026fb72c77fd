"""Indexes for the history's searches: one centre's sessions, newest first, by date, state,
regulator, caller's number or call.

Revision ID: 0011_history_indexes
Revises: 0010_third_party_view
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011_history_indexes"
down_revision: str | Sequence[str] | None = "0010_third_party_view"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES: dict[str, list[str]] = {
    "ix_visio_sessions_centre_created": ["centre_id", "created_at"],
    "ix_visio_sessions_centre_state_created": ["centre_id", "state", "created_at"],
    "ix_visio_sessions_centre_creator_created": ["centre_id", "created_by", "created_at"],
    "ix_visio_sessions_centre_caller_created": ["centre_id", "caller_number", "created_at"],
    "ix_visio_sessions_centre_call_created": ["centre_id", "call_id", "created_at"],
}


def upgrade() -> None:
    """Add one composite index per search shape (rows untouched)."""
    for name, columns in _INDEXES.items():
        op.create_index(name, "visio_sessions", columns)


def downgrade() -> None:
    """Drop them."""
    for name in _INDEXES:
        op.drop_index(name, table_name="visio_sessions")
