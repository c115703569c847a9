"""Per-epoch metrics: fenced writes, run summary, NULL for non-finite values."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from db.entities import EpochRecord
from db.metrics import load_curves, record_epoch, reset_progress
from db.models import EpochMetric
from db.runs import get_run
from db.session import Database
from tests.db.factories import running_run


def test_record_epoch_updates_best_and_last(database: Database) -> None:
    """The run keeps epochs done, best val accuracy with its epoch, and the last one."""
    run_id, attempt = running_run(database)
    for epoch, acc in [(1, 0.5), (2, 0.8), (3, 0.7)]:
        with database.begin() as session:
            assert record_epoch(
                session, run_id, attempt, EpochRecord(epoch=epoch, val_accuracy=acc)
            )
    with database.read() as session:
        run = get_run(session, run_id)
    assert run is not None
    assert (run.epochs_done, run.best_val_accuracy, run.best_epoch) == (3, 0.8, 2)
    assert run.last_val_accuracy == 0.7


def test_non_finite_values_are_stored_as_null(database: Database) -> None:
    """NaN and infinity become NULL rather than poisoning charts."""
    run_id, attempt = running_run(database)
    with database.begin() as session:
        record_epoch(
            session, run_id, attempt, EpochRecord(epoch=1, loss=math.nan, accuracy=math.inf)
        )
    with database.read() as session:
        (row,) = load_curves(session, [run_id])
    assert row.loss is None and row.accuracy is None


def test_one_row_per_run_and_epoch(database: Database) -> None:
    """The unique constraint refuses a second row for the same run and epoch."""
    run_id, attempt = running_run(database)
    with database.begin() as session:
        record_epoch(session, run_id, attempt, EpochRecord(epoch=1, loss=1.0))
    with pytest.raises(IntegrityError), database.begin() as session:
        session.execute(insert(EpochMetric).values(run_id=run_id, epoch=1, attempt=attempt))


def test_curves_come_back_in_epoch_order(database: Database) -> None:
    """load_curves returns the run's epochs in order with every metric."""
    run_id, attempt = running_run(database)
    for epoch in (1, 2):
        with database.begin() as session:
            record_epoch(
                session,
                run_id,
                attempt,
                EpochRecord(
                    epoch=epoch, loss=1.0 / epoch, accuracy=0.4 * epoch, learning_rate=0.001
                ),
            )
    with database.read() as session:
        rows = load_curves(session, [run_id])
    assert [r.epoch for r in rows] == [1, 2]
    assert rows[1].loss == 0.5 and rows[1].learning_rate == 0.001


def test_reset_progress_forgets_epochs(database: Database) -> None:
    """A fresh restart deletes the earlier epochs and the summary."""
    run_id, attempt = running_run(database)
    with database.begin() as session:
        record_epoch(session, run_id, attempt, EpochRecord(epoch=1, val_accuracy=0.5))
    with database.begin() as session:
        assert reset_progress(session, run_id, attempt)
    with database.read() as session:
        assert load_curves(session, [run_id]) == []
        run = get_run(session, run_id)
    assert run is not None and run.epochs_done == 0 and run.best_val_accuracy is None
