"""Migration 0006 on a database holding runs from before it: every value survives, exactly."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from db.metrics import CURVE_METRICS, curve_table, load_curves, metric_names
from db.migrate import downgrade, upgrade
from db.models import Base, RunSource
from db.runs import get_run
from db.session import Database

# Values with all 17 significant digits and NULLs (NaNs the old worker stored).
EPOCHS = [
    (1, 0.12345678901234568, 0.3333333333333333, 1.0000000000000002, None, 0.001, 12.5),
    (2, 0.1, 0.6666666666666666, 0.9876543210987654, 0.25, 0.001, 1e-30),
    (3, 2.220446049250313e-16, 0.7, None, 0.5, 0.0001, 11.0),
]
# Extremes: stored exactly (the JSON text is Python's shortest repr) and read back exactly by
# Python's parser (load_curves). SQLite's own parser, used by curve_table, is exact for
# metric-sized numbers but can be 1 ulp off near 1e±300 once a native library has switched the
# x87 FPU to double precision, which some test modules do.
EXTREME = (4, 1e-300, 1.7976931348623157e308, 5e-324, 0.5, 1e-30, 1e30)
RUN_COLUMNS = (
    "name, study, status, priority, config, tags, dataset, architecture, optimizer, "
    "learning_rate, batch_size, epochs, image_size, augmented, seed, attempt, max_attempts, "
    "cancel_requested, warnings, epochs_done, best_val_accuracy, best_epoch"
)


def _seed_0005(database: Database) -> None:
    """Two runs as revision 0005 stored them, with epochs, an artifact and an attempt."""
    with database.engine.begin() as connection:
        for name, status in (("old", "succeeded"), ("waiting", "queued")):
            connection.execute(
                text(
                    f"INSERT INTO runs ({RUN_COLUMNS}) VALUES (:name, 's', :status, 0, '{{}}', "
                    "'[]', 'var/data', 'report_cnn', 'adam', 0.001, 16, 3, 112, false, 0, 1, 3, "
                    "false, '[]', 3, 0.5, 3)"
                ),
                {"name": name, "status": status},
            )
        run_id = connection.execute(text("SELECT id FROM runs WHERE name = 'old'")).scalar_one()
        for epoch, *values in [*EPOCHS, EXTREME]:
            connection.execute(
                text(
                    "INSERT INTO epoch_metrics (run_id, epoch, loss, accuracy, val_loss, "
                    "val_accuracy, learning_rate, epoch_seconds, attempt) VALUES (:run, :epoch, "
                    ":m0, :m1, :m2, :m3, :m4, :m5, 1)"
                ),
                {"run": run_id, "epoch": epoch, **{f"m{i}": v for i, v in enumerate(values)}},
            )
        connection.execute(
            text(
                "INSERT INTO artifacts (run_id, kind, data, sha256, size_bytes, meta) "
                "VALUES (:run, 'model', :data, 'x', 3, '{}')"
            ),
            {"run": run_id, "data": b"abc"},
        )
        connection.execute(
            text(
                "INSERT INTO run_attempts (run_id, attempt, worker, outcome) "
                "VALUES (:run, 1, 'w', 'succeeded')"
            ),
            {"run": run_id},
        )


def _count(database: Database, table: str) -> int:
    with database.engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_upgrade_keeps_every_epoch_value_and_row(database_url: str) -> None:
    """Runs, epochs (17-digit values, NULLs), artifacts and attempts from 0005 read back the
    same through the new storage, on SQLite and PostgreSQL; the runs become source queued."""
    database = Database(database_url)
    downgrade(database.engine, "0005")
    _seed_0005(database)
    upgrade(database.engine)

    with database.read() as session:
        run_id = session.execute(text("SELECT id FROM runs WHERE name = 'old'")).scalar_one()
        rows = curve_table(session, [run_id])
        records = load_curves(session, [run_id])
        names = metric_names(session, [run_id])
        run = get_run(session, run_id)
    assert [row[1:-1] for row in rows[:3]] == [tuple(epoch) for epoch in EPOCHS]
    extreme = records[3]
    assert (extreme.epoch, *(extreme.metrics[name] for name in CURVE_METRICS)) == EXTREME
    assert all(row[-1] is not None for row in rows)  # recorded_at kept
    assert names == dict.fromkeys(CURVE_METRICS, 1)
    assert run is not None and run.source is RunSource.QUEUED and run.best_epoch == 3
    assert (_count(database, "artifacts"), _count(database, "run_attempts")) == (1, 1)
    database.dispose()


def test_downgrade_restores_the_six_columns(database_url: str) -> None:
    """Going back to 0005 puts each value back in its column."""
    database = Database(database_url)
    downgrade(database.engine, "0005")
    _seed_0005(database)
    upgrade(database.engine)
    downgrade(database.engine, "0005")
    with database.engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT epoch, loss, accuracy, val_loss, val_accuracy, learning_rate, "
                "epoch_seconds FROM epoch_metrics ORDER BY epoch"
            )
        ).all()
    assert [tuple(row) for row in rows] == [*map(tuple, EPOCHS), EXTREME]
    assert _count(database, "artifacts") == 1
    database.dispose()


def test_models_match_the_migrations(database_url: str) -> None:
    """Alembic finds nothing to autogenerate: db/models.py and the migrations agree."""
    database = Database(database_url)
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    database.dispose()


def test_a_queued_run_of_another_source_is_refused_by_the_schema(database: Database) -> None:
    """The check constraint keeps scripts and imports out of the queue."""
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), database.engine.begin() as connection:
        connection.execute(
            text(
                f"INSERT INTO runs ({RUN_COLUMNS}, source) VALUES ('x', NULL, 'queued', 0, '{{}}', "
                "'[]', NULL, NULL, NULL, NULL, NULL, 1, NULL, NULL, NULL, 0, 3, false, '[]', 0, "
                "NULL, NULL, 'import')"
            )
        )
