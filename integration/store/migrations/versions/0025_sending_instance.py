"""Which instance sends an invitation, and since when (several instances).

Revision ID: 0025_sending_instance
Revises: 0024_retry_tokens
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025_sending_instance"
down_revision: str | Sequence[str] | None = "0024_retry_tokens"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``invitations.sending_instance`` and ``sending_since`` (nullable: the release
    before writes neither, and its sends are recovered as they always were)."""
    with op.batch_alter_table("invitations") as batch:
        batch.add_column(sa.Column("sending_instance", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("sending_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("invitations") as batch:
        batch.drop_column("sending_since")
        batch.drop_column("sending_instance")
