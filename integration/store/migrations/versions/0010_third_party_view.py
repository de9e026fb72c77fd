"""Whether a third party may watch the patient's video, as the regulator chose when inviting.

Revision ID: 0010_third_party_view
Revises: 0009_documents
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_third_party_view"
down_revision: str | Sequence[str] | None = "0009_documents"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``invitations.sees_patient`` (false for every link sent before)."""
    op.add_column(
        "invitations",
        sa.Column("sees_patient", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    """Drop ``invitations.sees_patient``."""
    op.drop_column("invitations", "sees_patient")
