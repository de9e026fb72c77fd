"""Actions claimed by one instance among several (an SMS, a session, an event in a log).

Revision ID: 0016_action_claims
Revises: 0015_centre_ids
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_action_claims"
down_revision: str | Sequence[str] | None = "0015_centre_ids"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``action_claims``."""
    op.create_table(
        "action_claims",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("instance", sa.String(length=64), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_action_claims")),
    )
    op.create_index(op.f("ix_action_claims_claimed_at"), "action_claims", ["claimed_at"])


def downgrade() -> None:
    """Drop ``action_claims``."""
    op.drop_index(op.f("ix_action_claims_claimed_at"), table_name="action_claims")
    op.drop_table("action_claims")
