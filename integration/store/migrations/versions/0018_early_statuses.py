"""Gateway reports that overtake the send's answer, kept in the store for every instance.

Revision ID: 0018_early_statuses
Revises: 0017_password_reset
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_early_statuses"
down_revision: str | Sequence[str] | None = "0017_password_reset"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``early_statuses``."""
    op.create_table(
        "early_statuses",
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error_code", sa.String(length=32), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("provider_id", name=op.f("pk_early_statuses")),
    )
    op.create_index(op.f("ix_early_statuses_received_at"), "early_statuses", ["received_at"])


def downgrade() -> None:
    """Drop ``early_statuses``."""
    op.drop_index(op.f("ix_early_statuses_received_at"), table_name="early_statuses")
    op.drop_table("early_statuses")
