"""Links bound to a browser once its video is published, not when the page is fetched.

Revision ID: 0005_link_binding
Revises: 0004_console_logins
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_link_binding"
down_revision: str | Sequence[str] | None = "0004_console_logins"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``invitations.bound_at``; links opened before stay bound to their browser."""
    op.add_column("invitations", sa.Column("bound_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE invitations SET bound_at = opened_at WHERE device_key IS NOT NULL")


def downgrade() -> None:
    """Drop ``invitations.bound_at``."""
    with op.batch_alter_table("invitations") as batch:
        batch.drop_column("bound_at")
