"""Accounts whose password an administrator reset must choose their own at their next sign-in.

Existing accounts keep their password as it is (``must_change_password`` false).

Revision ID: 0017_password_reset
Revises: 0016_action_claims
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_password_reset"
down_revision: str | Sequence[str] | None = "0016_action_claims"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``accounts.must_change_password`` (false for every existing account)."""
    op.add_column(
        "accounts",
        sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    """Drop ``accounts.must_change_password`` (a temporary password stays the account's)."""
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("must_change_password")
