"""Failed console logins counted in the store, shared by every instance.

Revision ID: 0023_login_failures
Revises: 0022_room_owners
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_login_failures"
down_revision: str | Sequence[str] | None = "0022_room_owners"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``login_failures`` (a new table: code of the release before never reads it)."""
    op.create_table(
        "login_failures",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_failures")),
    )


def downgrade() -> None:
    """Drop ``login_failures``."""
    op.drop_table("login_failures")
