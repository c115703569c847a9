"""searches, and each run's trial in its search; runs may end "pruned"

Revision ID: 0008
Revises: 0005
Create Date: 2026-11-28

The new statuses and stop reasons ("pruned", "reused") need no DDL: enums are stored as plain
strings without CHECK constraints (db/models.py `_str_enum`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0005"
branch_labels = None
depends_on = None

# SQLite adds a column with its foreign key in place (ALTER TABLE ADD COLUMN ... REFERENCES).
# Alembic's batch mode would copy `runs` instead, and with foreign keys on, dropping the old
# table deletes every epoch, artifact and attempt through their ON DELETE CASCADE.
_SQLITE_REFERENCES = {
    "search_id": "CONSTRAINT fk_runs_search_id_searches REFERENCES searches (id) ON DELETE SET NULL",
    "reused_from": "CONSTRAINT fk_runs_reused_from_runs REFERENCES runs (id) ON DELETE SET NULL",
}


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
    if op.get_bind().dialect.name == "sqlite":
        for column, references in _SQLITE_REFERENCES.items():
            op.execute(f"ALTER TABLE runs ADD COLUMN {column} INTEGER {references}")
    else:
        op.add_column("runs", sa.Column("search_id", sa.Integer(), nullable=True))
        op.add_column("runs", sa.Column("reused_from", sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f("fk_runs_search_id_searches"),
            "runs",
            "searches",
            ["search_id"],
            ["id"],
            ondelete="SET NULL",
        )
        op.create_foreign_key(
            op.f("fk_runs_reused_from_runs"), "runs", "runs", ["reused_from"], ["id"], ondelete="SET NULL"
        )
    op.add_column("runs", sa.Column("trial", sa.Integer(), nullable=True))
    op.add_column("runs", sa.Column("trial_params", sa.JSON(), nullable=True))
    op.add_column("runs", sa.Column("trial_attrs", sa.JSON(), nullable=True))
    op.create_index("uq_runs_search_trial", "runs", ["search_id", "trial"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_runs_search_trial", table_name="runs")
    for column in ("trial_attrs", "trial_params", "trial"):
        op.drop_column("runs", column)
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot drop a column that holds a foreign key without copying the table (see
        # above for why that copy would empty the child tables): the two columns stay, unused.
        pass
    else:
        op.drop_constraint(op.f("fk_runs_reused_from_runs"), "runs", type_="foreignkey")
        op.drop_constraint(op.f("fk_runs_search_id_searches"), "runs", type_="foreignkey")
        op.drop_column("runs", "reused_from")
        op.drop_column("runs", "search_id")
    op.drop_table("searches")
