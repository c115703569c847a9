"""searches, and each run's trial in its search; runs may end "pruned"

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28

The new statuses and stop reasons ("pruned", "reused") need no DDL: enums are stored as plain
strings without CHECK constraints (db/models.py `_str_enum`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

def _claim_index() -> None:
    op.create_index(
        "ix_runs_claim_order", "runs", ["status", sa.text("priority DESC"), "created_at", "id"]
    )


def upgrade() -> None:
    op.create_table(
        "searches",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "state",
            sa.Enum("running", "done", "cancelled", name="searchstate", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("metric", sa.String(length=100), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("budget", sa.Integer(), nullable=False),
        sa.Column("parallel", sa.Integer(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_searches")),
        sa.UniqueConstraint("name", name=op.f("uq_searches_name")),
    )
    # SQLite adds a foreign key only by copying `runs` (batch mode): safe because db.migrate
    # runs migrations with foreign keys off, so dropping the old table cascades nowhere. The
    # copy loses the claim index's `priority DESC` (an expression to reflection): rebuilt after.
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.drop_index("ix_runs_claim_order", table_name="runs")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("search_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reused_from", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_runs_search_id_searches"),
            "searches",
            ["search_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_runs_reused_from_runs"),
            "runs",
            ["reused_from"],
            ["id"],
            ondelete="SET NULL",
        )
    if sqlite:
        _claim_index()
    op.add_column("runs", sa.Column("trial", sa.Integer(), nullable=True))
    op.add_column("runs", sa.Column("trial_params", sa.JSON(), nullable=True))
    op.add_column("runs", sa.Column("trial_attrs", sa.JSON(), nullable=True))
    op.create_index("uq_runs_search_trial", "runs", ["search_id", "trial"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_runs_search_trial", table_name="runs")
    for column in ("trial_attrs", "trial_params", "trial"):
        op.drop_column("runs", column)
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:  # batch mode copies `runs`, as in upgrade
        op.drop_index("ix_runs_claim_order", table_name="runs")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_runs_reused_from_runs"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_runs_search_id_searches"), type_="foreignkey")
        batch_op.drop_column("reused_from")
        batch_op.drop_column("search_id")
    if sqlite:
        _claim_index()
    op.drop_table("searches")
