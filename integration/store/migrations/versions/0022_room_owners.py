"""The instance holding each live room, under a lease (several instances on PostgreSQL).

Revision ID: 0022_room_owners
Revises: 0021_audit_centres
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_room_owners"
down_revision: str | Sequence[str] | None = "0021_audit_centres"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``room_owners`` (a new table: code of the release before never reads it)."""
    op.create_table(
        "room_owners",
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("instance", sa.String(length=64), nullable=False),
        sa.Column("direct_url", sa.String(length=300), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["visio_sessions.id"],
            name=op.f("fk_room_owners_session_id_visio_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_room_owners")),
    )
    op.create_index(op.f("ix_room_owners_instance"), "room_owners", ["instance"])


def downgrade() -> None:
    """Drop ``room_owners``."""
    op.drop_index(op.f("ix_room_owners_instance"), table_name="room_owners")
    op.drop_table("room_owners")
