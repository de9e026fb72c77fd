"""Rate limits counted in the store, shared by every instance.

Revision ID: 0020_rate_limit_hits
Revises: 0019_session_outcomes
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_rate_limit_hits"
down_revision: str | Sequence[str] | None = "0019_session_outcomes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``rate_limit_hits``."""
    op.create_table(
        "rate_limit_hits",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", "window_start", name=op.f("pk_rate_limit_hits")),
    )


def downgrade() -> None:
    """Drop ``rate_limit_hits``."""
    op.drop_table("rate_limit_hits")
