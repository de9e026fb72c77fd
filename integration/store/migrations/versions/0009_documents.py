"""Documents and photos exchanged in a session: their way and their name.

Revision ID: 0009_documents
Revises: 0008_locations
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_documents"
down_revision: str | Sequence[str] | None = "0008_locations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``direction`` and ``name`` to ``session_files`` (None for screenshots)."""
    op.add_column("session_files", sa.Column("direction", sa.String(length=16), nullable=True))
    op.add_column("session_files", sa.Column("name", sa.String(length=255), nullable=True))


def downgrade() -> None:
    """Drop the documents' columns (their rows stay, as files without a name)."""
    op.drop_column("session_files", "name")
    op.drop_column("session_files", "direction")
