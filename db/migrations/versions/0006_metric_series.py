"""any metric: epoch metrics as one JSON object per epoch, per-step metrics, metric names per
run, and run sources (queued / script / import)

Existing runs become source "queued"; each epoch's six columns (loss, accuracy, val_loss,
val_accuracy, learning_rate, epoch_seconds) become the same six keys of its `metrics` object,
values exactly as stored (converted in Python: SQLite's json_object and PostgreSQL's float to
numeric cast keep only 15 significant digits).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

STANDARD = ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "epoch_seconds")
KNOBS = (
    ("dataset", sa.String(length=1000)),
    ("architecture", sa.String(length=64)),
    ("optimizer", sa.String(length=32)),
    ("learning_rate", sa.Float()),
    ("batch_size", sa.Integer()),
    ("image_size", sa.Integer()),
    ("augmented", sa.Boolean()),
    ("seed", sa.Integer()),
)
METRICS_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
CHUNK = 5000


def _source_enum() -> sa.Enum:
    return sa.Enum(
        "queued", "script", "import", name="runsource", native_enum=False, length=16
    )


def _recreating_runs() -> Any:
    """Batch mode on SQLite copies `runs` and its indexes, but loses the claim index's
    `priority DESC` (an expression to reflection): drop it first, rebuild it after."""
    op.drop_index("ix_runs_claim_order", table_name="runs")
    return op.batch_alter_table("runs", schema=None)


def _claim_index() -> None:
    op.create_index(
        "ix_runs_claim_order", "runs", ["status", sa.text("priority DESC"), "created_at", "id"]
    )


def upgrade() -> None:
    with _recreating_runs() as batch_op:
        batch_op.add_column(
            sa.Column("source", _source_enum(), server_default="queued", nullable=False)
        )
        batch_op.add_column(sa.Column("import_hash", sa.String(length=64), nullable=True))
        for name, type_ in KNOBS:
            batch_op.alter_column(name, existing_type=type_, nullable=True)
        batch_op.create_check_constraint(
            op.f("ck_runs_only_queued_source_queues"),
            "status <> 'queued' OR source = 'queued'",
        )
        batch_op.create_index(batch_op.f("ix_runs_import_hash"), ["import_hash"], unique=False)
    _claim_index()

    with op.batch_alter_table("epoch_metrics", schema=None) as batch_op:
        batch_op.add_column(sa.Column("metrics", METRICS_JSON, nullable=True))
    _columns_to_json()
    with op.batch_alter_table("epoch_metrics", schema=None) as batch_op:
        batch_op.alter_column("metrics", existing_type=METRICS_JSON, nullable=False)
        batch_op.alter_column(
            "recorded_at",
            existing_type=sa.DateTime(timezone=True),
            existing_server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=True,
        )
        for name in STANDARD:
            batch_op.drop_column(name)

    op.create_table(
        "step_metrics",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("metrics", METRICS_JSON, nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_step_metrics_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_step_metrics")),
        sa.UniqueConstraint("run_id", "step", name=op.f("uq_step_metrics_run_id_step")),
    )
    op.create_table(
        "metric_series",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column(
            "axis",
            sa.Enum("epoch", "step", name="metricaxis", native_enum=False, length=8),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_metric_series_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metric_series")),
        sa.UniqueConstraint(
            "run_id", "axis", "name", name=op.f("uq_metric_series_run_id_axis_name")
        ),
    )
    # Every run with epochs recorded the six names (NULL where a value was NaN).
    for name in STANDARD:
        op.execute(
            sa.text(
                "INSERT INTO metric_series (run_id, axis, name) "
                "SELECT DISTINCT run_id, 'epoch', :name FROM epoch_metrics"
            ).bindparams(name=name)
        )


def _chunks(table: sa.TableClause) -> Iterator[list[Any]]:
    """The table's rows in id order, a chunk at a time, without holding the whole table."""
    bind = op.get_bind()
    last = 0
    while True:
        statement = sa.select(table).where(table.c.id > last).order_by(table.c.id).limit(CHUNK)
        rows = bind.execute(statement).all()
        if not rows:
            return
        yield rows
        last = rows[-1].id


def _epochs_table(*columns: sa.ColumnClause[Any]) -> sa.TableClause:
    return sa.table("epoch_metrics", sa.column("id", sa.Integer()), *columns)


def _columns_to_json() -> None:
    old = _epochs_table(*(sa.column(name, sa.Float()) for name in STANDARD))
    new = _epochs_table(sa.column("metrics", METRICS_JSON))
    update = (
        new.update().where(new.c.id == sa.bindparam("row_id")).values(metrics=sa.bindparam("m"))
    )
    for rows in _chunks(old):
        values = [
            {"row_id": row.id, "m": {name: getattr(row, name) for name in STANDARD}}
            for row in rows
        ]
        op.get_bind().execute(update, values)


def _json_to_columns() -> None:
    new = _epochs_table(sa.column("metrics", METRICS_JSON))
    old = _epochs_table(*(sa.column(name, sa.Float()) for name in STANDARD))
    update = old.update().where(old.c.id == sa.bindparam("row_id"))
    for rows in _chunks(new):
        values = []
        for row in rows:
            metrics = row.metrics or {}
            values.append({"row_id": row.id, **{name: metrics.get(name) for name in STANDARD}})
        op.get_bind().execute(update, values)


def downgrade() -> None:
    """Back to six columns: other metric names and per-step values are dropped. Refused while
    script or imported runs exist, which the old schema cannot hold (their knobs are NULL)."""
    others = op.get_bind().scalar(sa.text("SELECT count(*) FROM runs WHERE source <> 'queued'"))
    if others:
        raise RuntimeError(
            f"{others} script or imported run(s) exist; delete them before downgrading below 0006"
        )
    op.drop_table("metric_series")
    op.drop_table("step_metrics")
    with op.batch_alter_table("epoch_metrics", schema=None) as batch_op:
        for name in STANDARD:
            batch_op.add_column(sa.Column(name, sa.Float(), nullable=True))
    _json_to_columns()
    op.execute(sa.text("UPDATE epoch_metrics SET recorded_at = CURRENT_TIMESTAMP "
                       "WHERE recorded_at IS NULL"))
    with op.batch_alter_table("epoch_metrics", schema=None) as batch_op:
        batch_op.alter_column(
            "recorded_at",
            existing_type=sa.DateTime(timezone=True),
            existing_server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        )
        batch_op.drop_column("metrics")
    with _recreating_runs() as batch_op:
        batch_op.drop_index(batch_op.f("ix_runs_import_hash"))
        batch_op.drop_constraint(op.f("ck_runs_only_queued_source_queues"), type_="check")
        for name, type_ in KNOBS:
            batch_op.alter_column(name, existing_type=type_, nullable=False)
        batch_op.drop_column("import_hash")
        batch_op.drop_column("source")
    _claim_index()
