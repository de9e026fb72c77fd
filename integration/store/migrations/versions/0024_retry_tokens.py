"""The tokens of invitations not yet delivered, kept sealed for a retry by hand.

Revision ID: 0024_retry_tokens
Revises: 0023_login_failures
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_retry_tokens"
down_revision: str | Sequence[str] | None = "0023_login_failures"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``retry_tokens`` (a new table: code of the release before never reads it)."""
    op.create_table(
        "retry_tokens",
        sa.Column("invitation_id", sa.String(length=32), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["invitations.id"],
            name=op.f("fk_retry_tokens_invitation_id_invitations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("invitation_id", name=op.f("pk_retry_tokens")),
    )


def downgrade() -> None:
    """Drop ``retry_tokens``."""
    op.drop_table("retry_tokens")
