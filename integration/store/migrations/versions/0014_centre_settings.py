"""Centres with their own time zone, and the platform administrator's role.

Existing centres keep the service's time zone (NULL); existing accounts keep their role.

Revision ID: 0014_centre_settings
Revises: 0013_practitioner_ids
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_centre_settings"
down_revision: str | Sequence[str] | None = "0013_practitioner_ids"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROLES_BEFORE = "role IN ('regulator', 'doctor', 'admin')"
_ROLES_AFTER = "role IN ('regulator', 'doctor', 'admin', 'platform_admin')"


def upgrade() -> None:
    """Add ``centres.time_zone`` and allow the ``platform_admin`` role."""
    op.add_column("centres", sa.Column("time_zone", sa.String(length=64), nullable=True))
    # Batch mode: SQLite changes a check constraint only by rebuilding the table.
    with op.batch_alter_table("accounts") as batch:
        batch.drop_constraint(op.f("ck_accounts_role"), type_="check")
        batch.create_check_constraint(op.f("ck_accounts_role"), _ROLES_AFTER)


def downgrade() -> None:
    """Platform administrators become centre administrators; centres lose their time zone."""
    op.execute("UPDATE accounts SET role = 'admin' WHERE role = 'platform_admin'")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_constraint(op.f("ck_accounts_role"), type_="check")
        batch.create_check_constraint(op.f("ck_accounts_role"), _ROLES_BEFORE)
    with op.batch_alter_table("centres") as batch:
        batch.drop_column("time_zone")
