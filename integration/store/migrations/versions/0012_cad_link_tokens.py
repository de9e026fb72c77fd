"""The CAD deep-link tokens already used, so that each opens the console once.

Revision ID: 0012_cad_link_tokens
Revises: 0011_history_indexes
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_cad_link_tokens"
down_revision: str | Sequence[str] | None = "0011_history_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``cad_link_tokens``."""
    op.create_table(
        "cad_link_tokens",
        sa.Column("issuer", sa.String(length=200), nullable=False),
        sa.Column("jti", sa.String(length=128), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("issuer", "jti", name=op.f("pk_cad_link_tokens")),
    )
    op.create_index(op.f("ix_cad_link_tokens_expires_at"), "cad_link_tokens", ["expires_at"])


def downgrade() -> None:
    """Drop ``cad_link_tokens``."""
    op.drop_index(op.f("ix_cad_link_tokens_expires_at"), table_name="cad_link_tokens")
    op.drop_table("cad_link_tokens")
