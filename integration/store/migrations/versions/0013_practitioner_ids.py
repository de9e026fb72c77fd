"""Sign-in through Pro Santé Connect: practitioners' national ids, provider logins, sign-ins
under way.

Revision ID: 0013_practitioner_ids
Revises: 0012_cad_link_tokens
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_practitioner_ids"
down_revision: str | Sequence[str] | None = "0012_cad_link_tokens"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``accounts.practitioner_id`` (unique, NULL for every existing account), the provider's
    ``sub``, ``sid`` and ID token on console logins, and ``provider_sign_ins``."""
    # Batch mode: SQLite adds a unique constraint only by rebuilding the table.
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("practitioner_id", sa.String(length=32), nullable=True))
        batch.create_unique_constraint(op.f("uq_accounts_practitioner_id"), ["practitioner_id"])
    op.add_column("console_logins", sa.Column("provider_sub", sa.String(255), nullable=True))
    op.add_column("console_logins", sa.Column("provider_sid", sa.String(255), nullable=True))
    op.add_column("console_logins", sa.Column("provider_id_token", sa.Text(), nullable=True))
    op.create_index(op.f("ix_console_logins_provider_sub"), "console_logins", ["provider_sub"])
    op.create_index(op.f("ix_console_logins_provider_sid"), "console_logins", ["provider_sid"])
    op.create_table(
        "provider_sign_ins",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=128), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("state_hash", name=op.f("pk_provider_sign_ins")),
    )
    op.create_index(op.f("ix_provider_sign_ins_expires_at"), "provider_sign_ins", ["expires_at"])


def downgrade() -> None:
    """Drop what :func:`upgrade` added."""
    op.drop_index(op.f("ix_provider_sign_ins_expires_at"), table_name="provider_sign_ins")
    op.drop_table("provider_sign_ins")
    op.drop_index(op.f("ix_console_logins_provider_sid"), table_name="console_logins")
    op.drop_index(op.f("ix_console_logins_provider_sub"), table_name="console_logins")
    with op.batch_alter_table("console_logins") as batch:
        batch.drop_column("provider_id_token")
        batch.drop_column("provider_sid")
        batch.drop_column("provider_sub")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_constraint(op.f("uq_accounts_practitioner_id"), type_="unique")
        batch.drop_column("practitioner_id")
