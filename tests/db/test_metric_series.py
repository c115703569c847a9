"""Metrics under any name, on the epoch and the step axis, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from db import queue
from db.entities import EpochRecord, ImportedRun, StepRecord
from db.imports import imported_as, save_imported_run
from db.metrics import (
    CURVE_FIELDS,
    curve_table,
    metric_columns,
    metric_names,
    metric_table,
    record_epoch,
    record_steps,
    reset_progress,
    run_timings,
)
from db.models import MetricAxis, Run, RunSource, RunStatus
from db.runs import get_run
from db.session import Database
from tests.db.factories import new_run, running_run


def _record(database: Database, run_id: int, attempt: int, *records: EpochRecord) -> None:
    for record in records:
        with database.begin() as session:
            assert record_epoch(session, run_id, attempt, record)


def test_any_metric_name_reads_back_exactly(database: Database) -> None:
    """Custom names, NaN (None) and 17-digit values come back as written, in wide rows."""
    run_id, attempt = running_run(database)
    _record(
        database,
        run_id,
        attempt,
        EpochRecord(1, {"loss": 0.12345678901234568, "auc": 0.5, "top_3_accuracy": 0.9}),
        EpochRecord(2, {"loss": float("nan"), "auc": 2.220446049250313e-16, "f1[0]": 0.25}),
    )
    names = ["auc", "f1[0]", "loss", "top_3_accuracy"]
    with database.read() as session:
        found = metric_names(session, [run_id])
        rows = metric_table(session, [run_id], names)
    assert found == dict.fromkeys(names, 1)
    assert [row[:-1] for row in rows] == [
        (run_id, 1, 0.5, None, 0.12345678901234568, 0.9),
        (run_id, 2, 2.220446049250313e-16, 0.25, None, None),
    ]
    assert all(row[-1] is not None for row in rows)  # recorded_at from the database clock
    assert metric_columns(names) == ("run_id", "epoch", *names, "recorded_at")


def test_curve_table_keeps_its_six_columns_beside_new_names(database: Database) -> None:
    """The dashboard's curve rows are unchanged by extra metrics: CURVE_FIELDS order, None
    where a standard name was not logged."""
    run_id, attempt = running_run(database)
    _record(database, run_id, attempt, EpochRecord(epoch=1, loss=0.5, val_accuracy=0.7, auc=0.8))
    with database.read() as session:
        (row,) = curve_table(session, [run_id])
    assert len(row) == len(CURVE_FIELDS)
    assert row[:-1] == (run_id, 1, 0.5, None, None, 0.7, None, None)


def test_names_are_counted_over_the_chosen_runs(database: Database) -> None:
    """metric_names says how many of the runs have each name, per axis."""
    first, a1 = running_run(database, "a")
    second, a2 = running_run(database, "b")
    _record(database, first, a1, EpochRecord(1, {"loss": 1.0, "auc": 0.5}))
    _record(database, second, a2, EpochRecord(1, {"loss": 1.0}))
    with database.begin() as session:
        assert record_steps(session, second, a2, [StepRecord(1, {"batch_loss": 2.0})])
    with database.read() as session:
        assert metric_names(session, [first, second]) == {"auc": 1, "loss": 2}
        assert metric_names(session, [first, second], MetricAxis.STEP) == {"batch_loss": 1}
        assert metric_names(session, []) == {}


def test_step_rows_skip_steps_without_the_chosen_names(database: Database) -> None:
    """On the step axis only steps where a chosen name has a value come back, in order."""
    run_id, attempt = running_run(database)
    steps = [StepRecord(s, {"loss": 1.0 / s}) for s in range(1, 6)]
    steps.append(StepRecord(5_000_000_000, {"loss": 0.1, "val_loss": 0.2}))  # 64-bit steps
    with database.begin() as session:
        assert record_steps(session, run_id, attempt, steps)
    with database.read() as session:
        rows = metric_table(session, [run_id], ["val_loss"], MetricAxis.STEP)
        every = metric_table(session, [run_id], ["loss"], MetricAxis.STEP)
    assert [row[1:3] for row in rows] == [(5_000_000_000, 0.2)]
    assert [row[2] for row in every] == [1.0, 0.5, 1.0 / 3, 0.25, 0.2, 0.1]


def test_a_replayed_step_or_epoch_is_an_error(database: Database) -> None:
    """The same epoch or step twice violates a unique constraint, as epochs always did."""
    run_id, attempt = running_run(database)
    with database.begin() as session:
        record_steps(session, run_id, attempt, [StepRecord(1, {"loss": 1.0})])
    with pytest.raises(IntegrityError), database.begin() as session:
        record_steps(session, run_id, attempt, [StepRecord(1, {"loss": 1.0})])


def test_a_stale_attempt_writes_no_steps(database: Database) -> None:
    """Step writes are fenced like epochs: a worker that lost the run writes nothing."""
    run_id, attempt = running_run(database)
    with database.begin() as session:
        assert not record_steps(session, run_id, attempt + 1, [StepRecord(1, {"loss": 1.0})])
    with database.read() as session:
        assert metric_table(session, [run_id], ["loss"], MetricAxis.STEP) == []


def test_unsafe_names_are_stored_in_a_form_that_reads_back(database: Database) -> None:
    """Quotes, backslashes and control characters in a name become `_`; blanks are trimmed."""
    run_id, attempt = running_run(database)
    _record(database, run_id, attempt, EpochRecord(1, {' my "score"\\x\n ': 0.5, "a.b/c d": 1.5}))
    with database.read() as session:
        names = list(metric_names(session, [run_id]))
        rows = metric_table(session, [run_id], names)
    assert names == ["a.b/c d", "my _score__x"]
    assert rows[0][2:4] == (1.5, 0.5)


def test_reset_progress_forgets_epochs_steps_and_names(database: Database) -> None:
    """A run trained again from epoch 1 starts with no series at all."""
    run_id, attempt = running_run(database)
    _record(database, run_id, attempt, EpochRecord(1, {"auc": 0.5}))
    with database.begin() as session:
        record_steps(session, run_id, attempt, [StepRecord(1, {"loss": 1.0})])
        assert reset_progress(session, run_id, attempt)
    with database.read() as session:
        assert metric_names(session, [run_id]) == {}
        assert metric_names(session, [run_id], MetricAxis.STEP) == {}


def _imported(name: str = "tb", import_hash: str = "h" * 64, **run: object) -> ImportedRun:
    epochs = (
        EpochRecord(1, {"val_accuracy": 0.5, "auc": 0.6}),
        EpochRecord(2, {"val_accuracy": 0.8}),
        EpochRecord(3, {"val_accuracy": 0.8, "epoch_seconds": 30.0}),
    )
    fields = {"source": RunSource.IMPORT, "import_hash": import_hash, "augmented": None, **run}
    return ImportedRun(
        run=new_run(name, **fields),
        epochs=epochs,
        steps=(StepRecord(10, {"loss": 0.3}),),
        stop_detail="imported from somewhere",
    )


def test_an_imported_run_is_finished_with_its_summary_and_series(database: Database) -> None:
    """A whole imported run lands in one call: succeeded, best/last val accuracy, series."""
    with database.begin() as session:
        run_id = save_imported_run(session, _imported())
    with database.read() as session:
        run = get_run(session, run_id)
        assert metric_names(session, [run_id]) == {"auc": 1, "epoch_seconds": 1, "val_accuracy": 1}
        assert metric_table(session, [run_id], ["loss"], MetricAxis.STEP)[0][1:3] == (10, 0.3)
        assert imported_as(session, "h" * 64) == {run_id: "tb"}
        assert run_timings(session) == []  # imports do not feed time estimates
    assert run is not None and run.status is RunStatus.SUCCEEDED
    assert run.source is RunSource.IMPORT and run.stop_reason is not None
    assert (run.epochs_done, run.best_val_accuracy, run.best_epoch) == (3, 0.8, 2)
    assert run.last_val_accuracy == 0.8


def test_a_failing_import_leaves_nothing(database: Database) -> None:
    """An import that fails half-way (a repeated epoch) rolls back: no run, no series."""
    broken = _imported()
    broken = ImportedRun(run=broken.run, epochs=(*broken.epochs, EpochRecord(1, {"auc": 1.0})))
    with pytest.raises(IntegrityError), database.begin() as session:
        save_imported_run(session, broken)
    with database.read() as session:
        assert imported_as(session, "h" * 64) == {}


def test_imported_runs_are_never_queued_or_re_run(database: Database) -> None:
    """Re-running an import is refused in words; enqueue refuses other sources."""
    with database.begin() as session:
        run_id = save_imported_run(session, _imported())
    with pytest.raises(queue.ReadOnlyRun, match=r"was imported.*Clone it"), database.begin() as s:
        queue.rerun(s, run_id)
    with pytest.raises(ValueError, match="only the lab's own runs"), database.begin() as s:
        queue.enqueue(s, _imported().run)


def test_a_script_run_without_heartbeat_is_not_requeued(database: Database) -> None:
    """requeue_lost leaves a script's run alone: no worker could train it."""
    with database.begin() as session:
        session.add(
            Run(
                **new_run("script", source=RunSource.SCRIPT).columns(),
                status=RunStatus.RUNNING,
                attempt=1,
                epochs_done=0,
                cancel_requested=False,
                warnings=[],
            )
        )
    with database.begin() as session:
        session.execute(update(Run).values(heartbeat_at=Run.created_at - timedelta(hours=1)))
        requeued, failed = queue.requeue_lost(session, timedelta(seconds=5))
    assert (requeued, failed) == ([], [])


def test_runs_filter_by_source(database: Database) -> None:
    """The run list can show only queued, script or imported runs."""
    from db.runs import list_runs, run_table

    queued, _ = running_run(database)
    with database.begin() as session:
        imported = save_imported_run(session, _imported())
    with database.read() as session:
        assert [r.id for r in list_runs(session, sources=[RunSource.IMPORT])] == [imported]
        rows = run_table(session, ["id", "source"], sources=[RunSource.QUEUED])
    assert [(row[0], RunSource(row[1])) for row in rows] == [(queued, RunSource.QUEUED)]
