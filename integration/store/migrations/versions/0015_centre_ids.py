"""New centres get ids after the default one on PostgreSQL.

The default centre was inserted with its id (1) written out, which PostgreSQL's sequence behind
``centres.id`` does not see: the first centre added afterwards would take id 1 again and be
refused. The sequence is moved past the highest id; SQLite needs nothing (it takes the next
rowid). No row changes.

Revision ID: 0015_centre_ids
Revises: 0014_centre_settings
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015_centre_ids"
down_revision: str | Sequence[str] | None = "0014_centre_settings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Move ``centres.id``'s sequence past the highest id (PostgreSQL only)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "SELECT setval(pg_get_serial_sequence('centres', 'id'), "
            "(SELECT COALESCE(MAX(id), 1) FROM centres))"
        )


def downgrade() -> None:
    """Nothing to undo: a sequence past the highest id is right before this revision too."""
