"""Accounts whose password an administrator reset must choose their own at their next sign-in;
centres can be created.

Existing accounts keep their password as it is (``must_change_password`` false). On PostgreSQL,
the centres' id sequence moves past the default centre, which was inserted with its id: the next
centre created would otherwise get id 1 again.

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
    """Add ``accounts.must_change_password`` (false for every existing account); on PostgreSQL,
    set the centres' id sequence after the highest id."""
    op.add_column(
        "accounts",
        sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "SELECT setval(pg_get_serial_sequence('centres', 'id'), "
            "(SELECT COALESCE(MAX(id), 1) FROM centres))"
        )


def downgrade() -> None:
    """Drop ``accounts.must_change_password`` (a temporary password stays the account's)."""
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("must_change_password")
