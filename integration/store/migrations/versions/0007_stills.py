"""The files kept with a session: screenshots of the patient's video, first.

Revision ID: 0007_stills
Revises: 0006_permissions
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_stills"
down_revision: str | Sequence[str] | None = "0006_permissions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``session_files``."""
    op.create_table(
        "session_files",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("taken_by", sa.String(length=128), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("storage_key", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["visio_sessions.id"],
            name=op.f("fk_session_files_session_id_visio_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_files")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_session_files_storage_key")),
    )
    op.create_index(op.f("ix_session_files_session_id"), "session_files", ["session_id"])


def downgrade() -> None:
    """Drop ``session_files`` (the stored files stay on disk; the retention purge is gone)."""
    op.drop_index(op.f("ix_session_files_session_id"), table_name="session_files")
    op.drop_table("session_files")
