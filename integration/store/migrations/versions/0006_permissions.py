"""Centres, declared positions and the positions each account may take.

One default centre is created and every existing account and session joins it.

Revision ID: 0006_permissions
Revises: 0005_link_binding
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_permissions"
down_revision: str | Sequence[str] | None = "0005_link_binding"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_CENTRE_ID = 1


def upgrade() -> None:
    """Create ``centres`` (with the default one), ``positions`` and ``account_positions``;
    give accounts and sessions their centre, and each account its default position."""
    centres = op.create_table(
        "centres",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_centres")),
        sa.UniqueConstraint("code", name=op.f("uq_centres_code")),
    )
    op.bulk_insert(centres, [{"id": DEFAULT_CENTRE_ID, "code": "default", "name": "Centre 15"}])
    op.create_table(
        "positions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("centre_id", sa.Integer(), nullable=False),
        sa.Column("endpoint", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centres.id"], name=op.f("fk_positions_centre_id_centres")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_positions")),
        sa.UniqueConstraint("centre_id", "endpoint", name="uq_positions_endpoint"),
    )
    op.create_index(op.f("ix_positions_centre_id"), "positions", ["centre_id"])
    op.create_table(
        "account_positions",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("position_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_account_positions_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["position_id"],
            ["positions.id"],
            name=op.f("fk_account_positions_position_id_positions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "position_id", name=op.f("pk_account_positions")),
    )
    op.create_index(op.f("ix_account_positions_position_id"), "account_positions", ["position_id"])
    for table in ("accounts", "visio_sessions"):
        # Existing rows join the default centre; batch mode rebuilds the table on SQLite.
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column(
                    "centre_id",
                    sa.Integer(),
                    nullable=False,
                    server_default=sa.text(str(DEFAULT_CENTRE_ID)),
                )
            )
            batch.create_foreign_key(
                op.f(f"fk_{table}_centre_id_centres"), "centres", ["centre_id"], ["id"]
            )
            batch.create_index(op.f(f"ix_{table}_centre_id"), ["centre_id"])
        with op.batch_alter_table(table) as batch:
            batch.alter_column("centre_id", server_default=None)
    # An account's default position was free text: it becomes a declared position it may take.
    op.execute(
        "INSERT INTO positions (centre_id, endpoint) "
        "SELECT DISTINCT centre_id, position FROM accounts WHERE position IS NOT NULL"
    )
    op.execute(
        "INSERT INTO account_positions (account_id, position_id) "
        "SELECT accounts.id, positions.id FROM accounts JOIN positions "
        "ON positions.endpoint = accounts.position AND positions.centre_id = accounts.centre_id"
    )


def downgrade() -> None:
    """Drop the centres, positions and what refers to them."""
    for table in ("visio_sessions", "accounts"):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(op.f(f"ix_{table}_centre_id"))
            batch.drop_constraint(op.f(f"fk_{table}_centre_id_centres"), type_="foreignkey")
            batch.drop_column("centre_id")
    op.drop_table("account_positions")
    op.drop_table("positions")
    op.drop_table("centres")
