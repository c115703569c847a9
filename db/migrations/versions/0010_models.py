"""models: longer architecture names, parameter counts and training phases per run

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_CLAIM_ORDER = ["status", sa.text("priority DESC"), "created_at", "id"]


def upgrade() -> None:
    op.add_column("runs", sa.Column("total_params", sa.Integer(), nullable=True))
    op.add_column("runs", sa.Column("trainable_params", sa.Integer(), nullable=True))
    op.add_column("runs", sa.Column("phases", sa.JSON(), nullable=True))
    # "package.module:function" names of users' builders. SQLite changes a column's type only
    # by copying `runs` (batch mode; safe: db.migrate runs migrations with foreign keys off),
    # which loses the claim-order index's DESC: rebuilt after.
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.drop_index("ix_runs_claim_order", table_name="runs")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.alter_column(
            "architecture",
            existing_type=sa.String(length=64),
            type_=sa.String(length=200),
            existing_nullable=True,
        )
    if sqlite:
        op.create_index("ix_runs_claim_order", "runs", _CLAIM_ORDER)


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("phases")
        batch_op.drop_column("trainable_params")
        batch_op.drop_column("total_params")
        batch_op.alter_column(
            "architecture",
            existing_type=sa.String(length=200),
            type_=sa.String(length=64),
            existing_nullable=True,
        )
    op.drop_index("ix_runs_claim_order", table_name="runs")
    op.create_index("ix_runs_claim_order", "runs", _CLAIM_ORDER)
