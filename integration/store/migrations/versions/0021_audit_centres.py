"""Audit entries belong to a centre: existing ones to their actor's, when it is an account.

Revision ID: 0021_audit_centres
Revises: 0020_rate_limit_hits
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_audit_centres"
down_revision: str | Sequence[str] | None = "0020_rate_limit_hits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``audit_log.centre_id`` and fill it from the accounts named as actors."""
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("centre_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_audit_log_centre_id_centres"), "centres", ["centre_id"], ["id"]
        )
        batch.create_index(op.f("ix_audit_log_centre_id"), ["centre_id"])
    op.execute(
        "UPDATE audit_log SET centre_id = "
        "(SELECT accounts.centre_id FROM accounts WHERE accounts.username = audit_log.actor)"
    )


def downgrade() -> None:
    """Drop ``audit_log.centre_id``."""
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_index(op.f("ix_audit_log_centre_id"))
        batch.drop_constraint(op.f("fk_audit_log_centre_id_centres"), type_="foreignkey")
        batch.drop_column("centre_id")
