"""Live console logins, so that logging out and disabling an account revoke them on the server.

Revision ID: 0004_console_logins
Revises: 0003
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_console_logins"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``console_logins``."""
    op.create_table(
        "console_logins",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_console_logins_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_logins")),
    )
    op.create_index(op.f("ix_console_logins_account_id"), "console_logins", ["account_id"])
    op.create_index(op.f("ix_console_logins_expires_at"), "console_logins", ["expires_at"])


def downgrade() -> None:
    """Drop ``console_logins``."""
    op.drop_index(op.f("ix_console_logins_expires_at"), table_name="console_logins")
    op.drop_index(op.f("ix_console_logins_account_id"), table_name="console_logins")
    op.drop_table("console_logins")
