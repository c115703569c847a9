"""Migration 0008 (searches) keeps every row written before it, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from db.migrate import current_heads, downgrade, expected_heads, upgrade
from db.session import Database
from tests.databases import postgres_url_for_test, sqlite_url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        database = Database(sqlite_url(tmp_path))
        yield database
        database.dispose()
        return
    with postgres_url_for_test() as url:
        database = Database(url)
        yield database
        database.dispose()


def _migrate(engine: Engine, revision: str, *, down: bool = False) -> None:
    # db.migrate's own path: SQLite's foreign keys are off while batch mode copies tables.
    (downgrade if down else upgrade)(engine, revision)


def _seed_0005(engine: Engine) -> None:
    """A finished run with an epoch, a stored model and an attempt, as 0005 stores them."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO runs (id, name, status, priority, config, tags, dataset, "
                "architecture, optimizer, learning_rate, batch_size, epochs, image_size, "
                "augmented, seed, attempt, max_attempts, cancel_requested, warnings, "
                "epochs_done) VALUES (1, 'old', 'succeeded', 0, '{}', '[]', 'd', 'report_cnn', "
                "'adam', 0.001, 16, 1, 112, false, 0, 1, 3, false, '[]', 1)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO epoch_metrics (run_id, epoch, val_accuracy, attempt) "
                "VALUES (1, 1, 0.75, 1)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO artifacts (run_id, kind, data, sha256, size_bytes, meta) "
                "VALUES (1, 'model', :data, 'x', 3, '{}')"
            ),
            {"data": b"abc"},
        )
        connection.execute(
            text(
                "INSERT INTO run_attempts (run_id, attempt, worker, outcome) "
                "VALUES (1, 1, 'w', 'succeeded')"
            )
        )


def _counts(engine: Engine) -> tuple[int, ...]:
    with engine.connect() as connection:
        return tuple(
            int(connection.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
            for table in ("runs", "epoch_metrics", "artifacts", "run_attempts")
        )


def test_upgrading_keeps_runs_epochs_models_and_attempts(empty_database: Database) -> None:
    """Rows from 0005 survive the upgrade (no copy of `runs` cascading into its children)."""
    engine = empty_database.engine
    _migrate(engine, "0005")
    _seed_0005(engine)
    upgrade(engine)
    assert current_heads(engine) == expected_heads()
    assert _counts(engine) == (1, 1, 1, 1)
    with engine.connect() as connection:
        row = connection.execute(text("SELECT search_id, trial, reused_from FROM runs")).one()
    assert tuple(row) == (None, None, None)


def test_downgrading_keeps_the_runs_too(empty_database: Database) -> None:
    """Back to 0005 drops the searches table and leaves every run and its children."""
    engine = empty_database.engine
    _migrate(engine, "0005")
    _seed_0005(engine)
    upgrade(engine)
    _migrate(engine, "0005", down=True)
    assert current_heads(engine) == {"0005"}
    assert _counts(engine) == (1, 1, 1, 1)
