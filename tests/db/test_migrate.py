"""Migrations run once, and a stale schema is refused with the command to fix it."""

from __future__ import annotations

import hashlib
import multiprocessing
from pathlib import Path

import pytest
from sqlalchemy import inspect

from db.migrate import SchemaMismatch, check_schema, current_heads, expected_heads, upgrade
from db.session import Database
from tests.databases import sqlite_url


def test_fresh_database_is_refused_with_the_upgrade_command(tmp_path: Path) -> None:
    """An empty database fails the schema check naming `python -m db upgrade`."""
    database = Database(sqlite_url(tmp_path))
    with pytest.raises(SchemaMismatch, match="python -m db upgrade"):
        check_schema(database.engine)


def test_upgrade_creates_tables_and_is_idempotent(tmp_path: Path) -> None:
    """Upgrading twice leaves the schema at head with the three tables."""
    database = Database(sqlite_url(tmp_path))
    upgrade(database.engine)
    before, after = upgrade(database.engine)
    assert before == after == expected_heads()
    tables = set(inspect(database.engine).get_table_names())
    assert {"runs", "epoch_metrics", "artifacts"} <= tables
    check_schema(database.engine)


def _upgrade(url: str) -> None:
    upgrade(Database(url).engine)


def test_concurrent_upgrades_create_the_schema_once(tmp_path: Path) -> None:
    """Four processes migrating a fresh database at once all succeed on one schema."""
    url = sqlite_url(tmp_path)
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_upgrade, args=(url,)) for _ in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    assert current_heads(Database(url).engine) == expected_heads()


def test_claim_uses_the_claim_order_index(tmp_path: Path) -> None:
    """On SQLite the claim's candidate query reads the index in order, without a sort."""
    from sqlalchemy import select

    from db.models import Run, RunStatus
    from db.queue import CLAIM_ORDER

    database = Database(sqlite_url(tmp_path))
    upgrade(database.engine)
    candidate = select(Run.id).where(Run.status == RunStatus.QUEUED).order_by(*CLAIM_ORDER).limit(1)
    sql = str(candidate.compile(database.engine, compile_kwargs={"literal_binds": True}))
    with database.engine.connect() as connection:
        plan = " ".join(
            str(row[-1]) for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")
        )
    assert "ix_runs_claim_order" in plan and "TEMP B-TREE" not in plan


def _migrate(database: Database, revision: str, *, down: bool = False) -> None:
    # db.migrate's own path: SQLite's foreign keys are off while batch mode copies tables.
    from db.migrate import downgrade, upgrade

    (downgrade if down else upgrade)(database.engine, revision)


def test_artifact_store_migration_keeps_stored_models(database_url: str) -> None:
    """Models stored in rows before 0007 load afterwards from the database store, and back."""
    from sqlalchemy import text

    from db.artifacts import artifact_pointer, load_artifact
    from db.models import ArtifactKind, StoreKind

    database = Database(database_url)
    _migrate(database, "0005", down=True)
    with database.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO runs (id, name, status, priority, config, tags, dataset, "
                "architecture, optimizer, learning_rate, batch_size, epochs, image_size, "
                "augmented, seed, attempt, max_attempts, cancel_requested, warnings, "
                "epochs_done) VALUES (1, 'old', 'succeeded', 0, '{}', '[]', 'd', 'report_cnn', "
                "'adam', 0.001, 16, 2, 112, false, 0, 1, 3, false, '[]', 2)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO artifacts (run_id, kind, data, sha256, size_bytes, meta) "
                "VALUES (1, 'model', :data, :sha, 5, '{\"image_size\": 112}')"
            ),
            {"data": b"model", "sha": hashlib.sha256(b"model").hexdigest()},
        )
    _migrate(database, "head")
    with database.read() as session:
        stored = load_artifact(session, 1, ArtifactKind.MODEL)
        pointer = artifact_pointer(session, 1, ArtifactKind.MODEL)
    assert stored is not None and stored.data == b"model" and stored.meta == {"image_size": 112}
    assert pointer is not None and pointer.store is StoreKind.DATABASE
    _migrate(database, "0005", down=True)
    with database.engine.connect() as connection:
        data = connection.execute(text("SELECT data FROM artifacts WHERE run_id = 1")).scalar()
    assert bytes(data) == b"model"
    database.dispose()


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_0010_keeps_runs_queued_before_it(kind: str, tmp_path: Path) -> None:
    """A run stored at 0005 survives 0010 intact; the new columns start empty and the
    architecture column takes a user's `package.module:function` name."""
    from sqlalchemy import text, update

    from db.models import Run
    from db.runs import get_run
    from tests.databases import postgres_url_for_test

    def check(url: str) -> None:
        database = Database(url)
        upgrade(database.engine, "0005")
        with database.engine.begin() as connection:  # a row as 0005 wrote it
            connection.execute(
                text(
                    "INSERT INTO runs (id, name, status, priority, config, tags, dataset, "
                    "architecture, optimizer, learning_rate, batch_size, epochs, image_size, "
                    "augmented, seed, attempt, max_attempts, cancel_requested, warnings, "
                    "epochs_done) VALUES (1, 'old', 'queued', 0, '{}', '[]', 'd', "
                    "'report_cnn', 'adam', 0.001, 16, 3, 112, false, 0, 0, 3, false, '[]', 0)"
                )
            )
        upgrade(database.engine)
        with database.read() as session:
            run = get_run(session, 1)
        assert run is not None and (run.name, run.architecture, run.epochs) == (
            "old",
            "report_cnn",
            3,
        )
        assert (run.total_params, run.trainable_params, run.phases) == (None, None, ())
        long_name = "a_team." + "models." * 20 + "nets:build"
        with database.begin() as session:
            session.execute(update(Run).where(Run.id == 1).values(architecture=long_name))
        with database.read() as session:
            assert get_run(session, 1).architecture == long_name  # type: ignore[union-attr]
        database.dispose()

    if kind == "sqlite":
        check(sqlite_url(tmp_path))
    else:
        with postgres_url_for_test() as url:
            check(url)
