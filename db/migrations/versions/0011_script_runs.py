"""script runs: the client's own key of a run a user's script logs (LabCallback)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The key a script chose (or generated) before it could reach the database: spooled
    # records name their run by it, so replaying them finds the same run. A unique index, not
    # a constraint: SQLite adds an index in place but would copy `runs` for a constraint.
    op.add_column("runs", sa.Column("client_key", sa.String(length=64), nullable=True))
    op.create_index("uq_runs_client_key", "runs", ["client_key"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_runs_client_key", table_name="runs")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("client_key")
