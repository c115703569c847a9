"""Migrations run once, and a stale schema is refused with the command to fix it."""

from __future__ import annotations

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


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_0010_keeps_runs_queued_before_it(kind: str, tmp_path: Path) -> None:
    """A run stored at 0005 survives 0010 intact; the new columns start empty and the
    architecture column takes a user's `package.module:function` name."""
    from alembic import command
    from sqlalchemy import insert, update

    from db.migrate import alembic_config
    from db.models import Run
    from db.runs import get_run
    from tests.databases import postgres_url_for_test
    from tests.db.factories import new_run

    def check(url: str) -> None:
        database = Database(url)
        config = alembic_config()
        with database.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0005")
        with database.engine.begin() as connection:
            connection.execute(insert(Run.__table__).values(**new_run("old").columns()))
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
