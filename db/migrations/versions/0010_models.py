"""models: longer architecture names, parameter counts and training phases per run

Revision ID: 0010
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0005"
branch_labels = None
depends_on = None

_CLAIM_ORDER = ["status", sa.text("priority DESC"), "created_at", "id"]


def upgrade() -> None:
    # Plain ADD COLUMN on both databases: a batch copy of `runs` on SQLite would rebuild the
    # claim-order index without its DESC (see 0005).
    op.add_column("runs", sa.Column("total_params", sa.Integer(), nullable=True))
    op.add_column("runs", sa.Column("trainable_params", sa.Integer(), nullable=True))
    op.add_column("runs", sa.Column("phases", sa.JSON(), nullable=True))
    # "package.module:function" names of users' builders; SQLite does not enforce lengths.
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column(
            "runs",
            "architecture",
            existing_type=sa.String(length=64),
            type_=sa.String(length=200),
            existing_nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("phases")
        batch_op.drop_column("trainable_params")
        batch_op.drop_column("total_params")
        batch_op.alter_column(
            "architecture",
            existing_type=sa.String(length=200),
            type_=sa.String(length=64),
            existing_nullable=False,
        )
    op.drop_index("ix_runs_claim_order", table_name="runs")
    op.create_index("ix_runs_claim_order", "runs", _CLAIM_ORDER)
