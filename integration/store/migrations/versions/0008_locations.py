"""The caller's positions kept with a session.

Revision ID: 0008_locations
Revises: 0007_stills
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_locations"
down_revision: str | Sequence[str] | None = "0007_stills"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``session_locations``."""
    op.create_table(
        "session_locations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("accuracy", sa.Float(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("asked_by", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["visio_sessions.id"],
            name=op.f("fk_session_locations_session_id_visio_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_locations")),
    )
    op.create_index(op.f("ix_session_locations_session_id"), "session_locations", ["session_id"])


def downgrade() -> None:
    """Drop ``session_locations`` (the events in the log keep the positions)."""
    op.drop_index(op.f("ix_session_locations_session_id"), table_name="session_locations")
    op.drop_table("session_locations")
